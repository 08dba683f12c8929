"""The closed loop (sim/loop.py, sim/run.py) through the real decision point
(StreamGuard), policy only unless a test says otherwise."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from kabuguard.cli import app
from kabuguard.domain.netinfo import IpRanges
from kabuguard.guard.policy import Policy, load_policy
from kabuguard.risk.evaluate import evaluate
from kabuguard.risk.stream import iter_events, read_accounts, read_decisions, read_labels
from kabuguard.risk.stream_guard import StreamGuard
from kabuguard.sim import run as sim_run
from kabuguard.sim.run import Config, run_compare, run_simulation
from kabuguard.sim.scenario import parse_scenario

DEFAULT = resources.files("kabuguard.sim").joinpath("scenarios/default.yaml").read_text(
    encoding="utf-8")
SCHEMA = json.loads(resources.files("kabuguard.domain").joinpath("events.schema.json")
                    .read_text(encoding="utf-8"))
# A busy season, every way in represented in a small population.
ATTACKS = """  attacks:
    realtime_phishing: 0.35
    infostealer_session: 0.1
    credential_stuffing: 0.25
    sim_swap: 0.05
    recovery_abuse: 0.05
    bank_change_withdrawal: 0.1
    low_and_slow: 0.1
"""
START_2025 = date(2025, 4, 1)       # a Tuesday; JSDA interim alternative in force
AFTER_INTERIM = date(2026, 4, 7)    # a Tuesday after 2026-03-31: passkeys only


def policy_guard(policy: Policy, symbols: Any, accounts: Any, _risk: bool,
                 networks: IpRanges) -> StreamGuard:
    """The decision point without the risk engine: the policy's answers alone."""
    return StreamGuard(policy, symbols, accounts, risk=False, ip_ranges=networks)


class FreezeOnUnknownNetwork(StreamGuard):
    """Freezes an account at a successful login from a hosting or VPN address it never
    used (how the crews log in; a traveller's hotel line is residential)."""

    def __init__(self, policy: Policy, symbols: Any, accounts: Any, _risk: bool,
                 networks: IpRanges) -> None:
        super().__init__(policy, symbols, accounts, risk=False, ip_ranges=networks)
        self.known = {a: {n["ip"] for n in r.get("networks", ())} for a, r in accounts.items()}

    def decide(self, event: Any) -> dict[str, Any]:
        out = super().decide(event)
        account = event["account"]
        if (event["type"] == "login" and event.get("outcome") == "success"
                and out["decision"] == "allow" and event.get("ip_kind") in ("hosting", "vpn")
                and event["ip"] not in self.known.get(account, ())):
            self.frozen.add(account)   # the guard denies the account from now on
            out["decision"] = "deny"
            out["reasons"].append("unknown_remote_network")
            out["actions"].append({"type": "freeze_account", "account": account})
        return out


class ChallengeEveryOrder(StreamGuard):
    """The policy, plus an ``otp`` challenge for every order submitted without a
    step-up (a stand-in for a risk engine that distrusts every order)."""

    def __init__(self, policy: Policy, symbols: Any, accounts: Any, _risk: bool,
                 networks: IpRanges) -> None:
        super().__init__(policy, symbols, accounts, risk=False, ip_ranges=networks)

    def decide(self, event: Any) -> dict[str, Any]:
        out = super().decide(event)
        if event["type"] == "order" and out["decision"] == "allow" and not event.get(
                "methods"):
            out.update(decision="challenge", level="otp")
        return out


def busy(rate: int = 600, abandon: float | None = None, attacks: str = ATTACKS) -> Any:
    text = DEFAULT.replace("compromised_per_10k_per_month: 0.37",
                           f"compromised_per_10k_per_month: {rate}")
    head, _, rest = text.partition("  attacks:\n")
    rest = rest[rest.index("  # Relative weight"):]
    text = head + attacks + rest
    if abandon is not None:
        text = text.replace("abandon_share: 0.1", f"abandon_share: {abandon}")
    return parse_scenario(text, source="busy.yaml")


def simulate(tmp: Path, policy: str, *, customers: int = 1500, days: int = 4,
             start: date = START_2025, seed: int = 7, scenario: Any = None,
             decision_point: Any = policy_guard, risk: bool = False) -> dict[str, Any]:
    return run_simulation(customers=customers, days=days, seed=seed,
                          policy=load_policy(policy), risk=risk, out=tmp,
                          scenario=scenario or busy(), start=start,
                          decision_point=decision_point)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


class Run:
    """A run's files, joined by event id."""

    def __init__(self, out: Path, metrics: dict[str, Any]) -> None:
        self.out, self.metrics = out, metrics
        self.events = lines(out / "events.jsonl")
        self.labels = {r["id"]: r for r in lines(out / "labels.jsonl")}
        self.decisions = {r["id"]: r for r in lines(out / "decisions.jsonl")}

    def fraud(self, attack: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if self.labels[e["id"]]["fraud"]
                and (attack is None or self.labels[e["id"]]["attack"] == attack)]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("baseline")
    return Run(out, simulate(out, "baseline_2024"))


@pytest.fixture(scope="module")
def email_otp(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("email")
    return Run(out, simulate(out, "email_otp_mandatory"))


# -- the files ---------------------------------------------------------------------------


def test_every_event_is_valid_and_has_one_label_and_one_decision(baseline):
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for event in baseline.events:
        validator.validate(event)
    ids = [e["id"] for e in baseline.events]
    assert len(ids) == len(set(ids))
    labels = lines(baseline.out / "labels.jsonl")
    decisions = lines(baseline.out / "decisions.jsonl")
    assert [r["id"] for r in labels] == ids
    assert [r["id"] for r in decisions] == ids
    assert {d["decision"] for d in decisions} <= {"allow", "challenge", "hold", "deny"}
    assert all(set(r) >= {"fraud", "campaign", "attack", "can_pass"} for r in labels)
    times = [e["ts"] for e in baseline.events]
    assert times == sorted(times)
    accounts = lines(baseline.out / "accounts.jsonl")
    assert len(accounts) >= 1500
    symbols = lines(baseline.out / "symbols.jsonl")
    assert {e["symbol"] for e in baseline.events if e["type"] == "order"} <= {
        s["symbol"] for s in symbols}
    # Both customers and every kind of crew act in the run.
    kinds = {baseline.labels[e["id"]]["attack"] for e in baseline.fraud()}
    assert {"realtime_phishing", "credential_stuffing", "beneficiary"} <= kinds


def test_metrics_have_the_agreed_shape(baseline):
    m = json.loads((baseline.out / "metrics.json").read_text(encoding="utf-8"))
    assert set(m) >= {"config", "run", "monthly", "by_attack", "friction", "profit", "prices"}
    assert m["config"] == {"name": "baseline_2024", "policy": "baseline_2024", "risk": False}
    assert set(m["run"]) == {"customers", "days", "seed", "scenario", "start", "events",
                             "seconds"}
    assert m["run"]["events"] == len(baseline.events)
    assert [r["month"] for r in m["monthly"]] == ["2025-04"]
    assert set(m["monthly"][0]) == {"month", "accesses", "trades", "sell_jpy", "buy_jpy",
                                    "attempts"}
    phishing = m["by_attack"]["realtime_phishing"]
    assert set(phishing) == {"victims", "attempts", "logins_succeeded",
                             "accounts_with_fraud_trades", "orders_executed",
                             "money_attempted_jpy", "money_lost_jpy", "stopped_share"}
    assert set(m["friction"]) == {"legit_sessions", "challenges",
                                  "challenges_per_1000_sessions", "holds_denials",
                                  "holds_denials_per_1000", "abandoned",
                                  "frozen_legit_accounts", "customers_blocked"}
    assert set(m["profit"]) == {"attacker_profit_jpy", "beneficiary_sells_jpy",
                                "beneficiary_buys_jpy"}
    for series in m["prices"].values():
        assert series["name"] and series["points"]
        assert all(text.endswith("+09:00") and price > 0 for text, price in series["points"])
    # The FSA table counts what the per-attack table does, month by month.
    assert m["monthly"][0]["accesses"] == sum(a["logins_succeeded"]
                                              for a in m["by_attack"].values())
    assert m["monthly"][0]["trades"] == sum(a["orders_executed"]
                                            for a in m["by_attack"].values())


def test_the_evaluation_is_that_of_the_files_read_back(baseline):
    out = baseline.out
    again = evaluate(iter_events(out / "events.jsonl"), read_labels(out / "labels.jsonl"),
                     read_decisions(out / "decisions.jsonl"),
                     accounts=read_accounts(out / "accounts.jsonl")).to_dict()
    assert baseline.metrics["evaluation"] == again
    assert again["overall"]["fraud_events"] == len(baseline.fraud())
    assert (out / "report.html").read_text(encoding="utf-8").count("<svg") >= 1


def test_two_runs_are_byte_identical(tmp_path, baseline):
    again = tmp_path / "again"
    metrics = simulate(again, "baseline_2024")
    for name in ("events.jsonl", "labels.jsonl", "decisions.jsonl", "accounts.jsonl",
                 "symbols.jsonl"):
        assert (again / name).read_bytes() == (baseline.out / name).read_bytes(), name
    first = dict(baseline.metrics, run={**baseline.metrics["run"], "seconds": 0})
    assert dict(metrics, run={**metrics["run"], "seconds": 0}) == first


@pytest.mark.parametrize("workers", [1, 3])
def test_intent_workers_change_nothing_in_the_output(tmp_path, workers):
    inline, forked = tmp_path / "inline", tmp_path / "forked"
    for out, count in ((inline, 0), (forked, workers)):
        run_simulation(customers=700, days=3, seed=11, policy=load_policy("baseline_2024"),
                       risk=False, out=out, scenario=busy(), start=START_2025,
                       decision_point=policy_guard, workers=count)
    for name in ("events.jsonl", "labels.jsonl", "decisions.jsonl"):
        assert (forked / name).read_bytes() == (inline / name).read_bytes(), name
    assert (inline / "events.jsonl").stat().st_size > 0


def test_a_stopped_attempt_carries_nothing_later(baseline, email_otp, tmp_path):
    """The rule the decision point relies on: after a login that opened no session, or
    a challenge its actor could not pass, the session shows nothing more from anyone
    (a crew riding a stolen session included)."""
    jsda = Run(tmp_path / "jsda", simulate(tmp_path / "jsda", "jsda_2025_recommended",
                                           start=AFTER_INTERIM))
    stealers = ATTACKS.replace("infostealer_session: 0.1", "infostealer_session: 0.3").replace(
        "realtime_phishing: 0.35", "realtime_phishing: 0.15")
    risky = Run(tmp_path / "risk", simulate(tmp_path / "risk", "email_otp_mandatory",
                                            scenario=busy(attacks=stealers), risk=True,
                                            decision_point=sim_run.stream_guard))
    checked = 0
    for run in (baseline, email_otp, jsda, risky):
        ended: set[str] = set()
        for e in run.events:
            label, decision = run.labels[e["id"]], run.decisions[e["id"]]
            if e["session"] is None:
                continue
            assert e["session"] not in ended, e
            passable = decision.get("level") in label["can_pass"]
            if decision["decision"] == "challenge" and not passable:
                ended.add(e["session"])
            if e["type"] == "login" and decision["decision"] in ("hold", "deny"):
                ended.add(e["session"])
        checked += len(ended)
    assert checked > 0


# -- directions ---------------------------------------------------------------------------


def test_phishing_relays_pass_one_time_codes_but_stuffed_passwords_do_not(baseline,
                                                                           email_otp):
    base, otp = baseline.metrics["by_attack"], email_otp.metrics["by_attack"]
    # A leaked password is enough without a second factor, not with one.
    assert base["credential_stuffing"]["logins_succeeded"] > 0
    assert otp["credential_stuffing"]["attempts"] > 0
    assert otp["credential_stuffing"]["logins_succeeded"] == 0
    assert otp["credential_stuffing"]["money_lost_jpy"] == 0
    # A real-time relay forwards the code the victim types: it still gets in.
    assert otp["realtime_phishing"]["logins_succeeded"] > 0
    assert otp["realtime_phishing"]["money_lost_jpy"] > 0
    relayed = [e for e in email_otp.fraud("realtime_phishing") if e["type"] == "login"]
    assert relayed and all(e["methods"][0] == "password" and len(e["methods"]) == 2
                           for e in relayed if e["outcome"] == "success")


def test_emoji_for_every_order_is_relayed_too(tmp_path):
    run = Run(tmp_path, simulate(tmp_path, "emoji_all_trades"))
    phishing = run.metrics["by_attack"]["realtime_phishing"]
    assert phishing["logins_succeeded"] > 0 and phishing["orders_executed"] > 0
    orders = [e for e in run.fraud("realtime_phishing") if e["type"] == "order"]
    assert orders and all(e["methods"] == ["emoji"] for e in orders)
    # ... and every customer order asks for one as well (counted as friction).
    legit_orders = [e for e in run.events
                    if e["type"] == "order" and not run.labels[e["id"]]["fraud"]]
    assert legit_orders and all(e.get("methods") == ["emoji"] for e in legit_orders)
    assert run.metrics["friction"]["challenges"] >= len(legit_orders)


def test_passkeys_at_login_stop_every_phishing_login_and_block_customers_without(
        baseline, tmp_path):
    run = Run(tmp_path, simulate(tmp_path, "jsda_2025_mandatory", start=AFTER_INTERIM))
    m = run.metrics
    for attack in ("realtime_phishing", "credential_stuffing", "sim_swap"):
        assert m["by_attack"][attack]["logins_succeeded"] == 0, attack
        assert m["by_attack"][attack]["money_lost_jpy"] == 0, attack
    logins = [e for e in run.fraud() if e["type"] == "login"
              and run.labels[e["id"]]["attack"] != "beneficiary"]
    assert logins and not [e for e in logins if e["outcome"] == "success"]
    assert sum(r["accesses"] for r in m["monthly"]) <= m["by_attack"][
        "infostealer_session"]["logins_succeeded"]
    # The price: the pump that moved the targets under the baseline does not happen.
    assert m["profit"]["attacker_profit_jpy"] < baseline.metrics["profit"][
        "attacker_profit_jpy"]
    # Customers without a passkey cannot log in any more.
    assert m["friction"]["customers_blocked"] > 0
    blocked = [e for e in run.events if e["type"] == "login" and not run.labels[e["id"]][
        "fraud"] and e["outcome"] == "bad_second_factor"]
    assert blocked and all("phishing_resistant" not in run.labels[e["id"]]["can_pass"]
                           for e in blocked)


def test_a_stolen_session_is_replayed_only_while_the_victim_is_logged_in(tmp_path):
    stealers = ATTACKS.replace("realtime_phishing: 0.35", "realtime_phishing: 0.0").replace(
        "infostealer_session: 0.1", "infostealer_session: 0.45")
    run = Run(tmp_path, simulate(tmp_path, "baseline_2024", customers=2500,
                                 scenario=busy(attacks=stealers)))
    opened = {e["session"]: e for e in run.events if e["type"] == "login"
              and e["outcome"] == "success" and not run.labels[e["id"]]["fraud"]}
    devices = {r["account"]: {d["device"] for d in r["devices"]}
               for r in lines(tmp_path / "accounts.jsonl") if "devices" in r}
    replayed = run.fraud("infostealer_session")
    assert replayed
    for e in replayed:
        login = opened[e["session"]]   # the victim's own session, opened before
        assert login["account"] == e["account"] and login["ts"] <= e["ts"]
        # From the crew's address, with a cookie stolen from one of the victim's devices.
        assert e["ip"] != login["ip"] and e["ip_kind"] in ("hosting", "vpn")
        assert e["device"] in devices[e["account"]]
        assert e["type"] != "logout"   # a crew does not log its victim out
    tally = run.metrics["by_attack"]["infostealer_session"]
    assert 0 < tally["logins_succeeded"] <= tally["attempts"]
    assert tally["orders_executed"] > 0
    assert not [e for e in replayed if e["type"] == "login"]


def test_a_pump_shows_in_the_price_and_pays_the_crew(baseline):
    prices = baseline.metrics["prices"]
    assert prices
    rises = []
    for series in prices.values():
        first = series["points"][0][1]
        rises.append(max(p for _, p in series["points"]) / first)
    assert max(rises) > 1.05
    assert baseline.metrics["profit"]["beneficiary_sells_jpy"] > 0


def test_a_frozen_account_stops_its_attacker(tmp_path):
    run = Run(tmp_path, simulate(tmp_path, "baseline_2024",
                                 decision_point=FreezeOnUnknownNetwork))
    frozen_at: dict[str, int] = {}
    for n, e in enumerate(run.events):
        for action in run.decisions[e["id"]]["actions"]:
            if action["type"] == "freeze_account":
                frozen_at.setdefault(action["account"], n)
    victims = {e["account"] for e in run.fraud() if run.labels[e["id"]]["attack"]
               not in ("beneficiary", "low_and_slow")}
    assert victims & set(frozen_at)
    for account, n in frozen_at.items():
        later = [e for e in run.events[n + 1:]
                 if e["account"] == account and run.labels[e["id"]]["fraud"]]
        assert later == [], account
    m = run.metrics["by_attack"]
    assert m["realtime_phishing"]["orders_executed"] == 0
    assert m["realtime_phishing"]["logins_succeeded"] == 0


def test_a_frozen_customer_tries_until_the_end_of_the_day(tmp_path):
    run = Run(tmp_path, simulate(tmp_path, "baseline_2024",
                                 decision_point=FreezeOnUnknownNetwork, days=5))
    frozen_day: dict[str, str] = {}
    for e in run.events:
        if run.labels[e["id"]]["fraud"]:
            continue
        day = e["ts"][:10]
        if e["account"] in frozen_day:
            assert day == frozen_day[e["account"]], e
            assert run.decisions[e["id"]]["decision"] == "deny"
        if any(a["type"] == "freeze_account" for a in run.decisions[e["id"]]["actions"]):
            frozen_day[e["account"]] = day
    for e in run.events:   # a crew's login froze the victim: its customer is denied
        if e["account"] in frozen_day and not run.labels[e["id"]]["fraud"]:
            assert run.decisions[e["id"]]["decision"] == "deny"
    assert run.metrics["friction"]["customers_blocked"] >= len(frozen_day)


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_customers_abandon_the_scenarios_share_of_passable_challenges(tmp_path, share):
    run = Run(tmp_path, simulate(tmp_path, "baseline_2024", scenario=busy(abandon=share),
                                 customers=800, days=3, decision_point=ChallengeEveryOrder))
    friction = run.metrics["friction"]
    challenged = [e for e in run.events if not run.labels[e["id"]]["fraud"]
                  and run.decisions[e["id"]]["decision"] == "challenge"]
    passable = [e for e in challenged if "otp" in run.labels[e["id"]]["can_pass"]]
    assert passable
    assert friction["abandoned"] == (len(passable) if share else 0)
    # Whoever gives up or cannot pass ends the session: nothing of it follows.
    after = {(e["session"]) for e in challenged
             if share or "otp" not in run.labels[e["id"]]["can_pass"]}
    seen: dict[str, int] = defaultdict(int)
    for e in run.events:
        if e["session"] in after and not run.labels[e["id"]]["fraud"]:
            seen[e["session"]] += 1
    assert all(count == 2 for count in seen.values())   # its login and the order


def test_the_risk_engine_runs_in_the_loop(tmp_path):
    """With risk on, the loop still keeps its promises (one decision and label per
    event, nothing after a stopped attempt) and the engine's answers reach the books."""
    metrics = run_simulation(customers=1200, days=3, seed=5,
                             policy=load_policy("baseline_2024"), risk=True, out=tmp_path,
                             scenario=busy(), start=START_2025)
    run = Run(tmp_path, metrics)
    assert metrics["config"]["name"] == "baseline_2024+risk"
    assert len(run.decisions) == len(run.labels) == len(run.events)
    verdicts = {d["decision"] for d in run.decisions.values()}
    assert verdicts - {"allow"}   # the engine asked, held or denied something
    assert metrics["evaluation"]["overall"]["fraud_events"] == len(run.fraud())


# -- comparison and command line ---------------------------------------------------------


def test_compare_runs_every_configuration_on_the_same_customers_and_crews(tmp_path):
    configs = [Config(load_policy(name), False)
               for name in ("baseline_2024", "email_otp_mandatory")]
    result = run_compare(customers=600, days=2, seed=3, out=tmp_path, scenario=busy(),
                         start=START_2025, decision_point=policy_guard, configs=configs)
    assert [c["config"]["name"] for c in result["configs"]] == ["baseline_2024",
                                                                "email_otp_mandatory"]
    assert set(result["run"]) == {"customers", "days", "seed", "scenario", "start",
                                  "seconds"}
    saved = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert [c["config"] for c in saved["configs"]] == [c["config"] for c in result["configs"]]
    base, otp = (Run(tmp_path / c.name, m) for c, m in zip(configs, result["configs"],
                                                            strict=True))
    # The same intents: the same crews attempt the same victims, at the same times.
    assert [e["id"] for e in base.fraud() if e["type"] == "login"][:5] == [
        e["id"] for e in otp.fraud() if e["type"] == "login"][:5]
    for attack, tally in base.metrics["by_attack"].items():
        assert tally["victims"] == otp.metrics["by_attack"][attack]["victims"]
    assert (tmp_path / "baseline_2024" / "accounts.jsonl").is_file()


def test_the_configurations_compared_are_the_five_presets_with_and_without_risk():
    names = [c.name for c in sim_run.compared_configs()]
    assert len(names) == 10
    assert "jsda_2025_mandatory+risk" in names and "emoji_all_trades" in names


def test_the_command_runs_one_configuration_and_a_comparison(tmp_path, monkeypatch):
    one = tmp_path / "one"
    result = CliRunner().invoke(app, ["simulate", "--customers", "300", "--days", "2",
                                      "--seed", "2", "--policy", "email_otp_mandatory",
                                      "--start", "2025-04-01", "--out", str(one)])
    assert result.exit_code == 0, result.output
    for name in ("symbols.jsonl", "accounts.jsonl", "events.jsonl", "labels.jsonl",
                 "decisions.jsonl", "metrics.json"):
        assert (one / name).is_file(), name
    saved = json.loads((one / "metrics.json").read_text(encoding="utf-8"))
    assert saved["config"]["name"] == "email_otp_mandatory+risk"
    assert (one / "report.html").is_file()
    assert saved["run"]["customers"] == 300 and saved["run"]["start"] == "2025-04-01"
    monkeypatch.setattr(sim_run, "COMPARED_PRESETS", ("baseline_2024", "emoji_all_trades"))
    both = tmp_path / "both"
    result = CliRunner().invoke(app, ["simulate", "--compare", "--customers", "200",
                                      "--days", "1", "--out", str(both)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in both.iterdir() if p.is_dir()) == [
        "baseline_2024", "baseline_2024+risk", "emoji_all_trades", "emoji_all_trades+risk"]
    assert len(json.loads((both / "metrics.json").read_text())["configs"]) == 4
    assert (both / "report.html").is_file()


def test_the_command_names_a_bad_policy_in_one_line(tmp_path):
    result = CliRunner().invoke(app, ["simulate", "--policy", "nope", "--out",
                                      str(tmp_path)])
    assert result.exit_code == 2
    assert "nope" in result.output and "Traceback" not in result.output


def test_the_fsa_table_has_a_row_per_month_of_the_run(tmp_path):
    metrics = simulate(tmp_path, "baseline_2024", customers=800, days=4,
                       start=date(2025, 3, 30))
    rows = metrics["monthly"]
    assert [r["month"] for r in rows] == ["2025-03", "2025-04"]
    run = Run(tmp_path, metrics)
    for row in rows:
        logins = [e for e in run.fraud() if e["type"] == "login" and e["ts"][:7] == row[
            "month"] and run.labels[e["id"]]["attack"] != "beneficiary"]
        assert row["attempts"] >= len(logins)
        assert row["accesses"] <= row["attempts"]
    assert sum(r["attempts"] for r in rows) > 0
