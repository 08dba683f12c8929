"""Action rules: the shipped rules fire where meant and not on ordinary events, bad files
are refused with line, rule and reason, and the compiled path agrees with simpleeval."""

from __future__ import annotations

import hashlib
import re
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kabuguard.risk.rules import (
    EVENT_TYPES,
    FEATURES,
    LOGIN_REASONS,
    NUM,
    STR,
    STRS,
    RuleError,
    RuleHit,
    load_rules,
    neutral_features,
    packaged_rules,
    parse_rules,
)

ROOT = Path(__file__).resolve().parents[2]
RULES = packaged_rules()

# A typical customer's order: a liquid TSE stock, a usual size, a session of its own
# device with an ordinary login.
TYPICAL_ORDER = dict(type="order", channel="web", account_known=True, account_age_days=900.0,
                     side="buy", symbol="7203", market="TSE_PRIME", adv_jpy=8e10,
                     notional_jpy=3e5, notional_adv=3e5 / 8e10, notional_vs_history=0.8,
                     session_level=2, login_risk=0.3, mins_since_login=5.0, ip_country="JP",
                     ip_kind="residential", hour_jst=10)
TYPICAL = {
    "order": TYPICAL_ORDER,
    "sell": dict(TYPICAL_ORDER, side="sell", sell_share_of_holding=0.5, sold_share_24h=0.1),
    "login": dict(type="login", channel="app", account_known=True, login_risk=0.4,
                  ip_country="JP", ip_kind="mobile", ip_failures=1, ip_accounts=1),
    "withdrawal": dict(type="withdrawal", channel="web", account_known=True, amount_jpy=1e5,
                       withdraw_share=0.1, session_level=3, login_risk=0.2, mins_since_login=3.0),
    "contact_change": dict(type="contact_change", account_known=True, contact_field="email",
                           session_level=3, mins_since_login=2.0),
}

# For every shipped rule: a features object built for it (a typical event plus the signs).
FIRES = {
    "very_risky_login": ("login", dict(login_risk=4.5, new_device=True, new_country=True)),
    "risky_login": ("login", dict(login_risk=2.5, new_device=True)),
    "ip_attack_source": ("login", dict(ip_failures=40, ip_accounts=35)),
    "session_hijack_device_change": ("order", dict(session_device_changed=True)),
    "session_country_change": ("withdrawal", dict(session_country_changed=True)),
    "session_moved_to_anonymiser": ("order", dict(session_asn_changed=True, ip_kind="vpn")),
    "session_network_and_browser_change": ("order", dict(session_asn_changed=True,
                                                         session_ua_changed=True)),
    "quick_action_after_risky_login": ("order", dict(mins_since_risky_login=4.0)),
    "credential_change_after_risky_login": ("contact_change", dict(mins_since_risky_login=120.0,
                                                                   session_level=2)),
    "sell_all_after_risky_login": ("sell", dict(sold_share_24h=0.92, mins_since_risky_login=45.0)),
    "first_illiquid_buy": ("order", dict(illiquid=True, never_bought_illiquid=True, adv_jpy=5e7,
                                         notional_adv=3e5 / 5e7, new_device=True)),
    "first_foreign_buy": ("order", dict(foreign_symbol=True, never_bought_foreign=True,
                                        market="SZSE", adv_jpy=3e8, notional_adv=1e-3,
                                        login_risk=1.2)),
    "notional_large_vs_adv": ("order", dict(notional_adv=0.2, new_device=True)),
    "notional_large_vs_history": ("order", dict(notional_vs_history=8.0, notional_jpy=2.4e6,
                                                foreign_ip=True)),
    "contact_change_then_trade": ("order", dict(mins_since_contact_change=60.0)),
    "mfa_removed_then_action": ("withdrawal", dict(mins_since_mfa_remove=600.0, session_level=2)),
    "bank_change_then_withdrawal": ("withdrawal", dict(mins_since_bank_change=90.0,
                                                       bank_changed_recently=True)),
    "withdraw_most_after_risky_login": ("withdrawal", dict(withdraw_share=0.95,
                                                           mins_since_risky_login=600.0)),
    "recovery_then_money_out": ("withdrawal", dict(mins_since_recovery=600.0)),
    "illiquid_buy_surge_participation": ("order", dict(symbol_pump_score=0.9, new_device=True,
                                                       illiquid=True, adv_jpy=5e7)),
    "pump_beneficiary_sell": ("sell", dict(beneficiary_score=0.85)),
    "restricted_symbol_buy": ("order", dict(symbol_restricted=True)),
}


def features(base: str, **overrides):
    return neutral_features(**(TYPICAL[base] | overrides))


def codes(hits: list[RuleHit]) -> set[str]:
    return {h.code for h in hits}


def test_the_shipped_file_loads_with_provenance():
    text = (ROOT / "src/kabuguard/risk/rules/default.yaml").read_text(encoding="utf-8")
    assert RULES.version == 1
    assert RULES.digest == hashlib.sha256(text.encode()).hexdigest()
    assert load_rules(ROOT / "src/kabuguard/risk/rules/default.yaml").digest == RULES.digest
    for rule in RULES.rules:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", rule.id)
        assert rule.description_ja and rule.description_en
        assert (rule.level is not None) == (rule.outcome == "challenge")


def test_every_shipped_rule_has_a_case_here():
    assert {r.id for r in RULES.rules} == set(FIRES)


@pytest.mark.parametrize("base", sorted(TYPICAL))
def test_ordinary_events_fire_nothing(base):
    assert RULES.evaluate(features(base)) == []


@pytest.mark.parametrize("code", sorted(FIRES))
def test_each_shipped_rule_fires_on_its_case(code):
    base, signs = FIRES[code]
    hits = RULES.evaluate(features(base, **signs))
    assert code in codes(hits)
    hit = next(h for h in hits if h.code == code)
    rule = RULES.rule(code)
    assert (hit.outcome, hit.level, hit.score, hit.shadow) == (rule.outcome, rule.level,
                                                               rule.score, rule.shadow)
    assert hit.description == rule.description_en


@pytest.mark.parametrize("code", sorted(c for c in FIRES if "event_level < 3" in RULES.rule(c).when))
def test_an_action_confirmed_with_a_passkey_passes(code):
    base, signs = FIRES[code]
    assert code not in codes(RULES.evaluate(features(base, **signs, event_level=3)))


@pytest.mark.parametrize(("code", "base", "signs"), [
    ("risky_login", "login", dict(login_risk=1.9)),
    ("very_risky_login", "login", dict(login_risk=3.9)),
    ("sell_all_after_risky_login", "sell", dict(sold_share_24h=0.95, mins_since_risky_login=200.0)),
    ("sell_all_after_risky_login", "sell", dict(sold_share_24h=0.5, mins_since_risky_login=30.0)),
    ("bank_change_then_withdrawal", "withdrawal", dict(mins_since_bank_change=73 * 60.0,
                                                       bank_changed_recently=True)),
    ("notional_large_vs_history", "order", dict(notional_vs_history=1e9, notional_jpy=5e6)),
    ("first_illiquid_buy", "order", dict(illiquid=True, never_bought_illiquid=False)),
    # A customer's session moving from home to the phone network is not a theft sign.
    ("session_moved_to_anonymiser", "order", dict(session_asn_changed=True, ip_kind="mobile")),
    # A new device at home, or an old one abroad, is not by itself a risky login.
    ("risky_login", "login", dict(new_device=True, ip_kind="residential")),
    ("risky_login", "login", dict(foreign_ip=True, ip_kind="vpn")),
    ("first_illiquid_buy", "sell", dict(illiquid=True, never_bought_illiquid=True)),
    # A customer's first small cap from their own device and network (a news surge
    # draws newcomers) is not, by itself, a reason to ask for more.
    ("first_illiquid_buy", "order", dict(illiquid=True, never_bought_illiquid=True)),
    # Habitual small-cap traders place orders large against ADV from their usual place.
    ("notional_large_vs_adv", "order", dict(notional_adv=0.3)),
    ("notional_large_vs_history", "order", dict(notional_vs_history=8.0, notional_jpy=2.4e6)),
    # A news surge: the symbol is hot but this buyer is an ordinary customer in an
    # ordinary session who has bought small caps before.
    ("illiquid_buy_surge_participation", "order", dict(symbol_pump_score=0.9, illiquid=True)),
])
def test_just_short_of_a_rule_does_not_fire_it(code, base, signs):
    assert code not in codes(RULES.evaluate(features(base, **signs)))


def test_login_rules_do_not_apply_to_orders():
    hits = RULES.evaluate(features("order", login_risk=4.5))
    assert not codes(hits) & {"risky_login", "very_risky_login"}


def test_very_risky_login_lists_both_reasons():
    assert {"risky_login", "very_risky_login"} <= codes(RULES.evaluate(features("login", login_risk=5.0)))


def rules_file(*rules: str, version: str = "1") -> str:
    body = "".join(textwrap.indent(textwrap.dedent(r).strip("\n"), "  ") + "\n" for r in rules)
    return f"version: {version}\nrules:\n{body}"


GOOD = """\
- id: good_rule
  when: login_risk >= 2
  outcome: hold
  description_ja: よい規則
  description_en: a good rule
"""


def rule(**fields: str) -> str:
    base = dict(id="bad_rule", when="login_risk >= 2", outcome="hold",
                description_ja="説明", description_en="text")
    base |= fields
    lines = [f"{k}: {v}" for k, v in base.items() if v is not None]
    return "- " + "\n  ".join(lines) + "\n"


def test_a_good_file_loads_from_text_and_path(tmp_path):
    text = rules_file(GOOD, rule(id="other", outcome="challenge", level="otp", score="1.5",
                                 applies_to="[login]"))
    rules = load_rules(text)
    assert [r.id for r in rules.rules] == ["good_rule", "other"]
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_rules(str(path)).digest == rules.digest
    assert rules.rules[1].score == 1.5
    assert rules.rules[1].applies_to == ("login",)


# (the bad rule's fields, the text on the line the error must name, the reason)
BAD = [
    (dict(outcome="block"), "outcome: block", "unknown outcome 'block'"),
    (dict(outcome="challenge"), "outcome: challenge", "a challenge needs a level"),
    (dict(level="otp"), "level: otp", "level applies only to outcome challenge"),
    (dict(outcome="challenge", level="password"), "level: password", "unknown level 'password'"),
    (dict(applies_to="[order, withdrawl]"), "applies_to", "unknown event type 'withdrawl' "
                                                          "(did you mean 'withdrawal'?)"),
    (dict(when="login_risk + 1"), "when:", "must be true/false"),
    (dict(when="notional_jpy"), "when:", "must be true/false"),
    (dict(when="login_rsk >= 2"), "when:", "unknown name 'login_rsk' (did you mean 'login_risk'?)"),
    (dict(when="login_risk >="), "when:", "not a valid expression"),
    (dict(when="'x = 1'"), "when:", "not a valid expression"),
    (dict(when="new_device and login_risk"), "when:", "'and'/'or' combine true/false"),
    (dict(when="side == 'sel'"), "when:", "'sel' is not a value of side"),
    (dict(when="\"'new_devce' in login_reasons\""), "when:", "'new_devce' is not a value of login_reasons"),
    (dict(when="symbol > 3"), "when:", "cannot compare a string 'symbol' > a number '3'"),
    (dict(when="notional_jpy / adv_jpy > 0.1"), "when:", "divide only by a non-zero number"),
    (dict(when="login_risk ** 2 > 4"), "when:", "operator in 'login_risk ** 2' is not allowed"),
    (dict(when="login_risk is 2"), "when:", "comparison 'login_risk is 2' is not allowed"),
    (dict(when="'__import__(\"os\").system(\"true\")'"), "when:", "attribute access"),
    (dict(when="__import__('os') == 1"), "when:", "unknown function '__import__'"),
    (dict(when="().__class__ == 1"), "when:", "attribute access ('.__class__') is not allowed"),
    (dict(when="'login_reasons[0] == \"x\"'"), "when:", "subscripts"),
    (dict(when="'(lambda: True)()'"), "when:", "only min, max, abs may be called"),
    (dict(when="'any(x > 1 for x in (1, 2))'"), "when:", "unknown function 'any'"),
    (dict(when="'[x for x in (1, 2)] == 1'"), "when:", "lambdas and comprehensions"),
    (dict(when="'len(symbol) > 3'"), "when:", "unknown function 'len'"),
    (dict(when="'login_risk(1) > 3'"), "when:", "'login_risk' is a feature, not a function"),
    (dict(when="'max(login_risk) > 3'"), "when:", "max() takes 2 to 8 numbers"),
    (dict(when="'x := 1'"), "when:", "not a valid expression"),
    (dict(when="None == None"), "when:", "the value None is not allowed"),
    (dict(id="Bad-Rule"), "id: Bad-Rule", "must be snake_case"),
    (dict(id="good_rule"), "- id: good_rule", "duplicate id (first at line 3)"),
    (dict(shadow="maybe"), "shadow: maybe", "shadow must be true or false"),
    (dict(score="high"), "score: high", "score must be a number"),
    (dict(score="nan"), "score: nan", "score must be a number"),
    (dict(when="not " * 3000 + "new_device"), "when:", "nested too deeply"),
    (dict(outcom="hold"), "outcom: hold", "unknown field 'outcom' in a rule (did you mean 'outcome'?)"),
    (dict(description_en=None), "- id: bad_rule", "the rule needs 'description_en'"),
]


@pytest.mark.parametrize(("fields", "marker", "reason"), BAD, ids=[b[2][:40] for b in BAD])
def test_a_bad_rule_is_refused_with_file_line_rule_and_reason(fields, marker, reason):
    text = rules_file(GOOD, rule(**fields))
    lines = text.splitlines()
    line = max(i for i, t in enumerate(lines, start=1) if marker in t)
    with pytest.raises(RuleError) as err:
        parse_rules(text, source="my_rules.yaml")
    rule_id = fields.get("id", "bad_rule")
    assert err.value.source == "my_rules.yaml"
    assert err.value.line == line, str(err.value)
    assert err.value.rule == (rule_id if rule_id != "Bad-Rule" else "#2")
    assert reason in err.value.reason
    assert str(err.value).startswith(f"my_rules.yaml:{line}: rule '{err.value.rule}': ")


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("", None, "empty"),
    ("version: 2\nrules: []\n", 1, "unsupported version '2'"),
    ("rules: []\n", 1, "needs 'version'"),
    ("version: 1\nrules: {a: 1}\n", 2, "rules must be a list"),
    ("version: 1\nrules: [\n", 3, "not valid YAML"),
    ("version: 1\nrule: []\n", 2, "unknown field 'rule'"),
])
def test_a_bad_file_is_refused(text, line, reason):
    with pytest.raises(RuleError) as err:
        parse_rules(text, source="f.yaml")
    assert err.value.line == line
    assert reason in err.value.reason


def test_a_missing_file_is_refused_by_name(tmp_path):
    with pytest.raises(RuleError, match=r"no_such\.yaml: cannot read"):
        load_rules(tmp_path / "no_such.yaml")


def test_the_compiled_code_reaches_no_builtins():
    rules = load_rules(rules_file(GOOD))
    conditions = rules._by_type["login"][0]
    assert conditions.__globals__["__builtins__"] == {}
    assert set(conditions.__globals__) == {"__builtins__", "min", "max", "abs"}


def test_shadow_rules_are_reported_as_shadow():
    text = rules_file(GOOD, rule(id="trial", when="new_device", outcome="deny", shadow="true"))
    hits = load_rules(text).evaluate(neutral_features(type="login", login_risk=3.0, new_device=True))
    assert [(h.code, h.shadow) for h in hits] == [("good_rule", False), ("trial", True)]
    shipped = RULES.evaluate(features("order", session_asn_changed=True, session_ua_changed=True))
    assert [(h.code, h.shadow) for h in shipped] == [("session_network_and_browser_change", True)]


def test_applies_to_limits_a_rule_and_unknown_types_get_the_general_rules():
    text = rules_file(GOOD, rule(id="orders_only", when="login_risk >= 2", applies_to="[order]"))
    rules = load_rules(text)
    assert codes(rules.evaluate(neutral_features(type="order", login_risk=3.0))) == {
        "good_rule", "orders_only"}
    assert codes(rules.evaluate(neutral_features(type="withdrawal", login_risk=3.0))) == {"good_rule"}
    assert codes(rules.evaluate(neutral_features(type="producer_extension", login_risk=3.0))) == {
        "good_rule"}


def test_rule_language_features_evaluate_as_python():
    text = rules_file(rule(id="r", when="'max(login_risk, 1) * 2 > 5 and hour_jst in (1, 2, 3) "
                                        "and (\"vpn_or_tor\" in login_reasons if new_ip else True) "
                                        "and \"TSE\" in market and ip_kind != \"\"'"))
    rules = load_rules(text)
    base = dict(type="login", login_risk=3.0, hour_jst=2, market="TSE_GROWTH", ip_kind="vpn")
    assert codes(rules.evaluate(neutral_features(**base))) == {"r"}
    assert codes(rules.evaluate(neutral_features(**base, new_ip=True))) == set()
    assert codes(rules.evaluate(neutral_features(**base, new_ip=True,
                                                 login_reasons=frozenset({"vpn_or_tor"})))) == {"r"}
    assert codes(rules.evaluate(neutral_features(**(base | {"hour_jst": 9})))) == set()


def test_docs_explain_every_feature_and_outcome():
    doc = (ROOT / "docs/risk-rules.md").read_text(encoding="utf-8")
    missing = [name for name in FEATURES if f"`{name}`" not in doc]
    assert missing == []


# ---- the compiled path cannot drift from simpleeval's --------------------------------

NUMBERS = st.one_of(
    st.sampled_from([0, 1, 2, 3, 0.0, 0.1, 0.5, 0.7, 0.8, 0.92, 1.0, 1.9, 2.0, 4.0, 4.5, 5, 14.9, 15,
                     179.0, 180, 1440, 4320, 1e5, 1e6, 5e7, 1e9, -1.0]),
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
    st.integers(min_value=0, max_value=50),
)


def feature_values(name: str) -> st.SearchStrategy:
    spec = FEATURES[name]
    if name == "type":
        return st.sampled_from([*EVENT_TYPES, "producer_extension"])
    if spec.kind == STRS:
        return st.frozensets(st.sampled_from(LOGIN_REASONS))
    if spec.kind == STR:
        return st.sampled_from([*spec.values, "", "JP", "7203", "x"])
    if spec.kind == NUM:
        return NUMBERS
    return st.booleans()


FEATURE_OBJECTS = st.fixed_dictionaries({n: feature_values(n) for n in FEATURES}).map(
    lambda values: neutral_features(**values))


@settings(max_examples=400, deadline=None)
@given(FEATURE_OBJECTS)
def test_shipped_rules_compiled_equal_simpleeval(f):
    assert RULES.evaluate(f) == RULES.evaluate_reference(f)


NUM_NAMES = sorted(n for n, s in FEATURES.items() if s.kind == NUM)
BOOL_NAMES = sorted(n for n, s in FEATURES.items() if s.kind == "bool")
ENUMS = sorted((n, s.values) for n, s in FEATURES.items() if s.kind == STR and s.values)
CONSTANTS = st.one_of(st.integers(-100, 10_000).map(str),
                      st.floats(-1e6, 1e6, allow_nan=False).map(repr))
NONZERO = st.one_of(st.integers(1, 1000), st.floats(0.01, 1e6)).map(repr)


def numeric(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.tuples(children, st.sampled_from("+-*"), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.sampled_from(["/", "//", "%"]), NONZERO).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["min", "max"]), children, children).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        children.map(lambda c: f"abs({c})"),
        children.map(lambda c: f"-({c})"),
    )


NUM_EXPR = st.recursive(st.one_of(st.sampled_from(NUM_NAMES), CONSTANTS), numeric, max_leaves=6)
COMPARE = st.tuples(NUM_EXPR, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), NUM_EXPR).map(
    lambda t: f"({t[0]} {t[1]} {t[2]})")
CHAINED = st.tuples(NUM_EXPR, NUM_EXPR, NUM_EXPR).map(lambda t: f"({t[0]} < {t[1]} <= {t[2]})")
ENUM_TEST = st.sampled_from(ENUMS).flatmap(lambda e: st.tuples(
    st.just(e[0]), st.sampled_from(["==", "!=", "in", "not in"]),
    st.lists(st.sampled_from(e[1]), min_size=1, max_size=3))).map(
    lambda t: f"{t[0]} {t[1]} {t[2][0]!r}" if t[1] in ("==", "!=") else f"{t[0]} {t[1]} {tuple(t[2])!r}")
REASON_TEST = st.sampled_from(LOGIN_REASONS).map(lambda r: f"{r!r} in login_reasons")
BOOL_LEAF = st.one_of(st.sampled_from(BOOL_NAMES), COMPARE, CHAINED, ENUM_TEST, REASON_TEST)


def boolean(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda c: f"not ({c})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
    )


BOOL_EXPR = st.recursive(BOOL_LEAF, boolean, max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(BOOL_EXPR, min_size=1, max_size=4), st.lists(FEATURE_OBJECTS, min_size=1, max_size=5))
def test_random_rules_compiled_equal_simpleeval(conditions, objects):
    doc = {"version": 1, "rules": [
        {"id": f"r{i}", "when": c, "outcome": "hold", "description_ja": "検証", "description_en": "check"}
        for i, c in enumerate(conditions)]}
    rules = parse_rules(yaml.safe_dump(doc, allow_unicode=True))
    for f in objects:
        assert rules.evaluate(f) == rules.evaluate_reference(f)
