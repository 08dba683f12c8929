"""Read and write the JSON Lines files of the interchange format (shared/spec/EVENTS.md).

Every line is checked against the format before the engine sees it, and a bad line
stops the read with a message a person can act on::

    events.jsonl:12: field 'side' must be one of buy, sell (got 'BUY')

Events are checked against ``domain/events.schema.json`` (the package copy of
shared/spec/events.schema.json) with fastjsonschema; the reference files (symbols,
accounts, labels, decisions) against the required fields EVENTS.md lists for them.
Blank lines are skipped everywhere.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self

import fastjsonschema
import orjson

Validator = Callable[[Any], Any]

MARKETS = ["TSE_PRIME", "TSE_STANDARD", "TSE_GROWTH", "SSE", "SZSE", "HKEX", "NYSE", "NASDAQ"]
LEVELS = ["password", "otp", "phishing_resistant"]
DECISIONS = ["allow", "challenge", "hold", "deny"]
ACTIONS = ["freeze_account", "unfreeze_account", "restrict_symbol", "lift_restriction",
           "revoke_session", "notify"]


class StreamError(ValueError):
    """A line of an interchange file that cannot be used: ``"{path}:{line}: {reason}"``."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


# --- schemas -------------------------------------------------------------------------

def _no_remote_refs(uri: str) -> Any:
    # fastjsonschema fetches unknown $ref URIs with urlopen; our schemas are self-contained,
    # so any such lookup is a bug and must never reach the network.
    msg = f"schema refers outside itself: {uri}"
    raise fastjsonschema.JsonSchemaDefinitionException(msg)


_NO_REMOTE = {scheme: _no_remote_refs for scheme in ("", "http", "https", "file", "ftp")}


def _compile(schema: dict[str, Any]) -> Validator:
    # ``ts`` and dates are parsed by us (stricter and faster than format regexes).
    return fastjsonschema.compile(schema, handlers=_NO_REMOTE, use_formats=False)


@functools.cache
def _event_validators() -> tuple[dict[str, Validator], Validator]:
    """One validator per event type, and the whole schema for lines of no known type.

    The schema's ``allOf`` is the common part plus one ``if type == T then ...`` per type;
    fastjsonschema evaluates every ``if`` by raising and catching an exception, which
    costs more than the rest of the check, so each type gets the schema with its own
    ``then`` only. Conditions of any other form are kept for every type.
    """
    text = resources.files("kabuguard.domain").joinpath("events.schema.json").read_text("utf-8")
    schema = json.loads(text)
    # The relative $id ("kabuguard/events/v1") sends fastjsonschema's resolver to the
    # network for "#/$defs/..." refs; the refs are local, so resolve them without it.
    schema.pop("$id", None)
    per_type: dict[str, list[dict[str, Any]]] = {}
    shared: list[dict[str, Any]] = []
    for part in schema["allOf"]:
        const = part.get("if", {}).get("properties", {}).get("type", {}).get("const")
        if const is not None and set(part) == {"if", "then"}:
            per_type.setdefault(const, []).append(part["then"])
        else:
            shared.append(part)
    types = schema["$defs"]["common"]["properties"]["type"]["enum"]
    defs = schema["$defs"]
    validators = {t: _compile(_inline_refs(schema | {"allOf": shared + per_type.get(t, [])}, defs))
                  for t in types}
    return validators, _compile(schema)


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with every bare ``{"$ref": "#/$defs/X"}`` replaced by a copy of X: the
    same schema, but fastjsonschema then checks it in line instead of calling a function
    that formats the item's name with ``locals()`` (a login's ``methods`` cost a
    quarter of its check). Values of ``enum`` and ``const`` are data, left as they are."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if len(node) == 1 and isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: v if k in ("enum", "const") else _inline_refs(v, defs)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


_STR = {"type": "string"}
_STR_OR_NULL = {"type": ["string", "null"]}
_ID = {"type": "string", "minLength": 1}
_AMOUNT = {"type": "number", "minimum": 0}
_METHOD = {"enum": ["password", "email_otp", "sms_otp", "totp", "emoji", "app_push",
                    "phone_call", "passkey", "pki"]}

SYMBOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["symbol", "market", "name", "currency", "price", "adv_shares", "adv_jpy",
                 "market_cap_jpy"],
    "properties": {
        "symbol": _ID, "market": {"enum": MARKETS}, "name": _STR,
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "price": {"type": "number", "exclusiveMinimum": 0},
        "adv_shares": _AMOUNT, "adv_jpy": _AMOUNT, "market_cap_jpy": _AMOUNT,
        "lot_size": {"type": "integer", "minimum": 1},
    },
}
ACCOUNT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["account", "opened", "methods_enrolled", "cash_jpy", "holdings", "home_country"],
    "properties": {
        "account": _ID, "opened": _STR,
        "methods_enrolled": {"type": "array", "items": _METHOD},
        "cash_jpy": {"type": "integer"},
        "holdings": {"type": "array", "items": {
            "type": "object", "required": ["symbol", "quantity"],
            "properties": {"symbol": _ID, "quantity": {"type": "integer", "minimum": 0}}}},
        "home_country": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "devices": {"type": "array", "items": {
            "type": "object", "required": ["device"],
            "properties": {"device": _STR, "user_agent": _STR_OR_NULL, "last_seen": _STR_OR_NULL}}},
        "networks": {"type": "array", "items": {
            "type": "object", "required": ["ip"],
            "properties": {"ip": _STR, "ip_asn": {"type": ["integer", "null"]},
                           "ip_country": _STR_OR_NULL, "ip_kind": _STR_OR_NULL,
                           "last_seen": _STR_OR_NULL}}},
        "bank_account": _STR_OR_NULL,
    },
}
LABEL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "fraud", "campaign", "attack", "can_pass"],
    "properties": {
        "id": _ID, "fraud": {"type": "boolean"}, "campaign": _STR_OR_NULL,
        "attack": _STR_OR_NULL, "can_pass": {"type": "array", "items": {"enum": LEVELS}},
    },
}
DECISION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "decision", "reasons", "actions"],
    "properties": {
        "id": _ID, "decision": {"enum": DECISIONS},
        "level": {"enum": [*LEVELS, None]},
        "score": {"type": ["number", "null"]},
        "reasons": {"type": "array", "items": _STR},
        "actions": {"type": "array", "items": {
            # No ``side`` on a restriction: both sides (kabuguard.risk.evaluate).
            "type": "object", "required": ["type"],
            "properties": {"type": {"enum": ACTIONS}, "account": _STR_OR_NULL,
                           "symbol": _STR_OR_NULL, "session": _STR_OR_NULL,
                           "side": {"enum": ["buy", "sell"]}, "template": _STR}}},
    },
}


@functools.cache
def _reference_validator(kind: str) -> Validator:
    schema = {"symbol": SYMBOL_SCHEMA, "account": ACCOUNT_SCHEMA, "label": LABEL_SCHEMA,
              "decision": DECISION_SCHEMA}[kind]
    return _compile(schema)


# --- messages ------------------------------------------------------------------------

_TYPE_NAMES = {"string": "a string", "integer": "an integer", "number": "a number",
               "boolean": "true or false", "array": "a list", "object": "an object",
               "null": "null"}


def _show(value: Any) -> str:
    """A value as the message quotes it.

    >>> _show("BUY"), _show(None), _show(True), _show([1, 2])
    ("'BUY'", 'null', 'true', '[1,2]')
    """
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= 60 else text[:57] + "..."


def describe(exc: fastjsonschema.JsonSchemaValueException) -> str:
    """Turn fastjsonschema's ``data.side must be one of [...]`` into a person's sentence."""
    field = (exc.name or "data").removeprefix("data").lstrip(".")
    definition = exc.definition or {}
    rule, value = exc.rule, exc.value
    got = f" (got {_show(value)})"
    if rule == "required":
        have = value.keys() if isinstance(value, dict) else ()
        missing = [k for k in definition.get("required", ()) if k not in have]
        names = ", ".join(f"'{field + '.' if field else ''}{k}'" for k in missing)
        return f"missing field{'s' if len(missing) > 1 else ''} {names}"
    if not field:
        return f"a line must be a JSON object (got {_show(value)})" if rule == "type" else \
            str(exc.message)
    subject = f"field '{field}'"
    if rule == "enum":
        allowed = ", ".join("null" if v is None else str(v) for v in definition["enum"])
        return f"{subject} must be one of {allowed}{got}"
    if rule == "type":
        types = definition["type"] if isinstance(definition["type"], list) else [definition["type"]]
        return f"{subject} must be {' or '.join(_TYPE_NAMES.get(t, t) for t in types)}{got}"
    if rule == "minimum":
        return f"{subject} must be at least {definition['minimum']}{got}"
    if rule == "exclusiveMinimum":
        return f"{subject} must be more than {definition['exclusiveMinimum']}{got}"
    if rule == "minLength":
        return f"{subject} must not be empty"
    if rule == "pattern":
        return f"{subject} must match {definition['pattern']}{got}"
    return f"{subject}: {exc.message.removeprefix('data.')}"


# --- readers -------------------------------------------------------------------------

def _explain(event: Any, whole: Validator) -> str:
    """Why ``event`` is not an event (for lines read without validation)."""
    try:
        whole(event)
    except fastjsonschema.JsonSchemaValueException as exc:
        return describe(exc)
    return "not an event"  # pragma: no cover - a valid event has a usable ts and id


def iter_events(path: str | Path, *, validate: bool = True) -> Iterator[dict[str, Any]]:
    """Yield the events of an ``events.jsonl`` file, each with ``"_ts"`` (epoch seconds).

    Raises StreamError at the first line that is not JSON, breaks the schema, has a ``ts``
    without offset or earlier than the line before, or repeats an earlier ``id``;
    OSError when the file cannot be read. ``validate=False`` skips the schema (three
    quarters of the time) for files kabuguard wrote itself, and keeps the other checks.
    Memory: one dict entry per id (to find repeats).
    """
    by_type, whole = _event_validators()
    name = str(path)
    # Locals: this loop runs once per event.
    loads, decode_error, parse = orjson.loads, orjson.JSONDecodeError, datetime.fromisoformat
    invalid = fastjsonschema.JsonSchemaValueException
    first_line: dict[str, int] = {}
    last_s, last_text = float("-inf"), ""
    with open(path, "rb") as lines:
        for lineno, raw in enumerate(lines, 1):
            try:
                event = loads(raw)
            except decode_error as exc:
                if not raw.strip():
                    continue
                raise StreamError(name, lineno, f"not JSON: {exc.msg} at column {exc.colno}") from None
            if validate:
                kind = event.get("type") if type(event) is dict else None
                check = by_type.get(kind, whole) if type(kind) is str else whole
                try:
                    check(event)
                except invalid as exc:
                    raise StreamError(name, lineno, describe(exc)) from None
            try:
                text = event["ts"]
                when = parse(text)
                first = first_line.setdefault(event["id"], lineno)
            except ValueError:
                raise StreamError(name, lineno, f"ts is not an RFC 3339 time (got {_show(text)})") from None
            except (KeyError, TypeError, IndexError):  # only without validation
                raise StreamError(name, lineno, _explain(event, whole)) from None
            if when.tzinfo is None:
                raise StreamError(name, lineno, f"ts has no UTC offset (got {_show(text)})")
            ts_s = when.timestamp()
            if ts_s < last_s:
                raise StreamError(name, lineno, f"ts goes back in time ({text} after {last_text})")
            if first != lineno:
                raise StreamError(name, lineno, f"duplicate id {_show(event['id'])} (first on line {first})")
            event["_ts"] = last_s = ts_s
            last_text = text
            yield event


def _read_keyed(path: str | Path, kind: str, key: str,
                check: Callable[[dict[str, Any]], str | None] | None = None) -> dict[str, dict[str, Any]]:
    validate = _reference_validator(kind)
    name = str(path)
    out: dict[str, dict[str, Any]] = {}
    first_line: dict[str, int] = {}
    with open(path, "rb") as lines:
        for lineno, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise StreamError(name, lineno, f"not JSON: {exc.msg} at column {exc.colno}") from None
            try:
                validate(record)
            except fastjsonschema.JsonSchemaValueException as exc:
                raise StreamError(name, lineno, describe(exc)) from None
            problem = check(record) if check else None
            if problem:
                raise StreamError(name, lineno, problem)
            value = record[key]
            if value in out:
                raise StreamError(name, lineno,
                                  f"duplicate {key} {_show(value)} (first on line {first_line[value]})")
            out[value] = record
            first_line[value] = lineno
    return out


def read_symbols(path: str | Path) -> dict[str, dict[str, Any]]:
    """The ``symbols.jsonl`` records by symbol. Raises StreamError or OSError."""
    return _read_keyed(path, "symbol", "symbol")


def _check_account(record: dict[str, Any]) -> str | None:
    try:
        date.fromisoformat(record["opened"])
    except ValueError:
        return f"field 'opened' must be a date YYYY-MM-DD (got {_show(record['opened'])})"
    return None


def read_accounts(path: str | Path) -> dict[str, dict[str, Any]]:
    """The ``accounts.jsonl`` records by account. Raises StreamError or OSError."""
    return _read_keyed(path, "account", "account", _check_account)


def read_labels(path: str | Path) -> dict[str, dict[str, Any]]:
    """The ``labels.jsonl`` records by event id. Raises StreamError or OSError."""
    return _read_keyed(path, "label", "id")


def _check_decision(record: dict[str, Any]) -> str | None:
    if record["decision"] == "challenge" and not record.get("level"):
        return "a challenge needs field 'level' (" + ", ".join(LEVELS) + ")"
    return None


def read_decisions(path: str | Path) -> dict[str, dict[str, Any]]:
    """The ``decisions.jsonl`` records by event id. Raises StreamError or OSError."""
    return _read_keyed(path, "decision", "id", _check_decision)


# --- writer --------------------------------------------------------------------------

class JsonlWriter:
    """Write one JSON object a line (UTF-8, compact, non-ASCII kept as is).

    >>> import io
    >>> buffer = io.BytesIO()
    >>> with JsonlWriter(buffer) as out:
    ...     out.write({"id": "e1", "name": "トヨタ"})
    >>> buffer.getvalue().decode()
    '{"id":"e1","name":"トヨタ"}\\n'
    """

    def __init__(self, target: str | Path | BinaryIO) -> None:
        if isinstance(target, str | Path):
            self._file: BinaryIO = open(target, "wb")  # noqa: SIM115 - closed by __exit__/close
            self._owned = True
        else:
            self._file, self._owned = target, False
        self.count = 0

    def write(self, obj: Any) -> None:
        """Append ``obj`` as one line. Raises TypeError for values JSON cannot hold."""
        self._file.write(orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE))
        self.count += 1

    def close(self) -> None:
        if self._owned:
            self._file.close()
        else:
            self._file.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
