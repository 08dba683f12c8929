"""Login risk (Freeman et al. 2016): the direction of scores, the attack signals, the
memory bound and determinism."""

import math
import re
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kabuguard.risk.login_risk import (
    ACCOUNTS_PER_IP_MAX,
    ALPHA,
    ASN_FAILURES_MIN,
    HISTORY_HALVE_AT,
    IP_ACCOUNTS_MIN,
    IP_FAILURES_MIN,
    SEEN_LOG_FLOOR,
    VALUES_PER_FEATURE,
    LoginObservation,
    LoginRiskModel,
    user_agent_family,
)

CHROME_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/133.0.0.0 Safari/537.36")
CHROME_WIN_NEXT = CHROME_WIN.replace("Chrome/133", "Chrome/134")
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1")
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:135.0) Gecko/20100101 Firefox/135.0"
EDGE_WIN = CHROME_WIN + " Edg/133.0.0.0"

HOME = LoginObservation(ip="240.0.0.1", asn=64512, country="JP", ip_kind="residential",
                        user_agent=CHROME_WIN, device="dev-home")
T0 = 1_743_465_600.0   # 2025-04-01 00:00 UTC


def population(model: LoginRiskModel, *, customers: int = 200, ts: float = T0) -> None:
    """Other customers: Japanese, on the four home ASNs, mostly Chrome or Safari, a few
    in the US; gives the global counts a realistic shape."""
    for i in range(customers):
        kind = i % 10
        country, asn = ("US", 64532) if kind == 9 else ("JP", 64512 + i % 4)
        obs = LoginObservation(ip=f"240.1.{i // 250}.{i % 250}", asn=asn, country=country,
                               ip_kind="residential",
                               user_agent=SAFARI_IPHONE if kind < 4 else CHROME_WIN,
                               device=f"dev-{i}")
        for _ in range(3):
            model.observe(f"other-{i}", obs, "success", ts)


def with_history(logins: int = 20, *, account: str = "A", obs: LoginObservation = HOME,
                 model: LoginRiskModel | None = None) -> LoginRiskModel:
    if model is None:
        model = LoginRiskModel()
        population(model)
    for i in range(logins):
        model.observe(account, obs, "success", T0 + i)
    return model


# One variant per feature: the account has never used the changed value.
UNSEEN = {
    "ip": replace(HOME, ip="240.0.0.99"),                                   # same ASN
    "asn": replace(HOME, ip="240.64.0.7", asn=64513),                       # same country
    "country": replace(HOME, ip="242.2.0.7", asn=64532, country="US"),
    "device": replace(HOME, device="dev-new"),
    "user_agent": replace(HOME, user_agent=SAFARI_IPHONE),
}
FLAG = {"ip": "new_ip", "asn": "new_asn", "country": "new_country", "device": "new_device",
        "user_agent": "new_user_agent"}


@pytest.mark.parametrize("feature", sorted(UNSEEN))
def test_an_unseen_value_raises_the_score_for_every_feature(feature):
    model = with_history()
    seen = model.score("A", HOME, T0 + 100)
    unseen = model.score("A", UNSEEN[feature], T0 + 100)
    assert unseen.score > seen.score
    assert getattr(unseen, FLAG[feature]) and FLAG[feature] in unseen.reasons
    assert not any(getattr(seen, f) for f in FLAG.values())
    assert seen.reasons == ()


@pytest.mark.parametrize("feature", ["ip", "country", "device", "user_agent"])
def test_rare_and_common_unseen_values_both_score_above_the_seen_one(feature):
    model = with_history()
    # Common: used by many other customers; rare: never seen by anyone.
    common, rare = {
        "ip": (replace(HOME, ip="240.1.0.4"), replace(HOME, ip="240.0.0.250")),
        "country": (replace(HOME, ip="242.2.0.9", asn=64532, country="US"),
                    replace(HOME, ip="242.9.0.9", asn=64999, country="ZZ")),
        "device": (replace(HOME, device="dev-4"), replace(HOME, device="dev-never")),
        "user_agent": (replace(HOME, user_agent=SAFARI_IPHONE),
                       replace(HOME, user_agent=FIREFOX_LINUX)),
    }[feature]
    seen = model.score("A", HOME, T0 + 100).score
    common_score = model.score("A", common, T0 + 100).score
    rare_score = model.score("A", rare, T0 + 100).score
    assert common_score > seen
    assert rare_score > seen
    # Rarity cancels in the ratio of an unseen value: a rare one is never safer.
    assert rare_score >= common_score


def test_hierarchy_new_ip_below_new_asn_below_new_country():
    model = with_history()
    new_ip = model.score("A", UNSEEN["ip"], T0 + 100).score
    new_asn = model.score("A", UNSEEN["asn"], T0 + 100).score
    new_country = model.score("A", UNSEEN["country"], T0 + 100).score
    assert model.score("A", HOME, T0 + 100).score < new_ip < new_asn < new_country


def test_a_new_country_counts_once_not_once_per_level():
    # p(IP | u) = p(country | u) p(ASN | country, u) p(IP | ASN, u): inside a new country
    # the ASN and the IP are new too but add nothing. A login new in every feature then
    # scores log10((n + α) / α) for each of country, device and user agent, exactly.
    model = with_history(20)
    everything_new = replace(UNSEEN["country"], device="dev-new", user_agent=FIREFOX_LINUX)
    risk = model.score("A", everything_new, T0 + 100)
    assert risk.new_country and risk.new_asn and risk.new_ip
    assert risk.score == pytest.approx(3 * math.log10((20 + ALPHA) / ALPHA), abs=1e-3)


def test_a_familiar_rare_value_lowers_the_score_by_the_floor_at_most():
    # The account's own device is rare globally (only A uses it): its ratio is far below
    # 1/10 and is floored; only the device term differs between the two logins.
    model = with_history(20)
    seen = model.score("A", HOME, T0 + 100).score
    unseen = model.score("A", UNSEEN["device"], T0 + 100).score
    assert seen - unseen == pytest.approx(SEEN_LOG_FLOOR - math.log10(20 + ALPHA), abs=1e-3)


def test_a_long_history_weighs_a_new_country_more_than_a_short_one():
    model = LoginRiskModel()
    population(model)
    with_history(50, account="long", model=model)
    with_history(3, account="short", model=model)
    abroad = UNSEEN["country"]
    long_risk = model.score("long", abroad, T0 + 100)
    short_risk = model.score("short", abroad, T0 + 100)
    assert long_risk.new_country and short_risk.new_country
    assert long_risk.score > short_risk.score
    # ... and the same familiar login is not riskier for the long history.
    assert model.score("long", HOME, T0 + 100).score <= model.score("short", HOME, T0 + 100).score


def test_a_browser_update_is_not_a_new_user_agent():
    assert user_agent_family(CHROME_WIN) == user_agent_family(CHROME_WIN_NEXT) == "Chrome / Windows"
    assert user_agent_family(EDGE_WIN) == "Edge / Windows"
    model = with_history()
    updated = model.score("A", replace(HOME, user_agent=CHROME_WIN_NEXT), T0 + 100)
    assert not updated.new_user_agent
    assert updated.score == model.score("A", HOME, T0 + 100).score


def test_a_missing_device_id_is_new_for_an_account_that_always_sends_one():
    model = with_history()
    risk = model.score("A", replace(HOME, device=None), T0 + 100)
    assert risk.new_device and risk.score > model.score("A", HOME, T0 + 100).score
    with_history(5, account="callcentre", obs=replace(HOME, device=None), model=model)
    assert not model.score("callcentre", replace(HOME, device=None), T0 + 100).new_device


def test_an_account_without_history_has_no_evidence_and_no_new_flags():
    model = LoginRiskModel()
    population(model)
    for account in ("never-seen", None):
        risk = model.score(account, UNSEEN["country"], T0)
        assert risk.score == 0.0
        assert risk.reasons == ()
        assert not (risk.new_device or risk.new_ip or risk.new_asn or risk.new_country
                    or risk.new_user_agent)


def test_failures_from_one_ip_over_many_accounts_raise_any_accounts_score():
    model = with_history()
    with_history(20, account="B", obs=replace(HOME, ip="240.0.0.2"), model=model)
    stuffer = replace(HOME, ip="243.0.0.66", asn=64600, country="JP", ip_kind="residential",
                      device=None)
    before = {a: model.score(a, stuffer, T0 + 1000) for a in ("A", "B")}
    victims = [f"victim-{i}" for i in range(IP_FAILURES_MIN)]
    for i, victim in enumerate(victims):
        model.observe(victim, stuffer, "bad_password", T0 + 1000 + i)
    for account in ("A", "B"):
        after = model.score(account, stuffer, T0 + 1100)
        assert after.score > before[account].score
        assert {"ip_many_failures", "ip_many_accounts"} <= set(after.reasons)
        assert after.ip_failures == IP_FAILURES_MIN
        assert after.ip_accounts == IP_FAILURES_MIN
    # A different address of the same ASN is not blamed (below the ASN threshold).
    other = model.score("A", replace(stuffer, ip="243.0.0.67"), T0 + 1100)
    assert other.ip_failures == 0 and other.asn_failures == IP_FAILURES_MIN
    assert "asn_many_failures" not in other.reasons
    # More failures: a higher score still.
    ten = model.score("A", stuffer, T0 + 1100).score
    for i in range(IP_FAILURES_MIN * 9):
        model.observe(f"victim-{i % 50}", stuffer, "unknown_user" if i % 2 else "bad_password",
                      T0 + 1200 + i)
    assert model.score("A", stuffer, T0 + 1400).score > ten


def test_attack_signals_leave_the_window_after_an_hour():
    model = with_history()
    ip = replace(HOME, ip="243.0.0.66", asn=64600)
    for i in range(IP_FAILURES_MIN):
        model.observe(f"v{i}", ip, "bad_password", T0 + i)
    assert model.score("A", ip, T0 + 3000).ip_failures == IP_FAILURES_MIN
    # Read 61 minutes later without any event in between: still not counted.
    late = model.score("A", ip, T0 + 3660 + 10)
    assert (late.ip_failures, late.ip_accounts, late.asn_failures) == (0, 0, 0)
    assert "ip_many_failures" not in late.reasons
    # And once the window has moved on with new events, the state is dropped too.
    model.observe("x", replace(ip, ip="243.0.0.1"), "bad_password", T0 + 3700)
    assert model.score("A", ip, T0 + 3700).ip_failures == 0


def test_a_few_typos_and_one_users_failures_stay_below_the_thresholds():
    model = with_history()
    for i in range(IP_FAILURES_MIN - 1):
        model.observe("A", HOME, "bad_password", T0 + 100 + i)
    risk = model.score("A", HOME, T0 + 200)
    assert risk.ip_failures == IP_FAILURES_MIN - 1 and risk.ip_accounts == 1
    assert risk.reasons == ()


def test_unknown_users_count_as_one_account_per_ip():
    model = LoginRiskModel()
    for i in range(20):
        model.observe(None, HOME, "unknown_user", T0 + i)
    assert model.score(None, HOME, T0 + 30).ip_accounts == 1
    for i in range(IP_ACCOUNTS_MIN - 1):
        model.observe(f"acct-{i}", HOME, "bad_password", T0 + 40 + i)
    risk = model.score(None, HOME, T0 + 60)
    assert risk.ip_accounts == IP_ACCOUNTS_MIN
    assert "ip_many_accounts" in risk.reasons
    # Memory per IP is bounded: the distinct count saturates.
    for i in range(ACCOUNTS_PER_IP_MAX + 50):
        model.observe(f"stuffed-{i}", HOME, "bad_password", T0 + 100)
    assert model.score(None, HOME, T0 + 100).ip_accounts == ACCOUNTS_PER_IP_MAX


def test_many_failures_in_one_asn_raise_the_score_of_its_other_addresses():
    model = with_history()
    for i in range(ASN_FAILURES_MIN):
        model.observe(f"v{i}", replace(HOME, ip=f"240.9.0.{i}", asn=64600), "bad_password", T0 + i)
    risk = model.score("A", replace(HOME, ip="240.9.1.1", asn=64600), T0 + 100)
    assert risk.asn_failures == ASN_FAILURES_MIN and "asn_many_failures" in risk.reasons
    quiet = with_history()
    assert risk.score > quiet.score("A", replace(HOME, ip="240.9.1.1", asn=64600), T0 + 100).score


@pytest.mark.parametrize(("kind", "reason"), [("hosting", "hosting_network"), ("vpn", "vpn_or_tor"),
                                              ("tor", "vpn_or_tor")])
def test_hosting_vpn_and_tor_add_a_reason_and_a_modest_term(kind, reason):
    model = with_history()
    plain = model.score("A", UNSEEN["asn"], T0 + 100)
    risky = model.score("A", replace(UNSEEN["asn"], ip_kind=kind), T0 + 100)
    assert reason in risky.reasons and reason not in plain.reasons
    assert 0 < risky.score - plain.score <= 1.0


def test_foreign_country_is_relative_to_the_home_country():
    model = LoginRiskModel()
    model.seed_account("A", devices=[], networks=[], home_country="JP", ts_s=T0)
    assert "foreign_country" in model.score("A", UNSEEN["country"], T0).reasons
    assert "foreign_country" not in model.score("A", HOME, T0).reasons
    model.seed_account("B", devices=[], networks=[], home_country=None, ts_s=T0)
    assert "foreign_country" not in model.score("B", UNSEEN["country"], T0).reasons


def test_seeded_history_counts_as_seen():
    model = LoginRiskModel()
    population(model)
    model.seed_account(
        "A", home_country="JP", ts_s=T0,
        devices=[{"device": "dev-home", "user_agent": CHROME_WIN,
                  "last_seen": "2025-03-30T10:00:00+09:00"}],
        networks=[{"ip": "240.0.0.1", "ip_asn": 64512, "ip_country": "JP",
                   "ip_kind": "residential", "last_seen": "2025-03-31T10:00:00+09:00"},
                  {"ip": "242.6.0.3", "ip_asn": 64536, "ip_country": "GB",
                   "ip_kind": "residential", "last_seen": "2024-08-01T10:00:00+01:00"}])
    home = model.score("A", HOME, T0)
    assert home.reasons == ()
    london = model.score("A", replace(HOME, ip="242.6.0.3", asn=64536, country="GB"), T0)
    assert not (london.new_ip or london.new_asn or london.new_country)
    assert london.reasons == ("foreign_country",)
    for feature, obs in UNSEEN.items():
        risk = model.score("A", obs, T0)
        assert getattr(risk, FLAG[feature])
        assert risk.score > home.score


def test_an_unknown_outcome_is_an_error():
    with pytest.raises(ValueError, match="'maybe'"):
        LoginRiskModel().observe("A", HOME, "maybe", T0)


def test_memory_per_account_stays_bounded():
    model = LoginRiskModel(global_values_max=1_000)
    for i in range(10_000):
        obs = replace(HOME, ip=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", asn=60000 + i % 40,
                      device=f"dev-{i % 100}")
        model.observe("A", obs, "success", T0 + i)
    sizes = model.remembered("A")
    assert max(sizes.values()) <= VALUES_PER_FEATURE
    assert sizes["ip"] == sizes["asn"] == sizes["device"] == VALUES_PER_FEATURE
    assert max(model.global_values().values()) <= 1_000
    # The most recent values are the ones kept.
    last = replace(HOME, ip="10.0.39.15", asn=60000 + 9_999 % 40, device="dev-99")
    assert not model.score("A", last, T0 + 10_001).new_ip
    assert model.score("A", replace(HOME, ip="10.0.0.0"), T0 + 10_001).new_ip


def test_a_long_history_ages_but_stays_seen():
    model = with_history(2_000)
    risk = model.score("A", HOME, T0 + 3_000)
    assert risk.reasons == ()
    # Counts halve past HISTORY_HALVE_AT logins, so a new device's term is bounded
    # however long the history (the account's other, seen terms are <= 0 here).
    for logins in (2_000, 5_000):
        new_device = with_history(logins).score("A", UNSEEN["device"], T0 + 6_000).score
        assert 1.5 < new_device <= math.log10(HISTORY_HALVE_AT + ALPHA)


def test_score_changes_no_state():
    model = with_history()
    for i in range(IP_FAILURES_MIN):
        model.observe(f"v{i}", HOME, "bad_password", T0 + i)
    first = [model.score("A", obs, T0 + 4000) for obs in (HOME, *UNSEEN.values())]
    again = [model.score("A", obs, T0 + 50) for obs in (HOME, *UNSEEN.values())]
    assert again[0].ip_failures == IP_FAILURES_MIN
    assert first == [model.score("A", obs, T0 + 4000) for obs in (HOME, *UNSEEN.values())]
    assert model.remembered("new") == dict.fromkeys(model.remembered("new"), 0)


STREAM = textwrap.dedent("""
    import hashlib
    from kabuguard.risk.login_risk import LoginObservation, LoginRiskModel
    m = LoginRiskModel(global_values_max=64, values_per_feature=4)
    h = hashlib.sha256()
    for i in range(3000):
        obs = LoginObservation(ip=f"240.0.{i % 7}.{i % 53}", asn=64512 + i % 5,
                               country=("JP", "US", "KR")[i % 3 // 2], ip_kind="residential",
                               user_agent=("a/1", "b/2 (Windows)", None)[i % 3],
                               device=f"d{i % 11}")
        account = f"acct{i % 13}"
        r = m.score(account, obs, 1e9 + i * 7)
        h.update(repr((r.score, r.reasons, r.ip_failures, r.ip_accounts)).encode())
        m.observe(account, obs, ("success", "bad_password", "unknown_user")[i % 5 // 2], 1e9 + i * 7)
    print(h.hexdigest())
""")


def test_outputs_do_not_depend_on_the_hash_seed():
    digests = {subprocess.run([sys.executable, "-c", STREAM], check=True, capture_output=True,
                              text=True, env={"PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2", "3")}
    assert len(digests) == 1
    assert re.fullmatch(r"[0-9a-f]{64}\n", digests.pop())


# -- property: repeating the last successful login is never riskier than changing one
#    feature to a value the account has not used.

NETWORKS = [("240.0.0.1", 64512, "JP"), ("240.0.0.2", 64512, "JP"), ("240.64.0.1", 64513, "JP"),
            ("241.0.0.1", 64520, "JP"), ("242.2.0.1", 64532, "US")]
AGENTS = [CHROME_WIN, SAFARI_IPHONE, EDGE_WIN]
login_st = st.tuples(st.sampled_from(NETWORKS), st.sampled_from(["d1", "d2", "d3", None]),
                     st.sampled_from(AGENTS))
FRESH = {
    "ip": lambda o: replace(o, ip="250.0.0.1"),
    "asn": lambda o: replace(o, asn=65000),
    "country": lambda o: replace(o, country="ZZ"),
    "device": lambda o: replace(o, device="d-fresh"),
    "user_agent": lambda o: replace(o, user_agent=FIREFOX_LINUX),
}


@settings(max_examples=150, deadline=None)
@given(history=st.lists(login_st, min_size=1, max_size=40),
       others=st.lists(login_st, max_size=40),
       kind=st.sampled_from(["residential", "mobile", "vpn", "hosting", None]),
       feature=st.sampled_from(sorted(FRESH)))
def test_repeating_the_last_login_is_no_riskier_than_changing_one_feature(history, others, kind,
                                                                           feature):
    model = LoginRiskModel(values_per_feature=3)
    model.seed_account("A", devices=[{"device": "d9", "user_agent": CHROME_WIN}],
                       networks=[], home_country="JP", ts_s=T0)
    ts = T0
    for account, logins in (("B", others), ("A", history)):
        for (ip, asn, country), device, agent in logins:
            ts += 60
            model.observe(account, LoginObservation(ip, asn, country, kind, agent, device),
                          "success", ts)
    (ip, asn, country), device, agent = history[-1]
    last = LoginObservation(ip, asn, country, kind, agent, device)
    changed = FRESH[feature](last)
    assert model.score("A", last, ts + 1).score <= model.score("A", changed, ts + 1).score
