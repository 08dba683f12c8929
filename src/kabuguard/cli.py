"""The ``kabuguard`` command line (Typer + Rich).

User mistakes (bad configuration, a database that cannot be reached, a missing file)
end in one red line and exit status 1 or 2, never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import OperationalError

from kabuguard import __version__
from kabuguard.crypto import KeyError_
from kabuguard.domain.errors import KabuguardError
from kabuguard.settings import ConfigError, Settings, load_settings

app = typer.Typer(help="kabuguard: account-takeover defence for online brokerages.",
                  no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
export_app = typer.Typer(help="Export reference data.", no_args_is_help=True)
leaked_app = typer.Typer(help="Leaked credential (combo) lists.", no_args_is_help=True)
notify_app = typer.Typer(help="Notices to customers: the outbox, delivery, dead letters.",
                         no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(leaked_app, name="leaked")
app.add_typer(notify_app, name="notify")
app.add_typer(audit_app, name="audit")
app.add_typer(export_app, name="export")
sim_app = typer.Typer(help="The attack simulator.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")

out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


class CliError(Exception):
    """A failure to report as one line."""


def friendly(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConfigError, KeyError_, CliError, KabuguardError) as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(2) from None
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            err.print(f"[red]error:[/red] cannot use the database: {reason}", highlight=False)
            raise typer.Exit(1) from None
        except OSError as exc:
            err.print(f"[red]error:[/red] {exc.strerror or exc}: {exc.filename or ''}",
                      highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        out.print(f"kabuguard {__version__}")
        raise typer.Exit


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """kabuguard command line."""


def _settings(**overrides: Any) -> Settings:
    return load_settings(**{k: v for k, v in overrides.items() if v is not None})


@db_app.command("upgrade")
@friendly
def db_upgrade(revision: str = "head") -> None:
    """Apply the database migrations (creates the SQLite file if needed)."""
    from kabuguard.store.database import Database
    from kabuguard.store.migrate import upgrade

    settings = _settings()
    Database(settings.database_url).dispose()  # creates the SQLite folder
    upgrade(settings.database_url, revision)
    out.print(f"database is at revision {revision}: {_safe_url(settings.database_url)}")


@db_app.command("check")
@friendly
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    from alembic.util.exc import CommandError

    from kabuguard.store.database import Database
    from kabuguard.store.migrate import check

    settings = _settings()
    Database(settings.database_url).dispose()  # creates the SQLite folder
    try:
        check(settings.database_url)
    except CommandError as exc:
        raise CliError(str(exc)) from None
    out.print("models and migrations agree")


@app.command()
@friendly
def seed() -> None:
    """Create the demo customers (idempotent)."""
    _seed(_settings())


def _seed(settings: Settings) -> None:
    from kabuguard.container import build_services
    from kabuguard.seed import DEMO_CUSTOMERS, seed_demo

    services = build_services(settings)
    try:
        created = seed_demo(services)
    finally:
        services.close()
    out.print(f"seeded {len(created)} new demo customers")
    out.print("demo logins (login id / password):")
    for demo in DEMO_CUSTOMERS:
        out.print(f"  {demo.login_id:8} / {demo.password}   ({demo.name})", highlight=False)


@app.command()
@friendly
def serve(
    host: Annotated[str | None, typer.Option(help="Host name to bind (loopback by default).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help=(
        "Worker processes (use more than one with PostgreSQL; SQLite serializes "
        "writers anyway)."))] = 1,
) -> None:
    """Serve the web site, the operations console and the JSON API."""
    _serve(_settings(host=host, port=port), workers=workers)


def _serve(settings: Settings, *, workers: int = 1) -> None:
    import uvicorn

    from kabuguard.logs import configure_logging
    from kabuguard.web.app import create_app

    configure_logging()
    out.print(f"serving on http://{settings.host}:{settings.port}/ (Ctrl+C stops)")
    common = {"host": settings.host, "port": settings.port, "log_level": "warning",
              "proxy_headers": False}
    if workers > 1:
        # Each worker process builds its own app from the same environment.
        os.environ["KABUGUARD_HOST"], os.environ["KABUGUARD_PORT"] = (
            settings.host, str(settings.port))
        uvicorn.run("kabuguard.web.app:app_from_environment", factory=True,
                    workers=workers, **common)
        return
    uvicorn.run(create_app(settings), **common)


@app.command()
@friendly
def demo(
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    traffic: Annotated[bool, typer.Option(
        "--traffic/--no-traffic",
        help="Feed simulated customers and attackers to the app's decision API.")] = True,
) -> None:
    """Migrate, seed the demo customers and serve on http://localhost:8000."""
    from kabuguard.store.database import Database
    from kabuguard.store.migrate import upgrade

    settings = _settings(port=port, mode="demo")
    Database(settings.database_url).dispose()
    upgrade(settings.database_url)
    settings = _demo_mail(settings)
    _seed(settings)
    if traffic:
        _demo_traffic(settings)
    _serve(settings)


# The demo's live traffic: a simulated brokerage of this many customers over a week,
# with attacks far denser than 2025's national rate so that a few minutes show some.
DEMO_TRAFFIC_CUSTOMERS = 2_000
DEMO_TRAFFIC_DAYS = 7
DEMO_TRAFFIC_RATE = 300.0
DEMO_TRAFFIC_SPEEDUP = 600.0


def _demo_traffic(settings: Settings) -> None:
    """Start feeding simulated traffic to the served app's decision API, in a daemon
    thread: a key of its own (earlier demo keys revoked), a simulation written beside
    the database, then its events sent over and over at an accelerated pace."""
    import threading
    from datetime import date

    from kabuguard.container import build_services
    from kabuguard.guard.policy import load_policy
    from kabuguard.risk.api_keys import ApiKeyService
    from kabuguard.risk.stream import iter_events
    from kabuguard.sim.live import Feeder, FeedError, wait_until_up
    from kabuguard.sim.run import run_simulation
    from kabuguard.sim.scenario import load_scenario, with_attack_rate

    services = build_services(settings)
    try:
        keys = ApiKeyService(services.db, journal=services.journal, clock=services.identity.clock)
        for old in keys.list():
            if old.name == "demo-traffic" and old.revoked_at is None:
                keys.revoke(old.id, by="demo")
        _info, key = keys.create(name="demo-traffic", scopes=("events:write",), created_by="demo")
    finally:
        services.close()
    base = settings.sqlite_path()
    folder = (base.parent if base else Path("var")) / "sim-live"
    url = f"http://localhost:{settings.port}"
    scenario = with_attack_rate(load_scenario(None), DEMO_TRAFFIC_RATE)

    def feed() -> None:
        run_simulation(customers=DEMO_TRAFFIC_CUSTOMERS, days=DEMO_TRAFFIC_DAYS, seed=1,
                       policy=load_policy("email_otp_mandatory"), risk=False, out=folder,
                       scenario=scenario, start=date(2025, 7, 1), workers=0)
        if not wait_until_up(url):
            return
        feeder = Feeder(url, key, speedup=DEMO_TRAFFIC_SPEEDUP)
        rounds = 0
        while True:
            try:
                feeder.run(iter_events(folder / "events.jsonl"), prefix=f"live{rounds}-")
            except FeedError as exc:
                err.print(f"[yellow]demo traffic stopped:[/yellow] {exc}", highlight=False)
                return
            rounds += 1

    threading.Thread(target=feed, name="demo-traffic", daemon=True).start()
    out.print(f"live traffic: {DEMO_TRAFFIC_CUSTOMERS:,} simulated customers and attack crews "
              f"feed POST /api/v1/events ({DEMO_TRAFFIC_SPEEDUP:.0f}x real time; "
              "--no-traffic turns it off)", highlight=False)


def _demo_mail(settings: Settings) -> Settings:
    """Without a mail server configured, the demo writes every notice (e-mail, and SMS
    and app push unless those have gateways) into a Maildir folder beside the database,
    where one-time codes can be read as files."""
    if settings.smtp_url:
        out.print(f"e-mail notices go to {_safe_url(settings.smtp_url)}", highlight=False)
        return settings
    base = settings.sqlite_path()
    folder = ((base.parent if base else Path("var")) / "mail").resolve()
    url = f"maildir://{folder}"
    overrides = {"smtp_url": url,
                 "sms_webhook_url": settings.sms_webhook_url or url,
                 "push_webhook_url": settings.push_webhook_url or url}
    out.print(f"notices (e-mail, SMS, app push) are written to {folder / 'new'}: "
              "one file per message", highlight=False)
    return settings.model_copy(update=overrides)


@audit_app.command("verify")
@friendly
def audit_verify() -> None:
    """Check the audit chain; name the first record that was edited, deleted or moved."""
    from kabuguard.container import build_services

    services = build_services(_settings())
    try:
        with services.db.read() as session:
            result = services.audit.verify(session)
    finally:
        services.close()
    if result.ok:
        out.print(f"[green]audit chain intact[/green]: {result.checked} records verified")
        return
    err.print(f"[red]audit chain broken[/red] at record {result.first_bad_seq}: "
              f"{result.problem} — {result.detail} ({result.checked} records verified before it)",
              highlight=False)
    raise typer.Exit(1)


@audit_app.command("export-bundle")
@friendly
def audit_export_bundle(
    account: Annotated[str, typer.Option("--account", help="The customer account.")],
    out_file: Annotated[Path, typer.Option("--out", help="The bundle to write (.zip).")],
) -> None:
    """Write an evidence bundle for investigators: the account's events, decisions and
    audit records, signed, with the hash-chain proof (checked by `audit verify-bundle`)."""
    from kabuguard.audit.services import derive_audit_key
    from kabuguard.container import build_services
    from kabuguard.ops.evidence import BundleSigner, audit_key_id, export_account_bundle

    settings = _settings()
    services = build_services(settings)
    try:
        result = export_account_bundle(
            services.db, journal=services.journal,
            signer=BundleSigner.from_secret(settings.data_keys[0]),
            mac_key_id=audit_key_id(derive_audit_key(settings.data_keys[0])), account=account,
            out=out_file, exported_by=_operator(), now=services.identity.clock())
    finally:
        services.close()
    counts = ", ".join(f"{v:,} {k}" for k, v in result.counts.items())
    out.print(f"wrote {result.path}: {counts}; chain head {result.head_seq}", highlight=False)
    out.print(f"signing key id [bold]{result.key_id}[/bold] — give it to the investigators "
              "separately, so they can check who signed the bundle:", highlight=False)
    out.print(result.public_pem.strip(), highlight=False)


@audit_app.command("verify-bundle")
@friendly
def audit_verify_bundle(
    bundle: Annotated[Path, typer.Argument(help="The evidence bundle (.zip).")],
    key_id: Annotated[str | None, typer.Option(
        "--key-id", help="The signing key id the firm gave you; any other signer fails.")] = None,
    firm_key: Annotated[bool, typer.Option(
        "--firm-key", help="Also check the audit records' HMACs with this installation's "
                           "key (KABUGUARD_DATA_KEY): for the firm itself.")] = False,
) -> None:
    """Check an evidence bundle offline; name the first record altered, missing or moved,
    or a bad signature."""
    from kabuguard.ops.evidence import bundle_summary, verify_bundle
    from kabuguard.ops.interfaces import BundleUnreadable

    audit_key = None
    if firm_key:
        from kabuguard.audit.services import derive_audit_key

        audit_key = derive_audit_key(_settings().data_keys[0])
    try:
        result = verify_bundle(bundle, key_id=key_id, audit_key=audit_key)
    except BundleUnreadable as exc:
        raise CliError(str(exc)) from None
    if result.ok:
        out.print(f"[green]{bundle_summary(result)}[/green]", highlight=False)
        if key_id is None:
            out.print(f"[yellow]note:[/yellow] compare the signing key id {result.key_id} with "
                      "the one the firm gave you (or pass --key-id)", highlight=False)
        return
    err.print(f"[red]{bundle_summary(result)}[/red]", highlight=False)
    for problem in result.problems[1:]:
        err.print(f"  also: {problem}", highlight=False)
    raise typer.Exit(1)


@export_app.command("symbols")
@friendly
def export_symbols(
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="File to write (default: stdout).")] = None,
) -> None:
    """Write the symbol master in the EVENTS.md symbols.jsonl format."""
    from kabuguard.broker.symbols import load_symbols

    lines = [json.dumps(s.to_interchange(), ensure_ascii=False) for s in load_symbols().values()]
    text = "\n".join(lines) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {len(lines)} symbols to {output}")


@sim_app.command("population")
@friendly
def sim_population(
    out: Annotated[Path, typer.Option("--out", help="Directory to write (created if missing).")],
    customers: Annotated[int, typer.Option(min=0, help="Number of customers.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Same seed, same population.")] = 1,
    scenario: Annotated[Path | None, typer.Option(
        "--scenario", help="Scenario YAML (default: the shipped default.yaml).")] = None,
) -> None:
    """Write a simulated population: accounts.jsonl, symbols.jsonl, ip_ranges.csv."""
    from datetime import UTC, datetime

    from rich.progress import Progress

    from kabuguard.broker.symbols import load_symbols
    from kabuguard.sim.export import write_population
    from kabuguard.sim.scenario import ScenarioError, load_scenario

    try:
        loaded = load_scenario(scenario)
    except ScenarioError as exc:
        raise CliError(str(exc)) from None
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("customers", total=customers)
        result = write_population(
            out, loaded, customers=customers, seed=seed, symbols=load_symbols().values(),
            as_of=datetime(2025, 4, 1, tzinfo=UTC),
            progress=lambda done: progress.update(task, completed=done))
    err.print(f"wrote {result.customers} customers to {out}")


def _count_lines(path: Path) -> int:
    """Lines in a file, for a progress bar's total (cheap: bytes, not JSON)."""
    count = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            count += chunk.count(b"\n")
    return count


@app.command("replay")
@friendly
def replay_command(
    symbols: Annotated[Path, typer.Option("--symbols", help="symbols.jsonl (EVENTS.md).")],
    events: Annotated[Path, typer.Option("--events", help="events.jsonl, in time order.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for decisions.jsonl.")],
    accounts: Annotated[Path | None, typer.Option(
        "--accounts", help="accounts.jsonl: the snapshot at the stream's start.")] = None,
    policy: Annotated[str, typer.Option(
        "--policy", help="Policy preset name or YAML file.")] = "jsda_2025_mandatory",
    rules: Annotated[Path | None, typer.Option(
        "--rules", help="Risk rules YAML (default: the shipped rules).")] = None,
    no_risk: Annotated[bool, typer.Option(
        "--no-risk", help="Policy alone, without the risk engine.")] = False,
    ip_ranges: Annotated[Path | None, typer.Option(
        "--ip-ranges", help="cidr,country,asn,kind table (default: ip_ranges.csv beside "
                            "the events, else KABUGUARD_IP_RANGES).")] = None,
) -> None:
    """Decide every event of a stream, as the guard would have: decisions.jsonl."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from kabuguard.guard.interfaces import PolicyError
    from kabuguard.guard.policy import load_policy
    from kabuguard.risk.replay import replay
    from kabuguard.risk.rules import RuleError, load_rules
    from kabuguard.risk.stream import StreamError

    for path in (symbols, events, accounts, rules, ip_ranges):
        if path is not None and not path.is_file():
            raise CliError(f"{path}: no such file")
    try:
        loaded_policy = load_policy(policy)
        loaded_rules = load_rules(rules) if rules is not None else None
    except (PolicyError, RuleError) as exc:
        raise CliError(str(exc)) from None
    total = _count_lines(events)
    try:
        with Progress("[progress.description]{task.description}", BarColumn(),
                      MofNCompleteColumn(), TimeRemainingColumn(), console=err,
                      transient=True) as progress:
            task = progress.add_task("events", total=total)
            result = replay(symbols=symbols, accounts=accounts, events=events, out=out,
                            policy=loaded_policy, rules=loaded_rules, risk=not no_risk,
                            ip_ranges=ip_ranges,
                            progress=lambda n: progress.advance(task, n))
    except (StreamError, ValueError) as exc:
        raise CliError(str(exc)) from None
    summary = ", ".join(f"{k} {v:,}" for k, v in sorted(result.decisions.items()))
    err.print(f"decided {result.events:,} events ({summary}); {result.alerts:,} alerts; "
              f"wrote {result.out / 'decisions.jsonl'}")


@sim_app.command("feed")
@friendly
def sim_feed(
    directory: Annotated[Path, typer.Option("--from", help="A simulation's output directory.")],
    key: Annotated[str, typer.Option("--key", envvar="KABUGUARD_API_KEY",
                                     help="Decision API key (or KABUGUARD_API_KEY).")],
    url: Annotated[str, typer.Option("--url", help="The served app (this machine only).")
                   ] = "http://localhost:8000",
    speedup: Annotated[float, typer.Option(min=1.0, help="Simulated seconds per real second.")
                       ] = 600.0,
    rounds: Annotated[int, typer.Option(min=1, help="Times to send the stream.")] = 1,
) -> None:
    """Send a simulation's events, paced, to a served app's decision API."""
    from kabuguard.risk.stream import StreamError, iter_events
    from kabuguard.sim.live import Feeder, FeedError

    events = directory / "events.jsonl"
    if not events.is_file():
        raise CliError(f"{events}: no such file (run `kabuguard simulate --out {directory}`)")
    try:
        feeder = Feeder(url, key, speedup=speedup)
        for n in range(rounds):
            feeder.run(iter_events(events), prefix=f"feed{n}-")
    except (ValueError, FeedError, StreamError) as exc:
        raise CliError(str(exc)) from None
    stats = feeder.stats
    summary = ", ".join(f"{k} {v:,}" for k, v in sorted(stats.decisions.items()))
    err.print(f"sent {stats.sent:,} events in {stats.batches:,} batches ({summary})")


@leaked_app.command("import")
@friendly
def leaked_import(
    file: Annotated[Path, typer.Argument(help="The combo list: one login_id:password a line.")],
    source: Annotated[str, typer.Option("--source", help=(
        "Where the list was found (shown in the console), e.g. 'forum-2025-06'."))],
    workers: Annotated[int, typer.Option(min=1, max=16, help=(
        "Threads verifying passwords (argon2id: about 19 MiB each)."))] = 2,
) -> None:
    """Match a leaked combo list against the customers; flag, log out and notify each match."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from kabuguard.container import build_services
    from kabuguard.identity.leaked import validate_source

    name = validate_source(source)
    with file.open("rb") as probe:  # a missing or unreadable file fails before any work
        probe.read(1)
    total = file.stat().st_size
    services = build_services(_settings())
    try:
        with Progress("[progress.description]{task.description}", BarColumn(),
                      DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                      console=err, transient=True) as progress:
            task = progress.add_task(f"importing {file.name}", total=total)
            summary = services.leaked.import_file(
                file, source=name, workers=workers,
                on_progress=lambda done: progress.update(task, completed=done))
    finally:
        services.close()
    out.print(f"imported {file.name} as {name!r}", highlight=False)
    table = Table(show_header=False)
    for label, value in (
            ("lines", summary.lines), ("blank or comment", summary.skipped),
            ("malformed", summary.malformed), ("not UTF-8", summary.undecodable),
            ("known login ids", summary.known_login_ids),
            ("verified matches", summary.verified), ("new matches", summary.new_matches),
            ("already known", summary.already_known),
            ("wrong password", summary.not_matching)):
        table.add_row(label, f"{value:,}")
    table.add_row("time", f"{summary.seconds:.1f} s")
    out.print(table)
    if summary.new_matches:
        out.print(f"[yellow]{summary.new_matches} customer(s) flagged[/yellow]: logged out, "
                  "notified, new password required")


@leaked_app.command("list")
@friendly
def leaked_list(
    status: Annotated[str | None, typer.Option(help="Only 'open' or 'resolved' matches.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 500,
) -> None:
    """Show the matches found by imports, newest first."""
    from kabuguard.container import build_services
    from kabuguard.identity.leaked import MatchStatus

    if status is not None and status not in set(MatchStatus):
        raise CliError(f"--status must be one of: {', '.join(MatchStatus)}")
    services = build_services(_settings())
    try:
        matches = services.leaked.list_matches(
            status=MatchStatus(status) if status else None, limit=limit)
    finally:
        services.close()
    table = Table(title=f"leaked credential matches ({len(matches)})")
    for column in ("customer", "source", "imported (UTC)", "line", "status", "resolved (UTC)"):
        table.add_column(column)
    for m in matches:
        table.add_row(m.customer_id, m.source, m.imported_at.strftime("%Y-%m-%d %H:%M"),
                      str(m.line_number), m.status,
                      m.resolved_at.strftime("%Y-%m-%d %H:%M") if m.resolved_at else "")
    out.print(table)


@notify_app.command("dispatch")
@friendly
def notify_dispatch(
    loop: Annotated[bool, typer.Option("--loop", help="Keep delivering until Ctrl+C.")] = False,
    interval: Annotated[float, typer.Option(min=0.2, help="Seconds between passes.")] = 2.0,
) -> None:
    """Deliver the due notices once (or keep doing so with --loop)."""
    import time

    from kabuguard.container import build_services

    services = build_services(_settings())
    try:
        while True:
            result = services.dispatcher.dispatch_once()
            if result or not loop:
                out.print(f"sent {result.sent}, retrying {result.retrying}, dead {result.dead}")
            if not loop:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        return
    finally:
        services.close()


@notify_app.command("list")
@friendly
def notify_list(
    status: Annotated[str | None, typer.Option(
        help="pending, sending, sent or dead (dead: the dead letters).")] = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer's notices.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """The newest notices, without their text and with masked addresses."""
    from rich.table import Table

    from kabuguard.container import build_services
    from kabuguard.web.i18n import format_jst

    services = build_services(_settings())
    try:
        rows = services.outbox.list(status=status, customer_id=customer, limit=limit)
        counts = services.outbox.counts()
    finally:
        services.close()
    table = Table(title=f"notices ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})"
                  if counts else "notices")
    for column in ("id", "created (JST)", "customer", "kind", "medium", "to", "status",
                   "tries", "next / sent (JST)", "last error"):
        table.add_column(column, overflow="fold")
    for n in rows:
        when = n.sent_at if n.status == "sent" else n.next_attempt_at
        table.add_row(n.id, format_jst(n.created_at), n.customer_id, n.kind, n.medium,
                      n.address, n.status, str(n.attempts), format_jst(when),
                      n.last_error or "")
    out.print(table)
    if not rows:
        out.print("no notices match")


@notify_app.command("retry")
@friendly
def notify_retry(
    notice_id: Annotated[str | None, typer.Argument(help="The dead notice to re-queue.")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Re-queue every dead notice.")] = False,
) -> None:
    """Put dead notices back in the queue (after fixing what made them fail)."""
    from kabuguard.container import build_services

    if bool(notice_id) == all_dead:
        raise CliError("name one notice id, or give --all-dead")
    services = build_services(_settings())
    try:
        if all_dead:
            out.print(f"re-queued {services.outbox.retry_all_dead()} dead notices")
        else:
            assert notice_id is not None  # noqa: S101 - checked above
            services.outbox.retry(notice_id)
            out.print(f"re-queued {notice_id}")
    finally:
        services.close()


@notify_app.command("webhook-key")
@friendly
def notify_webhook_key() -> None:
    """Print the key the SMS and push gateways use to check kabuguard's signature
    (hex; derived from KABUGUARD_DATA_KEY, so it changes when that key does)."""
    from kabuguard.notify.webhook import webhook_key

    out.print(webhook_key(_settings().data_keys[0]).hex(), highlight=False)


# -- kabuguard apikey: keys of the firm's systems calling the decision API ------------

apikey_app = typer.Typer(help="API keys for the decision API (POST /api/v1/events).",
                         no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")


def _api_keys() -> tuple[Any, Any]:
    from kabuguard.container import build_services
    from kabuguard.risk.api_keys import ApiKeyService

    services = build_services(_settings())
    return services, ApiKeyService(services.db, journal=services.journal,
                                   clock=services.identity.clock)


def _operator() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


@apikey_app.command("create")
@friendly
def apikey_create(
    name: Annotated[str, typer.Option("--name", help="What calls with it, e.g. 'order-gateway'.")],
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", help="events:write and/or feedback:write (repeat; default: both).")] = None,
) -> None:
    """Create a key and print it once (only its hash is kept)."""
    services, keys = _api_keys()
    try:
        info, key = keys.create(name=name, scopes=scope or (), created_by=_operator())
    finally:
        services.close()
    err.print(f"created {info.id} ({info.name}), prefix {info.prefix}, scopes "
              f"{' '.join(sorted(info.scopes))}. The key is shown only now; store it in the "
              "calling system's secret store:", highlight=False)
    sys.stdout.write(key + "\n")  # alone on stdout, so `… | secret-store put` works


@apikey_app.command("list")
@friendly
def apikey_list() -> None:
    """Every key (never the secret), newest first."""
    from kabuguard.web.i18n import format_jst

    services, keys = _api_keys()
    try:
        rows = keys.list()
    finally:
        services.close()
    table = Table(title=f"API keys ({len(rows)})")
    for column in ("id", "name", "prefix", "scopes", "created (JST)", "by", "last used (JST)",
                   "revoked (JST)"):
        table.add_column(column, overflow="fold")
    for k in rows:
        table.add_row(k.id, k.name, k.prefix, " ".join(sorted(k.scopes)), format_jst(k.created_at),
                      k.created_by, format_jst(k.last_used_at) if k.last_used_at else "",
                      format_jst(k.revoked_at) if k.revoked_at else "")
    out.print(table)


@apikey_app.command("revoke")
@friendly
def apikey_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id or prefix.")],
) -> None:
    """Revoke a key: refused at once by this database's servers (within 5 s by
    servers that had it cached)."""
    services, keys = _api_keys()
    try:
        info = keys.revoke(key_id, by=_operator())
    finally:
        services.close()
    out.print(f"revoked {info.id} ({info.name}, prefix {info.prefix})", highlight=False)


@app.command("simulate")
@friendly
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Directory to write (created if missing).")],
    customers: Annotated[int, typer.Option(min=0, help="Number of customers.")] = 10_000,
    days: Annotated[int, typer.Option(min=1, max=3_650, help="Simulated days.")] = 30,
    seed: Annotated[int, typer.Option(help="Same seed, same customers and attacks.")] = 1,
    policy: Annotated[str, typer.Option(
        "--policy", help="Policy preset name or YAML file (one configuration).")
    ] = "jsda_2025_mandatory",
    no_risk: Annotated[bool, typer.Option(
        "--no-risk", help="The policy alone, without the risk engine.")] = False,
    compare: Annotated[bool, typer.Option(
        "--compare", help="Every preset with and without risk, side by side "
                          "(--policy and --no-risk are ignored).")] = False,
    scenario: Annotated[Path | None, typer.Option(
        "--scenario", help="Scenario YAML (default: the shipped default.yaml).")] = None,
    start: Annotated[str | None, typer.Option(
        "--start", help="First simulated day (JST), e.g. 2025-04-01.")] = None,
) -> None:
    """Run the attack simulator's closed loop: customers and crews act through the guard.

    Writes symbols, accounts, events, labels and decisions (EVENTS.md), metrics.json and report.html into --out; with --compare, one folder per configuration and the side-by-side report.
    """  # noqa: E501 - one line, so the help text is not broken mid-sentence
    from datetime import date

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from kabuguard.guard.interfaces import PolicyError
    from kabuguard.guard.policy import load_policy
    from kabuguard.sim.run import run_compare, run_simulation
    from kabuguard.sim.scenario import ScenarioError, load_scenario

    try:
        loaded = load_scenario(scenario)
        first = date.fromisoformat(start) if start else None
        loaded_policy = None if compare else load_policy(policy)
    except (ScenarioError, PolicyError) as exc:
        raise CliError(str(exc)) from None
    except ValueError:
        raise CliError(f"--start must be a date such as 2025-04-01, not {start!r}") from None
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=err,
                  transient=True) as progress:
        task = progress.add_task("simulated days", total=days)

        def advance(done: int) -> None:
            progress.update(task, completed=done)

        if compare:
            result = run_compare(customers=customers, days=days, seed=seed, out=out,
                                 scenario=loaded, start=first, progress=advance)
            rows = result["configs"]
        else:
            assert loaded_policy is not None  # noqa: S101 - set above unless --compare
            rows = [run_simulation(customers=customers, days=days, seed=seed,
                                   policy=loaded_policy, risk=not no_risk, out=out,
                                   scenario=loaded, start=first, progress=advance)]
    table = Table(title=f"{customers:,} customers x {days} days, seed {seed}")
    for column in ("configuration", "events", "attacker logins", "fraud trades",
                   "money lost (JPY)", "challenges / 1,000 sessions", "customers blocked"):
        table.add_column(column, justify="left" if column == "configuration" else "right",
                         no_wrap=column == "configuration")
    for m in rows:
        logins = sum(a["logins_succeeded"] for a in m["by_attack"].values())
        trades = sum(a["orders_executed"] for a in m["by_attack"].values())
        lost = sum(a["money_lost_jpy"] for a in m["by_attack"].values())
        f = m["friction"]
        table.add_row(m["config"]["name"], f"{m['run']['events']:,}", f"{logins:,}",
                      f"{trades:,}", f"{lost:,}", f"{f['challenges_per_1000_sessions']:.1f}",
                      f"{f['customers_blocked']:,}")
    out_console = Console()
    out_console.print(table)
    err.print(f"wrote {out}")


@app.command()
def keygen() -> None:
    """Print a new data-encryption key for KABUGUARD_DATA_KEY."""
    from kabuguard.crypto import generate_key

    out.print(generate_key(), highlight=False)


@app.command()
@friendly
def evaluate(
    events: Annotated[Path, typer.Option("--events", help="events.jsonl (EVENTS.md).")],
    labels: Annotated[Path, typer.Option("--labels", help="labels.jsonl: which events are fraud.")],
    decisions: Annotated[Path, typer.Option("--decisions", help="decisions.jsonl: the guard's answers.")],
    accounts: Annotated[Path | None, typer.Option(
        "--accounts", help="accounts.jsonl: counts customers without events as legitimate accounts.")] = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Also write the evaluation as JSON to this file.")] = None,
) -> None:
    """Score decisions against labels: fraud stopped (events, yen, accounts) and friction."""
    from kabuguard.risk.evaluate import EvaluationError
    from kabuguard.risk.evaluate import evaluate as run_evaluation
    from kabuguard.risk.stream import StreamError, iter_events, read_accounts, read_decisions, read_labels

    try:
        result = run_evaluation(iter_events(events), read_labels(labels), read_decisions(decisions),
                                accounts=read_accounts(accounts) if accounts else None).to_dict()
    except (StreamError, EvaluationError) as exc:
        raise CliError(str(exc)) from None

    def share(x: float | None) -> str:
        return "—" if x is None else f"{x:.1%}"

    def rate(x: float | None) -> str:
        return "—" if x is None else f"{x:,.2f}"

    table = Table(title="fraud stopped")
    table.add_column("attack", no_wrap=True)
    for column in ("fraud events", "stopped", "fraud ¥", "stopped ¥", "¥ share", "accounts",
                   "stopped before 1st order", "share"):
        # A narrow terminal folds a number onto two lines rather than hide its digits.
        table.add_column(column, justify="right", overflow="fold")
    rows = [*result["by_attack"].items(), ("all", result["overall"])]
    for attack, t in rows:
        table.add_row(attack, f"{t['fraud_events']:,}", f"{t['stopped_events']:,}",
                      f"{t['money_fraud_jpy']:,}", f"{t['money_stopped_jpy']:,}",
                      share(t["money_stopped_share"]), f"{t['compromised_accounts']:,}",
                      f"{t['accounts_stopped_before_first_order']:,}",
                      share(t["accounts_stopped_before_first_order_share"]),
                      style="bold" if attack == "all" else None)
    out.print(table)
    f = result["friction"]
    friction = Table(title="friction on legitimate customers", show_header=False)
    for label, value in (
            ("sessions", f"{f['legit_sessions']:,}"),
            ("challenges", f"{f['challenges']:,} "
                           f"({rate(f['challenges_per_1000_sessions'])} per 1,000 sessions)"),
            ("orders and withdrawals", f"{f['legit_orders_withdrawals']:,}"),
            ("holds and denials", f"{f['holds_denials']:,} ({rate(f['holds_denials_per_1000'])} per 1,000)"),
            ("accounts", f"{f['legit_accounts']:,}"),
            ("accounts frozen", f"{f['legit_accounts_frozen']:,} "
                                f"({rate(f['frozen_per_10000_accounts'])} per 10,000)"),
            ("stopped by a challenge they cannot pass", f"{f['legit_stopped_by_unpassable_challenge']:,}")):
        friction.add_row(label, value)
    out.print(friction)
    if json_out is not None:
        json_out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        err.print(f"wrote {json_out}")


def _safe_url(url: str) -> str:
    """Hide a password in a database URL.

    >>> _safe_url("postgresql://u:secret@h/db")
    'postgresql://u:***@h/db'
    """
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            creds = creds.split(":", 1)[0] + ":***"
        return f"{scheme}://{creds}@{host}"
    return url


# -- kabuguard staff: accounts of the operations console ------------------------------

staff_app = typer.Typer(help="Staff of the operations console (passkey login only).",
                        no_args_is_help=True)
app.add_typer(staff_app, name="staff")


def _staff_service() -> tuple[Any, Any]:
    from kabuguard.container import build_services

    services = build_services(_settings())
    return services, services.staff


@staff_app.command("create")
@friendly
def staff_create(
    name: Annotated[str, typer.Option("--name", help="The person's name, unique.")],
    role: Annotated[str, typer.Option(
        "--role", help="analyst, supervisor, admin or auditor (read only).")],
) -> None:
    """Create a staff member and print the one-time enrolment code (valid 24 h) with
    which they register their first passkey on /console/enrol."""
    services, staff = _staff_service()
    try:
        info, code = staff.create(name=name, role=role, created_by=_operator())
    finally:
        services.close()
    err.print(f"created {info.id} ({info.name}, {info.role}). Give them this one-time code "
              "for /console/enrol (valid 24 hours, shown only now):", highlight=False)
    sys.stdout.write(code + "\n")


@staff_app.command("enrol-code")
@friendly
def staff_enrol_code(
    staff_id: Annotated[str, typer.Argument(help="The staff member's id (staff list).")],
) -> None:
    """A new one-time enrolment code (a lost device); earlier unused codes stop working."""
    services, staff = _staff_service()
    try:
        code = staff.issue_enrolment(staff_id, by=_operator())
    finally:
        services.close()
    sys.stdout.write(code + "\n")


@staff_app.command("list")
@friendly
def staff_list() -> None:
    """Every staff member with role, passkeys and status."""
    from kabuguard.web.i18n import format_jst

    services, staff = _staff_service()
    try:
        rows = staff.list()
    finally:
        services.close()
    table = Table(title=f"Staff ({len(rows)})")
    for column in ("id", "name", "role", "passkeys", "created (JST)", "disabled (JST)"):
        table.add_column(column, overflow="fold")
    for s in rows:
        table.add_row(s.id, s.name, str(s.role), str(s.passkeys), format_jst(s.created_at),
                      format_jst(s.disabled_at) if s.disabled_at else "")
    out.print(table)


@staff_app.command("disable")
@friendly
def staff_disable(
    staff_id: Annotated[str, typer.Argument(help="The staff member's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
) -> None:
    """Disable a staff member: no more logins, every session ends now."""
    services, staff = _staff_service()
    try:
        staff.disable(staff_id, by=_operator(), reason=reason)
    finally:
        services.close()
    out.print(f"disabled {staff_id}", highlight=False)


def main() -> None:
    app()

