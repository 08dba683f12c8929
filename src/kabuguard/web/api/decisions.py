"""Decision API: the guard for a firm's own trading system (issue 5).

Most brokers keep their trading system and call kabuguard from it, as fraud teams call
Sift, Castle or Marble: ``POST /api/v1/events`` sends what happened (one event of the
interchange format, EVENTS.md, or a batch) and answers with the decision, in the
``decisions.jsonl`` shape, from the same StreamGuard ``kabuguard replay`` and the
simulator use; ``POST /api/v1/feedback`` says what followed. Clients authenticate with
API keys (``kabuguard apikey create``).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Literal

import anyio
import orjson
import structlog
from fastapi import APIRouter, Body, Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from kabuguard.container import Services
from kabuguard.domain.errors import InvalidInput, KabuguardError
from kabuguard.risk.api_keys import (
    EVENTS_WRITE,
    FEEDBACK_WRITE,
    ApiKeyInfo,
    ApiKeyService,
    parse_bearer,
)
from kabuguard.risk.decision_log import MAX_BATCH, DecisionLog
from kabuguard.risk.online import AppEventFeed, OnlineRisk
from kabuguard.risk.rules import RuleSet, load_rules, packaged_rules
from kabuguard.risk.stream_guard import StreamGuard

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/api/v1", tags=["decisions"])
MAX_BODY_BYTES = 4 * 1024 * 1024
JSON = "application/json"


class BodyTooLarge(KabuguardError):
    status = 413
    code = "body_too_large"


# -- wiring ---------------------------------------------------------------------------


@dataclass
class DecisionApi:
    keys: ApiKeyService
    log: DecisionLog
    risk: bool


def risk_engine_available() -> bool:
    return importlib.util.find_spec("kabuguard.risk.engine") is not None


@functools.cache
def _packaged_rules() -> RuleSet:
    # Parsed once per process (a RuleSet is read-only): each app, and each rebuild of
    # its guard, would otherwise parse the YAML again (~40 ms).
    return packaged_rules()


def build_decision_api(services: Services) -> DecisionApi:
    """The API keys and the decision log over the app's database, policy and symbol
    master. Customers' history is not preloaded: the engine learns it from the events
    (``accounts`` is empty): those sent here and the app's own. With the engine on,
    the app's guard scores every action with it (``OnlineRisk``) and the app's
    journal feeds it (``AppEventFeed``): one state for both."""
    settings = services.settings
    risk = settings.risk and risk_engine_available()
    if settings.risk and not risk:
        log.warning("decision_api.risk_engine_missing",
                    detail="kabuguard.risk.engine is not installed: deciding by policy only")
    symbols = {code: s.to_interchange() for code, s in services.broker.symbols.items()}
    policy, ip_ranges = services.guard.policy, services.ip_ranges
    rules = None
    if risk:
        rules = load_rules(settings.risk_rules) if settings.risk_rules else _packaged_rules()

    def make_guard() -> StreamGuard:
        return StreamGuard(policy, symbols, {}, risk=risk, rules=rules, ip_ranges=ip_ranges)

    clock = services.identity.clock
    decision_log = DecisionLog(services.db, make_guard=make_guard, clock=clock,
                               tolerance_s=settings.event_reorder_tolerance.total_seconds(),
                               journal=services.journal)
    if risk:
        # The same engine state for the app's own guard (online, before each action)
        # and for its committed events (after each commit): risk/online.py.
        services.guard.risk = OnlineRisk(decision_log)
        services.journal.add_listener(AppEventFeed(decision_log))
    return DecisionApi(
        keys=ApiKeyService(services.db, journal=services.journal, clock=clock),
        log=decision_log, risk=risk)


# -- authentication -------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, scheme_name="ApiKey", description=(
    "An API key from `kabuguard apikey create`: `Authorization: Bearer kg_<prefix>_<secret>`. "
    "APIキーは `kabuguard apikey create` で発行します。"))


def api_key(scope: str) -> Callable[..., Awaitable[ApiKeyInfo]]:
    """A dependency: the calling key, which must hold ``scope`` (401/403 otherwise)."""

    async def dependency(request: Request, _doc: Annotated[
            HTTPAuthorizationCredentials | None, Security(_bearer)]) -> ApiKeyInfo:
        keys: ApiKeyService = request.app.state.decision_api.keys
        # The key's header is never logged (logs.redact drops "authorization" too).
        header = request.headers.get("authorization")
        prefix, key = parse_bearer(header)
        found = keys.cached(prefix) or await anyio.to_thread.run_sync(keys.fetch, prefix)
        return keys.check(found, key, scope)

    return dependency


EventsKey = Annotated[ApiKeyInfo, Depends(api_key(EVENTS_WRITE))]
FeedbackKey = Annotated[ApiKeyInfo, Depends(api_key(FEEDBACK_WRITE))]


# -- documentation models -------------------------------------------------------------


class EventIn(BaseModel):
    """One event of the interchange format (EVENTS.md); the package's
    ``events.schema.json`` is the full contract, with each type's own fields
    (``order``: order_id, symbol, side, quantity, order_type, limit_price, notional_jpy;
    ``withdrawal``: amount_jpy, bank_account; …). Unknown fields are kept and ignored."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=100, description="unique in the stream; a retry "
                    "sends the same id and gets the first answer")
    ts: str = Field(description="RFC 3339 with offset, e.g. 2025-04-03T09:15:02.123+09:00")
    type: Literal["login", "logout", "order", "withdrawal", "bank_account_change",
                  "contact_change", "password_change", "mfa_change", "recovery", "deposit",
                  "customer_report"]
    account: str | None = Field(max_length=64)
    session: str | None
    channel: Literal["web", "app", "api", "backup_site", "call_center"]
    ip: str
    device: str | None
    user_agent: str | None
    methods: list[str] | None = Field(default=None, description=(
        "login: the methods its login used; other events: the step-up completed for "
        "this action before submitting it"))


class EventBatchIn(BaseModel):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH, description=(
        "decided in this order; all are checked before any is decided"))


class DecisionOut(BaseModel):
    """The decisions.jsonl object (EVENTS.md)."""

    id: str
    decision: Literal["allow", "challenge", "hold", "deny"]
    level: Literal["otp", "phishing_resistant"] | None = Field(
        default=None, description="present for a challenge: what the actor must prove")
    score: float = Field(description="higher is riskier")
    reasons: list[str]
    actions: list[dict[str, Any]] = Field(description=(
        "side effects taken: freeze_account, restrict_symbol, revoke_session, notify, …"))
    shadow: list[str] | None = Field(default=None, description=(
        "rules in shadow mode that would have fired (they changed nothing)"))


class BatchOut(BaseModel):
    decisions: list[DecisionOut]
    replayed: int = Field(description="how many were stored answers to earlier calls")


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    event_id: str = Field(min_length=1, max_length=100)
    kind: Literal["challenge_passed", "challenge_failed", "customer_report",
                  "analyst_fraud", "analyst_legit"]
    note: str | None = Field(default=None, max_length=2000)


class FeedbackOut(BaseModel):
    id: str
    event_id: str
    kind: str
    note: str | None
    actions: list[dict[str, Any]]
    created_at: str


class ErrorOut(BaseModel):
    error: str
    message: str
    field: str | None = None
    fields: list[dict[str, str]] | None = None


# -- examples (Japanese and English) --------------------------------------------------

_ORDER = {"id": "ev-20250403-000123", "ts": "2025-04-03T09:15:02.123+09:00", "type": "order",
          "account": "1234567", "session": "s-9f2c", "channel": "web", "ip": "203.0.113.7",
          "device": "dev-51a0", "user_agent": "Mozilla/5.0", "order_id": "ord-88121",
          "symbol": "7203", "side": "sell", "quantity": 500, "order_type": "market",
          "limit_price": None, "notional_jpy": 1_450_000}
_LOGIN = {"id": "ev-20250403-000120", "ts": "2025-04-03T09:14:40+09:00", "type": "login",
          "account": "1234567", "session": "s-9f2c", "channel": "web", "ip": "203.0.113.7",
          "device": "dev-51a0", "user_agent": "Mozilla/5.0", "login_id": "h:5e1b…",
          "outcome": "success", "methods": ["password", "email_otp"]}
_WITHDRAWAL = {"id": "ev-20250403-000131", "ts": "2025-04-03T09:16:10+09:00",
               "type": "withdrawal", "account": "1234567", "session": "s-9f2c",
               "channel": "web", "ip": "203.0.113.7", "device": "dev-51a0",
               "user_agent": "Mozilla/5.0", "amount_jpy": 900_000, "bank_account": "bk-77d1"}

EVENT_EXAMPLES = {
    "order_ja": {"summary": "注文イベント（成行売り）",
                 "description": "ログイン済みセッションからの成行売り注文を1件送ります。"
                                "判定は decisions.jsonl と同じ形で返ります。",
                 "value": _ORDER},
    "order_en": {"summary": "An order event (market sell)",
                 "description": "One market sell from a logged-in session; the answer is "
                                "the decisions.jsonl object.",
                 "value": _ORDER},
    "login_ja": {"summary": "ログイン（パスワード＋メールのワンタイムコード）",
                 "value": _LOGIN},
    "login_en": {"summary": "A login (password and e-mail one-time code)", "value": _LOGIN},
    "batch_ja": {"summary": "まとめて送信（最大1,000件、この順に判定）",
                 "description": "全件を検査してから判定します。1件でも不正なら何も保存しません。",
                 "value": {"events": [_LOGIN, _ORDER, _WITHDRAWAL]}},
    "batch_en": {"summary": "A batch (up to 1,000, decided in this order)",
                 "description": "Every event is checked before any is decided; one bad "
                                "event and nothing is stored.",
                 "value": {"events": [_LOGIN, _ORDER, _WITHDRAWAL]}},
}

_ALLOW = {"id": "ev-20250403-000123", "decision": "allow", "score": 0.4, "reasons": [],
          "actions": []}
_CHALLENGE = {"id": "ev-20250403-000131", "decision": "challenge", "level": "phishing_resistant",
              "score": 2.7, "reasons": ["new_device", "withdrawal_after_bank_change"],
              "actions": []}
DECISION_EXAMPLES = {
    "allow_ja": {"summary": "許可：そのまま処理してください", "value": _ALLOW},
    "allow_en": {"summary": "Allowed: go ahead", "value": _ALLOW},
    "challenge_ja": {"summary": "追加認証：パスキーでの確認を求めてください（結果は /feedback へ）",
                     "value": _CHALLENGE},
    "challenge_en": {"summary": "Challenge: ask for a passkey confirmation (report the "
                                "outcome to /feedback)", "value": _CHALLENGE},
    "batch_ja": {"summary": "まとめて送信した場合（送った順）",
                 "value": {"decisions": [_ALLOW, _CHALLENGE], "replayed": 0}},
    "batch_en": {"summary": "The answer to a batch (in the order sent)",
                 "value": {"decisions": [_ALLOW, _CHALLENGE], "replayed": 0}},
}

FEEDBACK_EXAMPLES = {
    "challenge_failed_ja": {"summary": "追加認証に失敗した（そのセッションは以後すべて拒否）",
                            "value": {"event_id": "ev-20250403-000131",
                                      "kind": "challenge_failed"}},
    "challenge_failed_en": {"summary": "The challenge failed (the session is stopped)",
                            "value": {"event_id": "ev-20250403-000131",
                                      "kind": "challenge_failed"}},
    "customer_report_ja": {"summary": "お客さまから「身に覚えがない」との申告（口座を凍結）",
                           "value": {"event_id": "ev-20250403-000123",
                                     "kind": "customer_report",
                                     "note": "コールセンター受付 #5521"}},
    "customer_report_en": {"summary": "The customer says it was not them (account frozen)",
                           "value": {"event_id": "ev-20250403-000123",
                                     "kind": "customer_report", "note": "call centre #5521"}},
    "analyst_fraud_ja": {"summary": "分析担当の判定：不正", "value": {
        "event_id": "ev-20250403-000123", "kind": "analyst_fraud", "note": "フィッシング経由"}},
    "analyst_fraud_en": {"summary": "Analyst's verdict: fraud", "value": {
        "event_id": "ev-20250403-000123", "kind": "analyst_fraud", "note": "phishing relay"}},
    "analyst_legit_ja": {"summary": "分析担当の判定：正当（本人確認済み）", "value": {
        "event_id": "ev-20250403-000123", "kind": "analyst_legit", "note": "電話で本人確認"}},
    "analyst_legit_en": {"summary": "Analyst's verdict: legitimate", "value": {
        "event_id": "ev-20250403-000123", "kind": "analyst_legit",
        "note": "customer confirmed by phone"}},
}

_ERRORS = {
    401: {"model": ErrorOut, "description": "no key, an unknown key or a revoked key / "
                                            "APIキーがない、不正、または失効済み"},
    403: {"model": ErrorOut, "description": "the key lacks the scope / スコープ不足"},
    422: {"model": ErrorOut, "description": "an invalid event, naming the field / "
                                            "不正なイベント（項目名を示します）"},
}

_event_schema = EventIn.model_json_schema()
_EVENTS_BODY = {"requestBody": {"required": True, "content": {JSON: {
    "schema": {"oneOf": [_event_schema, {
        "title": "EventBatch", "type": "object", "required": ["events"],
        "properties": {"events": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH,
                                  "items": _event_schema}}}]},
    "examples": EVENT_EXAMPLES}}}}


# -- routes ---------------------------------------------------------------------------


def _api(request: Request) -> DecisionApi:
    return request.app.state.decision_api


@router.post(
    "/events", summary="Decide events / イベントを判定する", openapi_extra=_EVENTS_BODY,
    response_model=None,
    responses={200: {"model": DecisionOut | BatchOut, "description": (
        "The decision (or, for a batch, the decisions in order). A retried id answers the "
        "stored decision with the header `Idempotent-Replayed: true`. / 判定結果。同じ id の再送には"
        "最初の判定を `Idempotent-Replayed: true` を付けて返します。"),
        "content": {JSON: {"examples": DECISION_EXAMPLES}}},
        409: {"model": ErrorOut, "description": "a known id sent with other content / "
                                                "同じ id で内容が異なる"},
        413: {"model": ErrorOut, "description": "body over 4 MiB"},
        **_ERRORS})
async def post_events(request: Request, key: EventsKey) -> Response:
    """Decide one event, or a batch ``{"events": [...]}`` of up to 1,000 in order, with
    the engine's state of every event decided before (the same decisions as
    ``kabuguard replay`` over the same stream). Each event and its decision are stored
    before the answer. An event more than the tolerance (5 minutes by default) before
    the latest one accepted is refused: the engine decides in arrival order.

    1件のイベント、または `{"events": [...]}`（最大1,000件、送った順に判定）を判定します。
    判定と同時にイベントと判定結果を保存し、再起動後も状態を復元します。"""
    api = _api(request)
    if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
        raise _too_large()
    data = _parse(await request.body())
    batch = isinstance(data, dict) and "events" in data and "type" not in data
    if batch:
        events = data["events"]
        if not isinstance(events, list):
            raise InvalidInput("events must be a list of events", field="events")
    else:
        events = [data]
    answers = await anyio.to_thread.run_sync(partial(
        api.log.decide, events, batch=batch, api_key_id=key.id,
        on_write=partial(api.keys.touch, key=key)))
    if not batch:
        answer = answers[0]
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
        return Response(answer.body, media_type=JSON, headers=headers)
    replayed = sum(a.replayed for a in answers)
    body = b'{"decisions":[' + b",".join(a.body for a in answers) + (
        b'],"replayed":%d}' % replayed)
    headers = {"Idempotent-Replayed": "true"} if replayed == len(answers) else None
    return Response(body, media_type=JSON, headers=headers)


@router.post("/feedback", status_code=201, summary="Report what followed / その後の結果を伝える",
             response_model=FeedbackOut, responses={404: {"model": ErrorOut}, **_ERRORS,
                                                    409: {"model": ErrorOut}})
def post_feedback(request: Request, key: FeedbackKey, body: Annotated[
        FeedbackIn, Body(openapi_examples=FEEDBACK_EXAMPLES)]) -> dict[str, Any]:
    """What followed a decided event: `challenge_passed` / `challenge_failed` (the
    outcome of the challenge the decision asked for: a failed one stops the session),
    `customer_report` (the customer says it was not them: the account is frozen),
    `analyst_fraud` / `analyst_legit` (stored for the operations console).

    判定後に起きたことを伝えます。追加認証の失敗でセッションを停止し、お客さまの申告で口座を
    凍結します。分析担当の判定は保存され、管理画面で参照されます。"""
    api = _api(request)
    return api.log.feedback(body.event_id, body.kind, note=body.note, api_key_id=key.id,
                            actor=f"api_key:{key.prefix}",
                            on_write=partial(api.keys.touch, key=key))


def _parse(raw: bytes) -> Any:
    if len(raw) > MAX_BODY_BYTES:
        raise _too_large()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"The body is not JSON: {exc}", field="") from None


def _too_large() -> BodyTooLarge:
    return BodyTooLarge(f"The body is over {MAX_BODY_BYTES // (1024 * 1024)} MiB; "
                        f"send at most {MAX_BATCH} events a call.")
