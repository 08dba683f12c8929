from collections import Counter, defaultdict
from datetime import date
from importlib import resources

import pytest

from kabuguard.broker.market import TSE_MARKETS, Market, TradingCalendar
from kabuguard.broker.symbols import load_symbols
from kabuguard.domain.events import JST
from kabuguard.sim.behaviour import BankChangeIntent, LoginIntent, OrderIntent, WithdrawalIntent
from kabuguard.sim.campaigns import (
    BENEFICIARY,
    MICRO_CAP_JPY,
    THIN_ADV_JPY,
    RecoveryIntent,
    SessionReplayIntent,
    iter_attack_intents,
    label_records,
    plan_campaigns,
)
from kabuguard.sim.population import generate_population, packaged_networks
from kabuguard.sim.scenario import ATTACKS, ScenarioError, load_scenario, parse_scenario

SYMBOLS = load_symbols()
CALENDAR = TradingCalendar()
START = date(2025, 4, 1)
SEED = 5
DEFAULT = resources.files("kabuguard.sim").joinpath("scenarios/default.yaml").read_text(
    encoding="utf-8")
# A busy year, so a small population sees every kind of attack.
BUSY = DEFAULT.replace("compromised_per_10k_per_month: 0.37",
                       "compromised_per_10k_per_month: 400")


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.fixture(scope="module")
def scenario():
    return parse_scenario(BUSY, source="busy.yaml")


@pytest.fixture(scope="module")
def population(scenario):
    return list(generate_population(scenario, customers=3000, seed=SEED,
                                    symbols=SYMBOLS.values()))


@pytest.fixture(scope="module")
def campaigns(scenario):
    return plan_campaigns(3000, days=30, start=START, seed=SEED, scenario=scenario,
                          symbols=SYMBOLS.values())


@pytest.fixture(scope="module")
def intents(campaigns, population):
    return list(iter_attack_intents(campaigns, population, seed=SEED,
                                    symbols=SYMBOLS.values()))


def test_the_default_scenario_has_campaigns_following_the_fsa_months():
    spec = load_scenario().campaigns
    assert spec is not None
    assert set(spec.attacks) == set(ATTACKS)
    # April 2025 was the peak of unauthorized access (JP-RULES.md §3).
    assert max(range(1, 13), key=spec.monthly_factor) == 4
    assert sum(spec.monthly_factor(m) for m in range(1, 13)) == pytest.approx(12)


def test_planning_and_intents_are_deterministic(scenario, campaigns, intents, population):
    again = plan_campaigns(3000, days=30, start=START, seed=SEED, scenario=scenario,
                           symbols=SYMBOLS.values())
    assert again == campaigns
    assert list(iter_attack_intents(again, population, seed=SEED,
                                    symbols=SYMBOLS.values())) == intents
    other = plan_campaigns(3000, days=30, start=START, seed=SEED + 1, scenario=scenario,
                           symbols=SYMBOLS.values())
    assert other != campaigns
    assert [a.ts for a in intents] == sorted(a.ts for a in intents)
    assert len({a.id for a in intents}) == len(intents)


def test_no_campaigns_section_means_no_campaigns():
    text = DEFAULT[:DEFAULT.index("\n# Attack campaigns")] + "\n"
    plain = parse_scenario(text)
    assert plain.campaigns is None
    assert plan_campaigns(1000, days=30, start=START, seed=1, scenario=plain,
                          symbols=SYMBOLS.values()) == []


def test_shares_of_attack_kinds_converge_to_the_scenario(scenario):
    planned = plan_campaigns(1_000_000, days=30, start=START, seed=SEED, scenario=scenario,
                             symbols=SYMBOLS.values())
    victims = Counter()
    for c in planned:
        victims[c.attack] += c.victims
    total = sum(victims.values())
    # 400 per 10,000 a month, April at ~3.5 times the yearly mean.
    assert total == pytest.approx(100 * 400 * scenario.campaigns.monthly_factor(4), rel=0.05)
    for attack, share in scenario.campaigns.attacks.items():
        assert victims[attack] / total == pytest.approx(share, abs=0.02), attack


def test_what_each_attacker_can_pass(intents):
    seen = {a.attack: a for a in intents}
    assert set(seen) == {*ATTACKS, BENEFICIARY}
    assert seen["realtime_phishing"].can_pass == ("otp",)
    assert "emoji" in seen["realtime_phishing"].methods
    assert seen["infostealer_session"].can_pass == ()
    assert seen["credential_stuffing"].can_pass == ("password",)
    assert seen["sim_swap"].can_pass == ("otp",)
    assert seen["sim_swap"].methods == ("sms_otp",)


def test_labels_are_keyed_by_intent_id(intents):
    labels = list(label_records(intents))
    assert [r["id"] for r in labels] == [a.id for a in intents]
    assert all(r["fraud"] is True and r["campaign"].startswith("campaign-") for r in labels)
    stuffing = next(r for r in labels if r["attack"] == "credential_stuffing")
    assert stuffing["can_pass"] == ["password"]
    assert "can_pass_methods" not in stuffing
    swap = next(r for r in labels if r["attack"] == "sim_swap")
    assert swap["can_pass_methods"] == ["sms_otp"]


def test_victims_sells_never_exceed_their_holdings(intents, population):
    held = {c.account: dict(c.holdings) for c in population}
    sold: dict[tuple[str, str], int] = defaultdict(int)
    victims = set()
    for a in intents:
        if a.attack != BENEFICIARY:
            victims.add(a.account)
        if isinstance(a.intent, OrderIntent) and a.intent.side == "sell" \
                and a.attack != BENEFICIARY:
            sold[a.account, a.intent.symbol] += a.intent.quantity
    assert sold
    for (account, symbol), quantity in sold.items():
        assert quantity <= held[account].get(symbol, 0)
    # Every victim is a customer, taken over by one campaign only.
    assert victims <= set(held)
    owners = {(a.account, a.campaign) for a in intents if a.attack != BENEFICIARY}
    assert len(owners) == len(victims)


def test_pump_targets_are_thin_small_caps(campaigns, intents):
    markets = Counter()
    for c in campaigns:
        s = SYMBOLS[c.target]
        assert s.market in TSE_MARKETS or s.market in {Market.SSE, Market.SZSE}
        assert s.adv_jpy < THIN_ADV_JPY
        assert s.market_cap_jpy < MICRO_CAP_JPY
        assert CALENDAR.is_trading_day(s.market, c.pump_day)
        markets[s.market in TSE_MARKETS] += 1
    assert markets[True] and markets[False]   # both Japanese and Chinese names
    targets = {c.id: c.target for c in campaigns}
    buys = [a for a in intents if isinstance(a.intent, OrderIntent)
            and a.intent.side == "buy"]
    assert buys and all(a.intent.symbol == targets[a.campaign] for a in buys)


def test_beneficiaries_buy_before_the_pump_and_sell_during_it(campaigns, intents):
    pump = {c.id: c.pump_day for c in campaigns}
    orders = [a for a in intents if a.attack == BENEFICIARY
              and isinstance(a.intent, OrderIntent)]
    assert orders
    sides = defaultdict(dict)
    for a in orders:
        day = a.ts.astimezone(JST).date()
        sides[a.account][a.intent.side] = (day, a.intent.quantity)
        if a.intent.side == "buy":
            assert day < pump[a.campaign]
        else:
            assert day == pump[a.campaign]
    victim_accounts = {a.account for a in intents if a.attack != BENEFICIARY}
    for account, by_side in sides.items():
        assert by_side["buy"][1] == by_side["sell"][1]
        assert account not in victim_accounts


def test_attacker_addresses_classify_as_remote_and_low_and_slow_as_jp_residential(
        intents, population):
    _, ranges, _ = packaged_networks()
    known = {c.account: {d.device for d in c.devices} for c in population}
    for a in intents:
        if not isinstance(a.intent, LoginIntent | SessionReplayIntent | RecoveryIntent):
            continue
        info = ranges.lookup(a.intent.ip)
        if a.attack == "low_and_slow":
            assert (info.country, info.kind) == ("JP", "residential")
        elif a.attack != BENEFICIARY:
            assert info.kind in {"hosting", "vpn"} or info.country != "JP"
        if a.attack == "infostealer_session":
            assert isinstance(a.intent, SessionReplayIntent)
            assert a.intent.device in known[a.account]   # the stolen device cookie
        elif a.attack != BENEFICIARY:
            assert a.intent.device not in known[a.account]


def test_bank_change_crews_withdraw_and_recovery_crews_use_recovery(intents):
    kinds = defaultdict(set)
    for a in intents:
        kinds[a.attack].add(type(a.intent))
    assert {BankChangeIntent, WithdrawalIntent} <= kinds["bank_change_withdrawal"]
    assert RecoveryIntent in kinds["recovery_abuse"]
    assert BankChangeIntent not in kinds["realtime_phishing"]


@pytest.mark.parametrize(("old", "new", "needle", "reason"), [
    ("    sim_swap: 0.03", "    sim_swap: 0.13", "realtime_phishing: 0.45",
     "the shares of campaigns.attacks must add up to 1"),
    ("    sim_swap: 0.03", "    sim_swap: 0.03\n    malware: 0.0", "malware",
     "unknown field 'malware' in campaigns.attacks"),
    ("  compromised_per_10k_per_month: 0.37", "  compromised_per_10k_per_month: many",
     "month: many", "campaigns.compromised_per_10k_per_month must be a number"),
    ("  victims_per_campaign: 8 ", "  victims_per_campaign: 0.5 ", "victims_per_campaign",
     "victims_per_campaign must be at least 1"),
    ("  beneficiaries_per_campaign: 3 ", "  beneficiaries_per_campaign: 2.5 ",
     "beneficiaries_per_campaign", "must be a whole number"),
    ("    12: 343\n", "", "    1: 170", "campaigns.monthly_profile needs '12'"),
    ("    4: 5441", "    4: -1", "4: -1", "monthly_profile.4 must be a finite number"),
    ("  victims_per_campaign: 8 ", "  victims: 8 ", "victims: 8",
     "unknown field 'victims' in campaigns"),
])
def test_bad_campaigns_sections_are_refused_with_line_and_reason(old, new, needle, reason):
    assert old in DEFAULT
    text = DEFAULT.replace(old, new)
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, source="bad.yaml")
    message = str(caught.value)
    assert message.startswith(f"bad.yaml:{line_of(text, needle)}: "), message
    assert reason in message


def test_victims_of_a_lazy_population_are_those_of_the_list(scenario, campaigns, population):
    from kabuguard.sim.campaigns import LazyPopulation, assign_victims

    lazy = LazyPopulation(scenario, size=len(population), seed=SEED, symbols=SYMBOLS.values())
    assert lazy[17] == population[17]
    assert lazy[-1] == population[-1]
    eager = assign_victims(campaigns, population, seed=SEED)
    assert assign_victims(campaigns, lazy, seed=SEED) == eager
    chosen = [v for vs in eager.values() for v in vs]
    assert len({v.account for v in chosen}) == len(chosen)
    # Holders are preferred: the crews sell holdings.
    assert sum(bool(v.holdings) for v in chosen) / len(chosen) > 0.95


def test_victims_never_outnumber_the_population(scenario, campaigns):
    from kabuguard.sim.campaigns import assign_victims

    tiny = list(generate_population(scenario, customers=5, seed=SEED, symbols=SYMBOLS.values()))
    chosen = [v.account for vs in assign_victims(campaigns, tiny, seed=SEED).values()
              for v in vs]
    assert sorted(chosen) == sorted(c.account for c in tiny)
