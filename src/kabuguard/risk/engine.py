"""The risk engine: features of an event, the rules over them, the login model and the
cross-account detector, answering one ``RiskResult`` per event.

Policy is not here: the guard (``guard/services.py``) combines this answer with the
policy's, and ``risk/stream_guard.py`` runs both over a stream of interchange events
(EVENTS.md), live in the simulator's closed loop and offline in ``kabuguard replay``.
State changes only through ``observe``, which the stream guard calls after the decision,
so scoring stays causal: an event's answer uses only what came before it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from kabuguard.domain.assurance import Level
from kabuguard.domain.netinfo import IpRanges, NetInfo
from kabuguard.guard.interfaces import Outcome
from kabuguard.guard.services import RiskResult
from kabuguard.risk.cross_account import CrossAccountDetector
from kabuguard.risk.features import NEVER, Features
from kabuguard.risk.login_risk import LoginObservation, LoginRiskModel
from kabuguard.risk.rules import RuleSet, packaged_rules
from kabuguard.risk.state import DAY_S, NEVER_S, AccountState, SessionState

ILLIQUID_ADV_JPY = 100e6
RISKY_LOGIN = 2.0
BANK_RECENT_S = 7 * DAY_S
JST_OFFSET_S = 9 * 3600
_CACHE_IPS = 65_536

# What a rule's outcome does to the decision.
_OUTCOME = {"allow": Outcome.ALLOW, "challenge": Outcome.CHALLENGE, "hold": Outcome.HOLD,
            "deny": Outcome.DENY, "freeze": Outcome.DENY, "revoke_session": Outcome.DENY,
            "notify": Outcome.ALLOW}
_LEVELS = {"password": Level.PASSWORD, "otp": Level.OTP,
           "phishing_resistant": Level.PHISHING_RESISTANT}
_NOTHING = RiskResult()
_NO_REASONS: frozenset[str] = frozenset()


class SymbolInfo:
    __slots__ = ("adv_jpy", "foreign", "illiquid", "market", "price_jpy")

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.market = str(record.get("market", ""))
        self.adv_jpy = float(record.get("adv_jpy") or 0.0)
        adv_shares = float(record.get("adv_shares") or 0.0)
        # The reference price in yen: ADV in yen over ADV in shares (symbols.jsonl gives
        # the price in the instrument's currency).
        self.price_jpy = (self.adv_jpy / adv_shares if adv_shares > 0
                          else float(record.get("price") or 0.0))
        self.foreign = not self.market.startswith("TSE")
        self.illiquid = self.adv_jpy < ILLIQUID_ADV_JPY


def _epoch(day: str | None) -> float | None:
    if not day:
        return None
    try:
        return datetime.combine(date.fromisoformat(str(day)[:10]), datetime.min.time(),
                                tzinfo=UTC).timestamp()
    except ValueError:
        return None


class RiskEngine:
    """Scores interchange events. One instance holds the state of one stream."""

    def __init__(self, symbols: Mapping[str, Mapping[str, Any]],
                 accounts: Mapping[str, Mapping[str, Any]], *,
                 rules: RuleSet | None = None, ip_ranges: IpRanges | None = None,
                 start_s: float = 0.0) -> None:
        self.symbols = {code: SymbolInfo(rec) for code, rec in symbols.items()}
        self.rules = rules if rules is not None else packaged_rules()
        self.ip_ranges = ip_ranges
        self.logins = LoginRiskModel()
        # One line between "illiquid" for the rules and for the detector.
        self.cross = CrossAccountDetector(symbols, illiquid_adv_jpy=ILLIQUID_ADV_JPY)
        self.accounts: dict[str, AccountState] = {}
        self.alerts: list[dict[str, Any]] = []
        self._net_cache: dict[str, NetInfo] = {}
        for account, rec in accounts.items():
            self._seed(account, rec, start_s)

    # -- reference data ---------------------------------------------------------------

    def _seed(self, account: str, rec: Mapping[str, Any], start_s: float) -> None:
        state = AccountState(home=rec.get("home_country"), opened_s=_epoch(rec.get("opened")),
                             cash=float(rec.get("cash_jpy") or 0.0),
                             methods=frozenset(rec.get("methods_enrolled") or ()),
                             bank=rec.get("bank_account"))
        for holding in rec.get("holdings") or ():
            symbol, qty = holding.get("symbol"), int(holding.get("quantity") or 0)
            if symbol and qty > 0:
                state.add_holding(symbol, qty)
                state.remember_buy(symbol)
                info = self.symbols.get(symbol)
                if info is not None:
                    state.bought_illiquid |= info.illiquid
                    state.bought_foreign |= info.foreign
        self.accounts[account] = state
        devices, networks = rec.get("devices") or [], rec.get("networks") or []
        if devices or networks:
            # The model orders the history by ``last_seen`` itself and needs no time.
            self.logins.seed_account(account, devices=list(devices), networks=list(networks),
                                     home_country=state.home, ts_s=start_s)

    def account(self, account: str) -> AccountState:
        state = self.accounts.get(account)
        if state is None:
            state = self.accounts[account] = AccountState()
        return state

    def netinfo(self, event: Mapping[str, Any]) -> tuple[str | None, int | None, str | None]:
        """Country, ASN and kind of the event's address: the producer's enrichment when
        it gave one, else the firm's address table."""
        country, asn, kind = event.get("ip_country"), event.get("ip_asn"), event.get("ip_kind")
        if (country is None or asn is None or kind is None) and self.ip_ranges is not None:
            ip = event.get("ip") or ""
            info = self._net_cache.get(ip)
            if info is None:
                if len(self._net_cache) >= _CACHE_IPS:
                    self._net_cache.clear()
                info = self._net_cache[ip] = self.ip_ranges.lookup(ip)
            country = country if country is not None else info.country
            asn = asn if asn is not None else info.asn
            kind = kind if kind is not None else info.kind
        return country, asn, kind

    # -- scoring ----------------------------------------------------------------------

    def login_observation(self, event: Mapping[str, Any]) -> LoginObservation:
        country, asn, kind = self.netinfo(event)
        return LoginObservation(ip=event.get("ip") or "", asn=asn, country=country,
                                ip_kind=kind, user_agent=event.get("user_agent"),
                                device=event.get("device"))

    def features(self, event: Mapping[str, Any], ts_s: float,
                 session: SessionState | None, *, login_obs: LoginObservation | None = None,
                 event_level: int = 0) -> Features:
        f = Features()
        etype = event["type"]
        f.type = etype
        f.channel = event.get("channel") or ""
        f.event_level = event_level
        f.hour_jst = int(((ts_s + JST_OFFSET_S) % DAY_S) // 3600)
        account_id = event.get("account")
        acct = self.accounts.get(account_id) if account_id else None
        f.account_known = acct is not None and acct.opened_s is not None
        if acct is not None and acct.opened_s is not None:
            f.account_age_days = (ts_s - acct.opened_s) / DAY_S
        if login_obs is not None:
            country, kind = login_obs.country, login_obs.ip_kind
        else:
            country, _asn, kind = self.netinfo(event)
        f.ip_country = country or ""
        f.ip_kind = kind or ""
        home = acct.home if acct is not None else None
        f.foreign_ip = bool(country and home and country != home)
        if acct is not None:
            # Minutes since each, written out: six calls an event cost more than the rest.
            t = acct.t_bank
            f.mins_since_bank_change = NEVER if t == NEVER_S else (ts_s - t) / 60.0
            t = acct.t_contact
            f.mins_since_contact_change = NEVER if t == NEVER_S else (ts_s - t) / 60.0
            t = acct.t_password
            f.mins_since_password_change = NEVER if t == NEVER_S else (ts_s - t) / 60.0
            t = acct.t_mfa_remove
            f.mins_since_mfa_remove = NEVER if t == NEVER_S else (ts_s - t) / 60.0
            t = acct.t_recovery
            f.mins_since_recovery = NEVER if t == NEVER_S else (ts_s - t) / 60.0
            t = acct.t_risky_login
            f.mins_since_risky_login = NEVER if t == NEVER_S else (ts_s - t) / 60.0
        if session is not None:
            self._session_features(f, event, ts_s, session)
        if etype == "order":
            self._order_features(f, event, acct, ts_s)
        elif etype == "withdrawal":
            amount = float(event.get("amount_jpy") or 0)
            f.amount_jpy = amount
            cash = acct.cash if acct is not None else 0.0
            f.withdraw_share = 1.0 if cash <= 0 else min(1.0, amount / cash)
            f.bank_changed_recently = (acct is not None
                                       and ts_s - acct.t_bank <= BANK_RECENT_S)
        elif etype == "mfa_change":
            f.mfa_change = event.get("change") or ""
            f.mfa_method = event.get("method") or ""
        elif etype == "contact_change":
            f.contact_field = event.get("field") or ""
        return f

    def _session_features(self, f: Features, event: Mapping[str, Any], ts_s: float,
                          session: SessionState) -> None:
        f.session_level = session.level
        f.login_risk = session.login_risk
        f.login_reasons = session.login_reasons
        f.new_device, f.new_ip, f.new_asn = session.new_device, session.new_ip, session.new_asn
        f.new_country, f.new_user_agent = session.new_country, session.new_ua
        f.mins_since_login = (ts_s - session.login_s) / 60.0
        f.session_ip_changed = (event.get("ip") or "") != session.ip
        if f.session_ip_changed:
            e_country, e_asn, _kind = self.netinfo(event)
            f.session_asn_changed = e_asn != session.asn
            f.session_country_changed = e_country != session.country
        f.session_device_changed = event.get("device") != session.device
        f.session_ua_changed = event.get("user_agent") != session.user_agent

    def _order_features(self, f: Features, event: Mapping[str, Any],
                        acct: AccountState | None, ts_s: float) -> None:
        symbol = event.get("symbol") or ""
        side = event.get("side") or ""
        notional = float(event.get("notional_jpy") or 0)
        f.side, f.symbol, f.notional_jpy = side, symbol, notional
        info = self.symbols.get(symbol)
        if info is not None:
            f.market, f.foreign_symbol, f.illiquid = info.market, info.foreign, info.illiquid
            f.adv_jpy = info.adv_jpy
            f.notional_adv = notional / info.adv_jpy if info.adv_jpy > 0 else 1e9
        if acct is None:
            f.notional_vs_history = NEVER
            f.first_buy_of_symbol = side == "buy"
            f.never_bought_illiquid = f.never_bought_foreign = True
            return
        f.notional_vs_history = (notional / acct.max_notional if acct.max_notional > 0
                                 else NEVER)
        f.never_bought_illiquid = not acct.bought_illiquid
        f.never_bought_foreign = not acct.bought_foreign
        if side == "buy":
            f.first_buy_of_symbol = symbol not in acct.bought
            return
        held = acct.holdings.get(symbol, 0)
        qty = int(event.get("quantity") or 0)
        f.sell_share_of_holding = 1.0 if held <= 0 else min(1.0, qty / held)
        sold = notional + sum(v for t, v in acct.sells if ts_s - t <= DAY_S)
        value = self._portfolio_value(acct) + sold - notional
        f.sold_share_24h = 1.0 if value <= 0 else min(1.0, sold / max(value, sold))

    def _portfolio_value(self, acct: AccountState) -> float:
        total = 0.0
        symbols = self.symbols
        for symbol, qty in acct.holdings.items():
            info = symbols.get(symbol)
            if info is not None:
                total += qty * info.price_jpy
        return total

    def score_login(self, event: Mapping[str, Any], ts_s: float) -> tuple[LoginObservation, Any]:
        obs = self.login_observation(event)
        return obs, self.logins.score(event.get("account"), obs, ts_s)

    def assess(self, event: Mapping[str, Any], ts_s: float, session: SessionState | None,
               *, event_level: int = 0, login: tuple[LoginObservation, Any] | None = None,
               cross: bool = True) -> tuple[RiskResult, Features]:
        """Score one event. ``login``: for a login, its observation and LoginRisk
        (``score_login``), whose values stand in for the session's until it exists.
        ``cross=False`` leaves the cross-account detector out (it records every order
        it sees): the read-only answer ``StreamGuard.assess`` gives before an action."""
        f = self.features(event, ts_s, session,
                          login_obs=login[0] if login else None, event_level=event_level)
        score = 0.0
        reasons: list[str] = []
        if login is not None:
            risk = login[1]
            f.login_risk = risk.score
            f.login_reasons = frozenset(risk.reasons) if risk.reasons else _NO_REASONS
            f.new_device, f.new_ip, f.new_asn = risk.new_device, risk.new_ip, risk.new_asn
            f.new_country, f.new_user_agent = risk.new_country, risk.new_user_agent
            f.ip_failures, f.ip_accounts = risk.ip_failures, risk.ip_accounts
            f.asn_failures = risk.asn_failures
            score += max(0.0, risk.score)
            reasons.extend(risk.reasons)
        effects: list[dict[str, Any]] = []
        outcome = Outcome.ALLOW
        if f.type == "order" and f.symbol and cross:
            outcome = self._cross(event, f, ts_s, effects, reasons)
        required: Level | None = None
        shadow: list[str] = []
        account = event.get("account")
        for hit in self.rules.evaluate(f):
            if hit.shadow:
                shadow.append(hit.code)
                continue
            reasons.append(hit.code)
            score += hit.score
            kind = hit.outcome
            outcome = max(outcome, _OUTCOME[kind])
            if kind == "challenge" and hit.level:
                level = _LEVELS[hit.level]
                required = level if required is None else max(required, level)
            elif kind == "freeze" and account:
                effects.append({"type": "freeze_account", "account": account})
            elif kind == "revoke_session" and event.get("session"):
                effects.append({"type": "revoke_session", "session": event["session"]})
            elif kind == "notify" and account:
                effects.append({"type": "notify", "account": account, "template": hit.code})
        if (not reasons and not effects and not shadow and required is None
                and outcome is Outcome.ALLOW and score == 0.0):
            # Nothing to add (most events): one shared answer. No reason means no rule
            # fired and a login score clamped at 0, so this 0.0 is never -0.0.
            return _NOTHING, f
        if len(effects) > 1:  # two rules revoking the same session act once
            effects = list({tuple(e.items()): e for e in effects}.values())
        return RiskResult(outcome=outcome, required_level=required, score=round(score, 3),
                          reasons=tuple(dict.fromkeys(reasons)), effects=tuple(effects),
                          shadow=tuple(shadow)), f

    def _cross(self, event: Mapping[str, Any], f: Features, ts_s: float,
               effects: list[dict[str, Any]], reasons: list[str]) -> Outcome:
        unusual = unusualness(f)
        signal = self.cross.on_order(event.get("account") or "", f.symbol, f.side,
                                     f.notional_jpy, ts_s, unusual)
        f.symbol_pump_score = signal.pump_score
        f.symbol_buyers = signal.buyers
        f.beneficiary_score = signal.beneficiary_score
        if signal.alert is not None:
            self.alerts.append({**signal.alert, "event": event.get("id")})
        if signal.restrict:
            effects.append({"type": "restrict_symbol", "symbol": f.symbol, "side": "buy"})
            reasons.extend(signal.reasons)
            return Outcome.DENY
        reasons.extend(signal.reasons)
        return Outcome.ALLOW

    # -- learning ---------------------------------------------------------------------

    def observe_login(self, account: str | None, ts_s: float, obs: LoginObservation,
                      risk_score: float, outcome: str) -> None:
        """After the decision on a login: the login model learns the attempt. The stream
        guard passes ``success`` only for a login whose session is known to be the
        customer's (allowed, or its challenge passed), and a stopped login as a failure,
        so an attacker's stopped attempt never teaches the account its network."""
        self.logins.observe(account, obs, outcome, ts_s)
        if outcome == "success" and account and risk_score >= RISKY_LOGIN:
            self.account(account).t_risky_login = ts_s

    def observe_action(self, event: Mapping[str, Any], ts_s: float, f: Features) -> None:
        """After the decision on an action that was not stopped: the account's picture."""
        account = event.get("account")
        if not account:
            return
        acct = self.account(account)
        etype = f.type
        if etype == "order":
            _observe_order(acct, event, f, ts_s)
        elif etype == "withdrawal":
            acct.cash = max(0.0, acct.cash - f.amount_jpy)
        elif etype == "deposit":
            acct.cash += float(event.get("amount_jpy") or 0)
        elif etype == "bank_account_change":
            acct.t_bank = ts_s
            acct.bank = event.get("bank_account")
        elif etype == "contact_change":
            acct.t_contact = ts_s
        elif etype == "password_change":
            acct.t_password = ts_s
        elif etype == "recovery":
            acct.t_recovery = ts_s
        elif etype == "mfa_change":
            method = event.get("method") or ""
            if event.get("change") == "remove":
                acct.t_mfa_remove = ts_s
                acct.methods = acct.methods - {method}
            else:
                acct.methods = acct.methods | {method}


def _observe_order(acct: AccountState, event: Mapping[str, Any], f: Features,
                   ts_s: float) -> None:
    symbol, qty = f.symbol, int(event.get("quantity") or 0)
    notional = f.notional_jpy
    acct.max_notional = max(acct.max_notional, notional)
    if f.side == "buy":
        acct.remember_buy(symbol)
        acct.bought_illiquid |= f.illiquid
        acct.bought_foreign |= f.foreign_symbol
        acct.add_holding(symbol, qty)
        acct.cash -= notional
    else:
        acct.add_holding(symbol, -qty)
        acct.sells.append((ts_s, notional))
        acct.cash += notional


def unusualness(f: Features) -> float:
    """How unusual this buyer and session are, 0..1, for the cross-account detector: a
    hijacked session (risky login, new device, a session that moved) weighs most; a
    customer's first small cap adds a little, so a news surge of ordinary customers on
    their own devices stays light."""
    u = 0.0
    if f.login_risk >= RISKY_LOGIN:
        u += 0.5
    elif f.login_risk >= 1.0:
        u += 0.25
    if f.new_device:
        u += 0.2
    if f.session_device_changed or f.session_country_changed or f.session_asn_changed:
        u += 0.35
    if f.foreign_ip:
        u += 0.1
    if f.first_buy_of_symbol and (f.never_bought_illiquid or f.never_bought_foreign):
        u += 0.15
    return min(1.0, u) if not math.isnan(u) else 1.0
