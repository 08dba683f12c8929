"""Checks one interchange event (EVENTS.md) as the decision API receives it, against
the package's ``events.schema.json`` (compiled once with fastjsonschema), and names
the field at fault in words a developer at the firm can act on.

Beyond the schema: the producer field ``methods`` on any event must list known
methods, ``ts`` must parse with its UTC offset, and ``id``/``account`` must fit the
event log's columns.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from importlib import resources
from typing import Any, NamedTuple

import fastjsonschema

MAX_ID_CHARS = 100
MAX_ACCOUNT_CHARS = 64
TS_EXAMPLE = "2025-04-03T09:15:02.123+09:00"


class Problem(NamedTuple):
    """What is wrong with an event: the field (dotted, ``""`` for the whole event)
    and a sentence naming it."""

    field: str
    message: str


class Checked(NamedTuple):
    ts: datetime
    ts_s: float


@functools.cache
def _schema() -> dict[str, Any]:
    text = resources.files("kabuguard.domain").joinpath("events.schema.json").read_text(
        encoding="utf-8")
    return json.loads(text)


@functools.cache
def _validator() -> Callable[[Any], Any]:
    schema = _schema()
    # The relative $id would make fastjsonschema resolve the local $refs as URLs
    # (and fetch them); without it they resolve inside this document.
    schema = {k: v for k, v in schema.items() if k != "$id"}
    return fastjsonschema.compile(schema)


@functools.cache
def _methods() -> tuple[str, ...]:
    return tuple(_schema()["$defs"]["method"]["enum"])


_KINDS = {"object": "a JSON object", "array": "a list", "string": "a string",
          "integer": "an integer", "number": "a number", "boolean": "true or false",
          "null": "null"}


def check_event(event: object) -> Checked | Problem:
    """The event's time if it is a valid event, else the first problem found.

    >>> check_event({"id": "e1"}).message
    'ts, type, account, session, channel, ip, device, user_agent are required'
    """
    try:
        _validator()(event)
    except fastjsonschema.JsonSchemaValueException as exc:
        return _problem(exc, event)
    assert isinstance(event, dict)  # noqa: S101 - the schema says "object"
    if len(event["id"]) > MAX_ID_CHARS:
        return Problem("id", f"id must be at most {MAX_ID_CHARS} characters")
    account = event["account"]
    if account is not None and len(account) > MAX_ACCOUNT_CHARS:
        return Problem("account", f"account must be at most {MAX_ACCOUNT_CHARS} characters")
    methods = event.get("methods")
    if methods is not None:
        known = _methods()
        if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
            return Problem("methods", "methods must be a list of method names")
        for i, method in enumerate(methods):
            if method not in known:
                return Problem(f"methods[{i}]",
                               f"methods[{i}] must be one of {', '.join(known)}")
    try:
        ts = datetime.fromisoformat(event["ts"])
    except ValueError:
        ts = None
    if ts is None or ts.tzinfo is None:
        return Problem("ts", f"ts must be an RFC 3339 time with its offset, e.g. {TS_EXAMPLE}")
    return Checked(ts, ts.timestamp())


def _problem(exc: fastjsonschema.JsonSchemaValueException, event: object) -> Problem:
    field = ".".join(p if not p.isdigit() else f"[{p}]" for p in exc.path[1:]).replace(".[", "[")
    rule, definition = exc.rule, exc.rule_definition
    if rule == "required" and isinstance(event, Mapping):
        missing = [name for name in definition if name not in event]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            return Problem(missing[0], f"{', '.join(missing)} {verb} required")
    name = field or "the event"
    if rule == "enum":
        return Problem(field, f"{name} must be one of {', '.join(map(str, definition))}")
    if rule == "type":
        kinds = definition if isinstance(definition, list) else [definition]
        return Problem(field, f"{name} must be {' or '.join(_KINDS.get(k, k) for k in kinds)}")
    if rule == "format" and field == "ts":
        return Problem(field, f"ts must be an RFC 3339 time with its offset, e.g. {TS_EXAMPLE}")
    return Problem(field, str(exc.message).replace("data.", "", 1).replace("data ", f"{name} ", 1))
