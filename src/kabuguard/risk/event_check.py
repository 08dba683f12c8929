"""Checks one interchange event (EVENTS.md) as the decision API receives it, against
the package's ``events.schema.json`` with the stream reader's compiled validators, and
names the field at fault in the reader's words (``kabuguard.risk.stream.describe``).

Beyond the schema: the producer field ``methods`` on any event must list known
methods, ``ts`` must parse with its UTC offset, and ``id``/``account`` must fit the
event log's columns.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from importlib import resources
from typing import NamedTuple

import fastjsonschema

# The per-type validators the stream reader compiles once (a schema check per event type
# instead of every ``if``), and its wording, so a bad event reads the same from a file
# and from the API.
from kabuguard.risk.stream import _event_validators, describe

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
def _methods() -> tuple[str, ...]:
    text = resources.files("kabuguard.domain").joinpath("events.schema.json").read_text(
        encoding="utf-8")
    return tuple(json.loads(text)["$defs"]["method"]["enum"])


def check_event(event: object) -> Checked | Problem:
    """The event's time if it is a valid event, else the first problem found.

    >>> check_event({"id": "e1", "ts": "2025-04-03T09:15:02+09:00", "type": "logout"}).field
    'account'
    >>> check_event([1]).message
    'an event must be a JSON object (got [1])'
    """
    by_type, whole = _event_validators()
    kind = event.get("type") if type(event) is dict else None
    check = by_type.get(kind, whole) if type(kind) is str else whole
    try:
        check(event)
    except fastjsonschema.JsonSchemaValueException as exc:
        if type(event) is not dict:
            return Problem("", describe(exc).replace("a line must", "an event must"))
        return Problem(_field(exc, event), describe(exc))
    assert isinstance(event, dict)  # noqa: S101 - the schema says "object"
    if len(event["id"]) > MAX_ID_CHARS:
        return Problem("id", f"field 'id' must be at most {MAX_ID_CHARS} characters")
    account = event["account"]
    if account is not None and len(account) > MAX_ACCOUNT_CHARS:
        return Problem("account",
                       f"field 'account' must be at most {MAX_ACCOUNT_CHARS} characters")
    methods = event.get("methods")
    if methods is not None:
        known = _methods()
        if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
            return Problem("methods", "field 'methods' must be a list of method names")
        for i, method in enumerate(methods):
            if method not in known:
                return Problem(f"methods[{i}]", f"field 'methods[{i}]' must be one of "
                                                f"{', '.join(known)} (got {method!r})")
    try:
        ts = datetime.fromisoformat(event["ts"])
    except ValueError:
        ts = None
    if ts is None or ts.tzinfo is None:
        return Problem("ts", f"field 'ts' must be an RFC 3339 time with its UTC offset, "
                             f"e.g. {TS_EXAMPLE} (got {event['ts'][:60]!r})")
    return Checked(ts, ts.timestamp())


def _field(exc: fastjsonschema.JsonSchemaValueException, event: object) -> str:
    """The dotted name of the field at fault (the first missing one for ``required``)."""
    if exc.rule == "required" and isinstance(event, dict):
        parent: object = event
        for part in exc.path[1:]:
            parent = parent[int(part) if isinstance(parent, list) else part]  # type: ignore[index]
        have = parent.keys() if isinstance(parent, dict) else ()
        missing = [k for k in (exc.rule_definition or ()) if k not in have]
        path = [*exc.path[1:], missing[0]] if missing else exc.path[1:]
    else:
        path = exc.path[1:]
    return "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path).lstrip(".")
