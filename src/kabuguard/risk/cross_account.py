"""Cross-account detection: many hijacked accounts buying one illiquid symbol (a pump),
and the accounts that bought it beforehand and sell into it (the beneficiaries).

In spring 2025 crews used hijacked Japanese brokerage accounts to buy illiquid Chinese
and Japanese small caps while accounts of their own, bought in earlier, sold into the
rise; brokers answered with buy-stop lists (CASE.md "How", step 3, and "What brokers
did"; the FSA guideline of 2025-10-15 asks for behaviour detection). Per symbol,
:class:`CrossAccountDetector` keeps

- a sliding window (``window_s``) of the distinct accounts that bought it, each with the
  largest ``unusual`` of its buys in the window and their notional;
- an EWMA of its distinct buyers per JST day (days of a pump excluded), so a symbol that
  fifty customers buy every day is not a surge at fifty;
- a ledger of the accounts that bought it with ordinary sessions in the last
  ``lookback_s`` (the candidates for beneficiaries).

**Score.** Each buyer weighs ``w = clip((unusual - 0.4) / 0.4, 0, 1)``: ordinary
customers on known devices weigh nothing, a hijacked-looking session weighs up to 1.
With ``N`` distinct buyers in the window, ``W`` the sum of their weights and ``B`` the
buyers a window usually sees (baseline per day x window share of a 5-hour trading day)::

    pump_score = liquidity * max(0, W - ordinary_weight * max(N, B))
    liquidity  = min(4, sqrt(illiquid_adv_jpy / adv_jpy))

so a news surge (hundreds of buyers, nearly all ordinary) stays near 0 and a handful of
hijacked sessions in a thin symbol scores high; the same crowd counts ~50x less in a
symbol trading ¥5bn a day than in one trading ¥2m. A symbol *crosses* into pump state
when ``pump_score >= pump_threshold`` with at least ``min_unusual_buyers`` buyers at
``unusual >= unusual_level``. Restrictable symbols (``adv_jpy < illiquid_adv_jpy``, a
foreign small cap under ``foreign_small_cap_jpy`` market cap, or a symbol missing from
the reference data) then get ``restrict=True`` on the crossing event only; liquid
symbols are never restricted and raise an informational alert only at
``liquid_alert_factor`` times the threshold. The pump state lasts ``hot_s`` after the
last qualifying buy; a later crossing starts a new episode (and restricts again).

**Beneficiaries.** While the symbol is in pump state, a sell by an account of the ledger
that first bought before the pump started scores
``timing * (0.3 + 0.7 * sqrt(sold / pumped))`` (``pumped``: the weighted buy notional of
the pump; ``timing`` 1 for a buy up to 7 days before, falling to 0.3 at ``lookback_s``)
and is flagged ``pump_beneficiary`` at ``beneficiary_threshold`` (0.35: a buy of the week
before the pump always is; one 20 days before must sell 16% of the pumped notional).
Sells during a news surge, or by accounts whose buys of the symbol were themselves
unusual, score 0. A *news surge* (reason ``news_surge``, one informational alert) is at
least ``surge_min_buyers`` buyers (more in liquid symbols: divided by ``liquidity``)
and ``surge_factor`` times the usual window's, nearly all ordinary.

**Memory bounds** (per symbol; there is no per-account state beyond these entries, so an
account costs at most one window entry and one ledger entry per symbol it bought):

- window: at most ``max_window_buyers`` (512) buyer entries. When full, the oldest
  ordinary buyer is evicted first (then the oldest weighted one), so a flood of ordinary
  buyers cannot push the evidence out; an evicted buyer is folded into a per-time
  overflow bucket (at most 34 buckets of ``window_s / 32``) so ``N``, ``W`` and the
  unusual count stay right until it would have left the window (an evicted account that
  buys again in the window counts twice);
- ledger: at most ``max_prior_buyers`` (256) accounts, least recently buying evicted
  first; no new account enters it while the symbol is in pump state;
- a symbol with no order for ``lookback_s + hot_s`` is dropped (one sweep over the
  symbols at the first order of each JST day: O(symbols) a day, O(1) amortised).

Every operation of :meth:`CrossAccountDetector.on_order` is O(1) amortised (the crossing
itself sorts the window once). Deterministic (no clocks, no randomness, ordered dicts)
and causal: a signal depends only on the orders fed before it and on the reference data.
Times are float epoch seconds; a time earlier than one already seen is taken as the
latest seen.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Mapping
from typing import Any, NamedTuple

DAY_S = 86_400.0
JST_OFFSET_S = 9 * 3_600.0
TRADING_DAY_S = 5 * 3_600.0       # TSE 9:00-11:30 and 12:30-15:30, rounded down
WEIGHT_FLOOR = 0.4                # unusual at or below: an ordinary buyer, weight 0
WEIGHT_FULL = 0.8                 # unusual at or above: weight 1
MAX_LIQUIDITY = 4.0               # thinner than ADV = illiquid_adv_jpy / 16 counts the same
BASELINE_ALPHA = 2.0 / 21.0       # EWMA over ~20 trading days, as an ADV is
OVERFLOW_BUCKETS = 32             # time buckets per window for evicted buyers
TOP_ACCOUNTS = 20                 # accounts listed in an alert
EARLY_BUY_S = 7 * DAY_S           # buying up to a week before a pump is positioning
LATE_TIMING = 0.3                 # timing factor of a buy lookback_s before the pump
SURGE_MAX_WEIGHT_SHARE = 0.25     # a news surge is a crowd of mostly ordinary buyers

PUMP_BENEFICIARY = "pump_beneficiary"
_ILLIQUID_SURGE = ("illiquid_buy_surge",)
_LIQUID_SURGE = ("liquid_buy_surge",)
_NEWS_SURGE = ("news_surge",)
_BENEFICIARY = (PUMP_BENEFICIARY,)
_NONE: tuple[str, ...] = ()
_INF = math.inf
_WEIGHT_SCALE = 1.0 / (WEIGHT_FULL - WEIGHT_FLOOR)

# Window entries and ledger entries are small lists, not objects: one is made for nearly
# every order and a list costs a fifth of a slotted instance to create.
# window entry: [first_s, last_s, notional, unusual, weight]
# ledger entry: [first_s, last_s, bought, sold]
_FIRST, _LAST, _NOTIONAL, _UNUSUAL, _WEIGHT = range(5)
_BOUGHT, _SOLD = 2, 3


class CrossSignal(NamedTuple):
    """What one order tells about its symbol: ``pump_score`` and distinct ``buyers`` in
    the window, ``restrict`` (True once, on the order that crosses into pump state, for
    a restrictable symbol: stop its buys), ``reasons``, ``beneficiary_score`` (a sell by
    an account that bought before the pump) and the console ``alert`` raised, if any.

    A named tuple (immutable, no per-instance dict) because one is made per order and
    ``tuple.__new__`` is the cheapest way to make one."""

    pump_score: float
    buyers: int
    restrict: bool
    reasons: tuple[str, ...]
    beneficiary_score: float
    alert: dict[str, Any] | None


_signal = tuple.__new__


class _Symbol:
    """All the detector knows about one symbol."""

    __slots__ = (
        "adv_jpy", "b_k", "b_n", "b_pumped", "b_w", "baseline", "baseline_known", "buckets",
        "check_at", "day", "day_hot", "day_new", "expire_at", "hot_until", "k_sum", "last_buy_s",
        "last_s", "ledger", "ledger_expire_at", "liquidity", "market", "next_day_s", "ordinary",
        "pump_start", "pumped", "restrictable", "surge_min", "surge_until", "threshold",
        "usual_buyers", "w_sum", "weighted",
    )

    def __init__(self, *, adv_jpy: float | None, market: str | None, liquidity: float,
                 restrictable: bool, threshold: float, surge_min_buyers: int, now: float) -> None:
        self.adv_jpy = adv_jpy
        self.market = market
        self.liquidity = liquidity
        self.restrictable = restrictable
        self.threshold = threshold          # pump score at which the symbol crosses
        # A crowd of buyers means less in a liquid symbol: the surge bar rises with it.
        self.surge_min = surge_min_buyers * max(1.0, 1.0 / max(liquidity, 1e-9))
        # Window: buyers of weight 0 and of weight > 0, each ordered by last buy.
        self.ordinary: OrderedDict[str, list[float]] = OrderedDict()
        self.weighted: OrderedDict[str, list[float]] = OrderedDict()
        self.w_sum = 0.0
        self.k_sum = 0
        # Overflow buckets of evicted buyers: [key, min_s, max_s, n, w, k, pumped].
        self.buckets: deque[list[float]] = deque()
        self.b_n = 0
        self.b_w = 0.0
        self.b_k = 0
        self.b_pumped = 0.0
        self.expire_at = _INF         # no window entry or bucket ages out before this
        self.last_buy_s = -_INF       # the newest entry of the window
        # Baseline of distinct buyers per JST day, and per window (for the score).
        day = int((now + JST_OFFSET_S) // DAY_S)
        self.day = day
        self.next_day_s = (day + 1) * DAY_S - JST_OFFSET_S
        self.day_new = 0
        self.day_hot = False
        self.baseline = 0.0
        self.baseline_known = False
        self.usual_buyers = 0.0
        # Episodes.
        self.hot_until = -_INF
        self.surge_until = -_INF
        self.pump_start = _INF
        self.pumped = 0.0
        # Beneficiary ledger, ordered by last buy.
        self.ledger: OrderedDict[str, list[float]] = OrderedDict()
        self.ledger_expire_at = _INF
        # The earliest of expire_at, ledger_expire_at and next_day_s: one test per order.
        self.check_at = self.next_day_s
        self.last_s = now


class CrossAccountDetector:
    """Pump and beneficiary detection over the order stream (see the module docstring).

    ``symbols`` maps a symbol to its EVENTS.md ``symbols.jsonl`` record (``adv_jpy``,
    ``market``, ``market_cap_jpy``). Raises ValueError for inconsistent parameters.
    """

    def __init__(
        self,
        symbols: Mapping[str, Mapping[str, Any]],
        *,
        window_s: float = 3_600.0,
        lookback_s: float = 30 * DAY_S,
        hot_s: float = DAY_S,
        pump_threshold: float = 3.0,
        min_unusual_buyers: int = 3,
        unusual_level: float = 0.6,
        ordinary_weight: float = 0.1,
        liquid_alert_factor: float = 10.0,
        illiquid_adv_jpy: float = 100e6,
        foreign_small_cap_jpy: float = 30e9,
        surge_min_buyers: int = 20,
        surge_factor: float = 4.0,
        beneficiary_threshold: float = 0.35,
        beneficiary_max_unusual: float = 0.5,
        max_window_buyers: int = 512,
        max_prior_buyers: int = 256,
    ) -> None:
        if window_s <= 0 or lookback_s <= EARLY_BUY_S or hot_s <= 0:
            msg = "window_s and hot_s must be positive and lookback_s longer than 7 days"
            raise ValueError(msg)
        if not WEIGHT_FLOOR < unusual_level <= 1.0:
            msg = f"unusual_level must be in ({WEIGHT_FLOOR}, 1]: lower buyers weigh nothing"
            raise ValueError(msg)
        if max_window_buyers < 1 or max_prior_buyers < 1:
            msg = "max_window_buyers and max_prior_buyers must be at least 1"
            raise ValueError(msg)
        self._reference = symbols
        self.window_s = float(window_s)
        self.lookback_s = float(lookback_s)
        self.hot_s = float(hot_s)
        self.pump_threshold = float(pump_threshold)
        self.min_unusual_buyers = int(min_unusual_buyers)
        self.unusual_level = float(unusual_level)
        self.ordinary_weight = float(ordinary_weight)
        self.liquid_alert_factor = float(liquid_alert_factor)
        self.illiquid_adv_jpy = float(illiquid_adv_jpy)
        self.foreign_small_cap_jpy = float(foreign_small_cap_jpy)
        self.surge_min_buyers = int(surge_min_buyers)
        self.surge_factor = float(surge_factor)
        self.beneficiary_threshold = float(beneficiary_threshold)
        self.beneficiary_max_unusual = float(beneficiary_max_unusual)
        self.max_window_buyers = int(max_window_buyers)
        self.max_prior_buyers = int(max_prior_buyers)
        self._bucket_s = self.window_s / OVERFLOW_BUCKETS
        self._window_share = min(1.0, self.window_s / TRADING_DAY_S)
        self._idle_s = self.lookback_s + self.hot_s
        self._symbols: dict[str, _Symbol] = {}
        self._now = -_INF
        self._sweep_at = -_INF

    # ----------------------------------------------------------------------------------
    # public

    def on_order(self, account: str, symbol: str, side: str, notional_jpy: float,
                 ts_s: float, unusual: float) -> CrossSignal:
        """Feed one order (``side`` "buy" or "sell") and return its signal.

        ``unusual`` in [0, 1] says how unusual this buyer and session are (out-of-range
        values are clipped, NaN counts as 1). Raises ValueError for another side."""
        now = ts_s if ts_s > self._now else self._now
        self._now = now
        if now >= self._sweep_at:
            self._sweep(now)
        st = self._symbols.get(symbol)
        if st is None:
            st = self._symbols[symbol] = self._new_symbol(symbol, now)
        st.last_s = now
        if now >= st.check_at:
            self._housekeep(st, now)
        notional = notional_jpy if notional_jpy > 0.0 else 0.0
        if side == "buy":
            return self._buy(st, symbol, account, notional, now, unusual)
        if side == "sell":
            return self._sell(st, symbol, account, notional, now)
        msg = f"side must be 'buy' or 'sell', not {side!r}"
        raise ValueError(msg)

    def in_pump(self, symbol: str, ts_s: float) -> bool:
        """Whether ``symbol`` is in pump state at ``ts_s`` (no state change)."""
        st = self._symbols.get(symbol)
        return st is not None and ts_s <= st.hot_until

    def memory(self, symbol: str) -> dict[str, int]:
        """Entries held for ``symbol``: window buyers, overflow buckets, ledger accounts."""
        st = self._symbols.get(symbol)
        if st is None:
            return {"window": 0, "buckets": 0, "ledger": 0}
        return {"window": len(st.ordinary) + len(st.weighted), "buckets": len(st.buckets),
                "ledger": len(st.ledger)}

    def top_buyers(self, symbol: str, limit: int = TOP_ACCOUNTS) -> list[dict[str, Any]]:
        """The weighted (unusual) buyers of ``symbol`` in its window as of the last order,
        by weight then account id: ``account``, ``weight``, ``unusual``, ``notional_jpy``,
        ``first_buy_s``. Buyers evicted to the overflow buckets are not listed."""
        st = self._symbols.get(symbol)
        if st is None:
            return []
        top = sorted(st.weighted.items(), key=lambda item: (-item[1][_WEIGHT], item[0]))
        return [{"account": account, "weight": round(b[_WEIGHT], 4),
                 "unusual": round(b[_UNUSUAL], 4), "notional_jpy": b[_NOTIONAL],
                 "first_buy_s": b[_FIRST]}
                for account, b in top[:limit]]

    @property
    def symbols_tracked(self) -> int:
        """Symbols with state (idle ones are dropped lazily)."""
        return len(self._symbols)

    # ----------------------------------------------------------------------------------
    # orders

    # The hot path, kept in one function: a call costs as much as several of its lines.
    def _buy(self, st: _Symbol, symbol: str, account: str, notional: float,  # noqa: PLR0912, PLR0915
             now: float, unusual: float) -> CrossSignal:
        if not 0.0 <= unusual <= 1.0:
            unusual = 0.0 if unusual < 0.0 else 1.0   # NaN fails both tests: 1
        if unusual > WEIGHT_FLOOR:
            weight = (unusual - WEIGHT_FLOOR) * _WEIGHT_SCALE
            weight = min(weight, 1.0)
        else:
            weight = 0.0
        level = self.unusual_level
        weighted = st.weighted
        ordinary = st.ordinary
        st.last_buy_s = now

        # The window: refresh the account's entry, or add one (evicting when full).
        entry = weighted.get(account)
        if entry is not None:
            entry[_LAST] = now
            entry[_NOTIONAL] += notional
            if unusual > entry[_UNUSUAL]:
                st.w_sum += weight - entry[_WEIGHT]
                st.k_sum += (unusual >= level) - (entry[_UNUSUAL] >= level)
                entry[_UNUSUAL] = unusual
                entry[_WEIGHT] = weight
            weighted.move_to_end(account)
        else:
            entry = ordinary.get(account)
            if entry is None:
                if len(ordinary) + len(weighted) >= self.max_window_buyers:
                    self._evict(st, now)
                if weight > 0.0:
                    weighted[account] = [now, now, notional, unusual, weight]
                    st.w_sum += weight
                    if unusual >= level:
                        st.k_sum += 1
                else:
                    ordinary[account] = [now, now, notional, unusual, 0.0]
                if st.expire_at == _INF:
                    st.expire_at = expire_at = now + self.window_s
                    st.check_at = min(st.check_at, expire_at)
                st.day_new += 1
            else:
                entry[_LAST] = now
                entry[_NOTIONAL] += notional
                if weight > 0.0:
                    # No longer ordinary: it moves to the weighted buyers, newest.
                    del ordinary[account]
                    entry[_UNUSUAL] = unusual
                    entry[_WEIGHT] = weight
                    weighted[account] = entry
                    st.w_sum += weight
                    if unusual >= level:
                        st.k_sum += 1
                else:
                    entry[_UNUSUAL] = max(entry[_UNUSUAL], unusual)
                    ordinary.move_to_end(account)

        # The score.
        buyers = len(ordinary) + len(weighted) + st.b_n
        w_total = st.w_sum + st.b_w
        score = 0.0
        if w_total > 0.0:
            usual = st.usual_buyers
            excess = w_total - self.ordinary_weight * (buyers if buyers > usual else usual)
            if excess > 0.0:
                score = excess * st.liquidity

        # The pump state.
        hot = now <= st.hot_until
        if hot and weight > 0.0:
            st.pumped += notional * weight
        restrict = False
        alert = None
        if score >= st.threshold and st.k_sum + st.b_k >= self.min_unusual_buyers:
            if not hot:
                restrict = st.restrictable
                alert = self._cross(st, symbol, now, score, buyers)
                hot = True
            st.hot_until = now + self.hot_s

        # The beneficiary ledger.
        ledger = st.ledger
        if unusual >= self.beneficiary_max_unusual:
            # An unusual buy of the symbol (a hijacked session) disqualifies the account.
            if account in ledger:
                del ledger[account]
        else:
            holder = ledger.get(account)
            if holder is not None:
                holder[_LAST] = now
                holder[_BOUGHT] += notional
                ledger.move_to_end(account)
            elif not hot:
                # Buyers during a pump cannot have bought before it: keeping them out
                # stops a flood of buyers from evicting the real candidates.
                if len(ledger) >= self.max_prior_buyers:
                    ledger.popitem(last=False)
                ledger[account] = [now, now, notional, 0.0]
                if st.ledger_expire_at == _INF:
                    st.ledger_expire_at = expire_at = now + self.lookback_s
                    st.check_at = min(st.check_at, expire_at)

        if hot:
            st.day_hot = True
            return _signal(CrossSignal, (score, buyers, restrict,
                                         _ILLIQUID_SURGE if st.restrictable else _LIQUID_SURGE,
                                         0.0, alert))
        if (buyers >= st.surge_min
                and buyers >= self.surge_factor * st.usual_buyers
                and w_total <= SURGE_MAX_WEIGHT_SHARE * buyers):
            if now > st.surge_until:
                alert = self._surge_alert(st, symbol, now, score, buyers)
            st.surge_until = now + self.hot_s
            return _signal(CrossSignal, (score, buyers, False, _NEWS_SURGE, 0.0, alert))
        return _signal(CrossSignal, (score, buyers, False, _NONE, 0.0, None))

    def _sell(self, st: _Symbol, symbol: str, account: str, notional: float,
              now: float) -> CrossSignal:
        buyers = len(st.ordinary) + len(st.weighted) + st.b_n
        score = self._score(st, buyers)
        if now > st.hot_until:
            return _signal(CrossSignal, (score, buyers, False, _NONE, 0.0, None))
        holder = st.ledger.get(account)
        if holder is None or holder[_FIRST] >= st.pump_start:
            return _signal(CrossSignal, (score, buyers, False, _NONE, 0.0, None))
        holder[_SOLD] += notional
        lead_s = st.pump_start - holder[_FIRST]
        timing = 1.0
        if lead_s > EARLY_BUY_S:
            late = min(1.0, (lead_s - EARLY_BUY_S) / (self.lookback_s - EARLY_BUY_S))
            timing = 1.0 - (1.0 - LATE_TIMING) * late
        share = min(1.0, holder[_SOLD] / max(st.pumped, 1.0))
        benefit = timing * (0.3 + 0.7 * math.sqrt(share))
        if benefit < self.beneficiary_threshold:
            return _signal(CrossSignal, (score, buyers, False, _NONE, benefit, None))
        alert = {
            "kind": PUMP_BENEFICIARY,
            "symbol": symbol,
            "account": account,
            "ts_s": now,
            "beneficiary_score": round(benefit, 4),
            "sold_notional_jpy": notional,
            "sold_total_jpy": holder[_SOLD],
            "bought_notional_jpy": holder[_BOUGHT],
            "first_buy_s": holder[_FIRST],
            "lead_days": round(lead_s / DAY_S, 3),
            "pump_start_s": st.pump_start,
            "pumped_notional_jpy": round(st.pumped),
            "pump_score": round(score, 4),
            "buyers": buyers,
        }
        return _signal(CrossSignal, (score, buyers, False, _BENEFICIARY, benefit, alert))

    # ----------------------------------------------------------------------------------
    # state

    def _score(self, st: _Symbol, buyers: int) -> float:
        """The pump score (module docstring); the same arithmetic is inlined in _buy."""
        usual = st.usual_buyers
        excess = st.w_sum + st.b_w - self.ordinary_weight * (buyers if buyers > usual else usual)
        return excess * st.liquidity if excess > 0.0 else 0.0

    def _cross(self, st: _Symbol, symbol: str, now: float, score: float,
               buyers: int) -> dict[str, Any]:
        """Enter pump state: remember when it started and what was pumped; the alert."""
        weighted = st.weighted.values()
        firsts = [b[_FIRST] for b in weighted]
        firsts.extend(bucket[1] for bucket in st.buckets if bucket[4] > 0.0)
        st.pump_start = min(firsts, default=now)
        st.pumped = st.b_pumped + sum(b[_NOTIONAL] * b[_WEIGHT] for b in weighted)
        window = [b[_FIRST] for b in st.ordinary.values()]
        window.extend(bucket[1] for bucket in st.buckets)
        return {
            "kind": "symbol_pump",
            "symbol": symbol,
            "market": st.market,
            "adv_jpy": st.adv_jpy,
            "restricted": st.restrictable,
            "ts_s": now,
            "window_start_s": min(st.pump_start, min(window, default=now)),
            "window_end_s": now,
            "buyers": buyers,
            "unusual_buyers": st.k_sum + st.b_k,
            "weighted_buyers": round(st.w_sum + st.b_w, 4),
            "pump_score": round(score, 4),
            "threshold": st.threshold,
            "baseline_buyers_per_day": round(st.baseline, 3),
            "pumped_notional_jpy": round(st.pumped),
            "adv_share": round(st.pumped / st.adv_jpy, 4) if st.adv_jpy else None,
            "top_accounts": self.top_buyers(symbol),
        }

    def _surge_alert(self, st: _Symbol, symbol: str, now: float, score: float,
                     buyers: int) -> dict[str, Any]:
        firsts = [b[_FIRST] for b in st.ordinary.values()]
        firsts.extend(b[_FIRST] for b in st.weighted.values())
        firsts.extend(bucket[1] for bucket in st.buckets)
        return {
            "kind": "symbol_buy_surge",
            "symbol": symbol,
            "market": st.market,
            "ts_s": now,
            "window_start_s": min(firsts, default=now),
            "window_end_s": now,
            "buyers": buyers,
            "unusual_buyers": st.k_sum + st.b_k,
            "weighted_buyers": round(st.w_sum + st.b_w, 4),
            "pump_score": round(score, 4),
            "baseline_buyers_per_day": round(st.baseline, 3),
            "note": "many ordinary buyers: news-driven, not restricted",
        }

    def _evict(self, st: _Symbol, now: float) -> None:
        """Fold the oldest ordinary buyer (else the oldest weighted one) into a bucket."""
        if st.ordinary:
            _, b = st.ordinary.popitem(last=False)
            k = 0
        else:
            _, b = st.weighted.popitem(last=False)
            k = int(b[_UNUSUAL] >= self.unusual_level)
            st.w_sum -= b[_WEIGHT]
            st.k_sum -= k
            if not st.weighted:
                st.w_sum, st.k_sum = 0.0, 0     # no float drift left behind
        weight, last_s = b[_WEIGHT], b[_LAST]
        pumped = b[_NOTIONAL] * weight
        key = float(last_s // self._bucket_s)
        buckets = st.buckets
        if buckets and buckets[-1][0] >= key:
            # Evictions come oldest first, but alternating between the two queues can
            # step back in time: merge into the newest bucket (kept a little longer).
            bucket = buckets[-1]
            bucket[1] = min(bucket[1], b[_FIRST])
            bucket[2] = max(bucket[2], last_s)
            bucket[3] += 1
            bucket[4] += weight
            bucket[5] += k
            bucket[6] += pumped
        else:
            buckets.append([key, b[_FIRST], last_s, 1, weight, k, pumped])
        st.b_n += 1
        st.b_w += weight
        st.b_k += k
        st.b_pumped += pumped
        st.expire_at = min(st.expire_at, last_s + self.window_s, now + self.window_s)
        st.check_at = min(st.check_at, st.expire_at)

    def _housekeep(self, st: _Symbol, now: float) -> None:
        """Age the window and the ledger, close the day: whichever is due."""
        if now >= st.expire_at:
            self._expire_window(st, now - self.window_s)
        if now >= st.ledger_expire_at:
            self._expire_ledger(st, now - self.lookback_s)
        if now >= st.next_day_s:
            self._roll_day(st, now)
        st.check_at = min(st.expire_at, st.ledger_expire_at, st.next_day_s)

    def _expire_window(self, st: _Symbol, cutoff: float) -> None:
        if st.last_buy_s < cutoff:
            # Everything has aged out (the usual case for a symbol bought now and then).
            st.ordinary.clear()
            st.weighted.clear()
            st.buckets.clear()
            st.w_sum, st.k_sum = 0.0, 0
            st.b_n, st.b_w, st.b_k, st.b_pumped = 0, 0.0, 0, 0.0
            st.expire_at = _INF
            return
        next_at = _INF
        level = self.unusual_level
        for queue, weighted in ((st.ordinary, False), (st.weighted, True)):
            while queue:
                account, b = next(iter(queue.items()))
                if b[_LAST] >= cutoff:
                    next_at = min(next_at, b[_LAST])
                    break
                del queue[account]
                if weighted:
                    st.w_sum -= b[_WEIGHT]
                    st.k_sum -= b[_UNUSUAL] >= level
            if weighted and not queue:
                st.w_sum, st.k_sum = 0.0, 0
        buckets = st.buckets
        while buckets and buckets[0][2] < cutoff:
            _, _, _, n, w, k, pumped = buckets.popleft()
            st.b_n -= int(n)
            st.b_w -= w
            st.b_k -= int(k)
            st.b_pumped -= pumped
        if buckets:
            next_at = min(next_at, buckets[0][2])
        else:
            st.b_n, st.b_w, st.b_k, st.b_pumped = 0, 0.0, 0, 0.0
        st.expire_at = next_at + self.window_s

    def _expire_ledger(self, st: _Symbol, cutoff: float) -> None:
        ledger = st.ledger
        while ledger:
            account, holder = next(iter(ledger.items()))
            if holder[_LAST] >= cutoff:
                st.ledger_expire_at = holder[_LAST] + self.lookback_s
                return
            del ledger[account]
        st.ledger_expire_at = _INF

    def _roll_day(self, st: _Symbol, now: float) -> None:
        """Close the JST day: fold its distinct buyers into the baseline unless a pump
        ran that day (a pump must not teach the baseline), decay over days without
        orders. Distinct buyers of a day are counted as window entries created, so an
        account buying more than ``window_s`` apart counts once per visit."""
        day = int((now + JST_OFFSET_S) // DAY_S)
        if not st.day_hot:
            if st.baseline_known:
                st.baseline += BASELINE_ALPHA * (st.day_new - st.baseline)
            else:
                st.baseline, st.baseline_known = float(st.day_new), True
        quiet_days = min(day - st.day - 1, 400)
        if quiet_days > 0 and st.baseline_known:
            st.baseline *= (1.0 - BASELINE_ALPHA) ** quiet_days
        st.usual_buyers = st.baseline * self._window_share
        st.day = day
        st.next_day_s = (day + 1) * DAY_S - JST_OFFSET_S
        st.day_new = 0
        st.day_hot = now <= st.hot_until

    def _sweep(self, now: float) -> None:
        """At the first order of a JST day, drop the symbols idle for ``lookback_s +
        hot_s``: nothing of theirs is still in a window, a ledger or a pump state."""
        cutoff = now - self._idle_s
        for symbol in [s for s, st in self._symbols.items() if st.last_s < cutoff]:
            del self._symbols[symbol]
        day = (now + JST_OFFSET_S) // DAY_S
        self._sweep_at = (day + 1) * DAY_S - JST_OFFSET_S

    def _new_symbol(self, symbol: str, now: float) -> _Symbol:
        info = self._reference.get(symbol)
        if info is None:
            # Not in the reference data: nothing says it is liquid, so treat it as thin.
            return _Symbol(adv_jpy=None, market=None, liquidity=1.0, restrictable=True,
                           threshold=self.pump_threshold, surge_min_buyers=self.surge_min_buyers,
                           now=now)
        adv = float(info.get("adv_jpy") or 0.0)
        market = str(info.get("market") or "")
        cap = info.get("market_cap_jpy")
        foreign_small = (not market.startswith("TSE") and cap is not None
                         and float(cap) < self.foreign_small_cap_jpy)
        # A foreign small cap may trade a lot at home, but a crowd of Japanese retail
        # buyers in it is itself the anomaly (CASE.md: the Chinese names of spring 2025),
        # so its liquidity counts as no higher than the illiquid line.
        effective = min(adv, self.illiquid_adv_jpy) if foreign_small else adv
        liquidity = min(MAX_LIQUIDITY, math.sqrt(self.illiquid_adv_jpy / max(effective, 1.0)))
        restrictable = adv < self.illiquid_adv_jpy or foreign_small
        # Liquid symbols are never restricted; they alert at a much larger crowd.
        threshold = self.pump_threshold * (1.0 if restrictable else self.liquid_alert_factor)
        return _Symbol(adv_jpy=adv, market=market, liquidity=liquidity, restrictable=restrictable,
                       threshold=threshold, surge_min_buyers=self.surge_min_buyers, now=now)
