"""Importing leaked combo lists: matching by verifying against the stored hash, what a
match does (flag, sessions, audit, notice), re-imports, hostile lines, no plaintext
anywhere, and memory that does not grow with the file."""

from __future__ import annotations

import io
import logging
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import select

from factories.customers import PASSWORD, make_customer
from kabuguard.audit.models import AuditRecord
from kabuguard.domain.assurance import Level, Method
from kabuguard.domain.errors import InvalidInput
from kabuguard.domain.events import RequestContext
from kabuguard.identity.leaked import (
    MAX_LINE_BYTES,
    MatchStatus,
    _Candidate,
    _Reader,
    iter_combo_lines,
    leak_fingerprint,
)
from kabuguard.identity.models import Customer, LeakedCredentialMatch, WebSession
from kabuguard.identity.services import IdentityService
from kabuguard.notify.interfaces import NoticeKind
from kabuguard.notify.models import Notice

CTX = RequestContext(ip="203.0.113.7")
COLON_PASSWORD = "pa:ss:wo:rd-12345"
WRONG = "Wr0ng-but-Plausible-77"


def lines(raw: bytes) -> tuple[list[tuple[int, str, str]], _Reader]:
    counts = _Reader()
    return list(iter_combo_lines(io.BytesIO(raw), counts)), counts


# -- reading the file --------------------------------------------------------------------
def test_bom_crlf_comments_blank_and_bad_utf8():
    raw = (b"\xef\xbb\xbfalice:first\r\n"
           b"# a comment\r\n"
           b"\r\n"
           b"   \n"
           b"bob:with:colons:\r\n"
           b"carol:\xff\xfe-not-utf8\n"
           b"no-separator\n"
           b":no-login\n"
           b"dave:\n"
           b"erin:last-without-newline")
    found, counts = lines(raw)
    assert found == [(1, "alice", "first"), (5, "bob", "with:colons:"),
                     (10, "erin", "last-without-newline")]
    assert (counts.lines, counts.skipped, counts.malformed, counts.undecodable) == (10, 3, 3, 1)
    assert counts.bytes_read == len(raw)


def test_an_overlong_line_is_skipped_without_being_held():
    raw = b"a:b\n" + b"x" * (MAX_LINE_BYTES * 5) + b":pw\n" + b"c:d\n"
    found, counts = lines(raw)
    assert found == [(1, "a", "b"), (3, "c", "d")]
    assert counts.malformed == 1
    assert counts.bytes_read == len(raw)


# -- matching ------------------------------------------------------------------------------
@pytest.fixture
def people(services):
    """alice (the test password), bob, and carol whose password contains ':'."""
    return {
        "alice": make_customer(services, login_id="alice"),
        "bob": make_customer(services, login_id="bob"),
        "carol": make_customer(services, login_id="carol", password=COLON_PASSWORD),
    }


def combo(*rows: str) -> io.BytesIO:
    return io.BytesIO("\r\n".join(rows).encode())


def test_import_matches_only_current_passwords_and_acts_on_each(services, people, clock):
    identity: IdentityService = services.identity
    identity.login_password(login_id="alice", password=PASSWORD, context=CTX)
    identity.login_password(login_id="bob", password=PASSWORD, context=CTX)
    summary = services.leaked.import_stream(combo(
        "# found on a forum",
        f"alice:{PASSWORD}",
        f"bob:{WRONG}",
        "nobody:whatever-else",
        "broken line",
        f"carol:{COLON_PASSWORD}",
        "someone@example.com:mail-style",
    ), source="forum-2025-06", workers=2)
    assert summary.lines == 7
    assert (summary.skipped, summary.malformed, summary.known_login_ids) == (1, 1, 3)
    assert (summary.verified, summary.new_matches, summary.already_known) == (2, 2, 0)
    assert summary.not_matching == 1

    with services.db.read() as session:
        matches = session.scalars(select(LeakedCredentialMatch)
                                  .order_by(LeakedCredentialMatch.line_number)).all()
        flagged = {c.login_id: c.password_reset_required_at for c in session.scalars(
            select(Customer))}
        live = {ws.customer_id for ws in session.scalars(
            select(WebSession).where(WebSession.revoked_at.is_(None)))}
        notices = session.scalars(select(Notice).where(
            Notice.kind == str(NoticeKind.LEAKED_CREDENTIALS))).all()
        audit = session.scalars(select(AuditRecord).where(
            AuditRecord.action == "leaked_credentials_matched")).all()
    assert [(m.customer_id, m.line_number, m.source, m.status) for m in matches] == [
        (people["alice"], 2, "forum-2025-06", "open"),
        (people["carol"], 6, "forum-2025-06", "open")]
    assert flagged["alice"] == clock.now and flagged["carol"] == clock.now
    assert flagged["bob"] is None
    # alice's session ended (the credential is in criminals' hands); bob's did not.
    assert live == {people["bob"]}
    assert sorted((n.customer_id, n.medium) for n in notices) == sorted(
        (people[who], medium) for who in ("alice", "carol") for medium in ("email", "sms"))
    assert services.notifier.decode(notices[0])[1] == {"at": clock.now.isoformat()}
    assert {r.actor for r in audit} == {"operator:cli"}
    assert all(PASSWORD not in r.payload and COLON_PASSWORD not in r.payload for r in audit)


def test_reimport_adds_nothing_and_verifies_nothing_again(services, people, monkeypatch):
    rows = (f"alice:{PASSWORD}", f"carol:{COLON_PASSWORD}", f"alice:{PASSWORD}")
    first = services.leaked.import_stream(combo(*rows), source="market-a")
    assert (first.new_matches, first.already_known) == (2, 1)  # a repeat inside the list
    calls = []
    verify = services.leaked.passwords.verify
    monkeypatch.setattr(services.leaked.passwords, "verify",
                        lambda *a: calls.append(1) or verify(*a))
    again = services.leaked.import_stream(combo(*rows), source="market-b")
    assert (again.verified, again.new_matches, again.already_known) == (0, 0, 3)
    assert calls == []
    with services.db.read() as session:
        assert len(session.scalars(select(LeakedCredentialMatch)).all()) == 2
        assert len(session.scalars(select(Notice).where(
            Notice.kind == str(NoticeKind.LEAKED_CREDENTIALS))).all()) == 4


def test_a_password_changed_meanwhile_is_not_recorded(services, people):
    with services.db.read() as session:
        customer = session.get(Customer, people["alice"])
    stale = _Candidate(1, customer.id, "$argon2id$v=19$m=1024,t=1,p=1$old$old",
                       leak_fingerprint(services.cipher, customer.id, PASSWORD), None,
                       matched=True)
    assert services.leaked._record(stale, source="s", actor="operator:cli") == "stale"


def test_bad_source_and_workers_are_refused(services):
    for source in ("", "   ", "x" * 101, "tab\there"):
        with pytest.raises(InvalidInput):
            services.leaked.import_stream(combo("a:b"), source=source)
    with pytest.raises(InvalidInput):
        services.leaked.import_stream(combo("a:b"), source="s", workers=0)


def test_list_matches_by_status(services, people, clock):
    services.leaked.import_stream(combo(f"alice:{PASSWORD}", f"carol:{COLON_PASSWORD}"),
                                  source="s1")
    with services.db.write() as session:
        match = session.scalars(select(LeakedCredentialMatch).where(
            LeakedCredentialMatch.customer_id == people["carol"])).one()
        match.status, match.resolved_at = "resolved", clock.now
    assert {m.customer_id for m in services.leaked.list_matches()} == {
        people["alice"], people["carol"]}
    open_ = services.leaked.list_matches(status=MatchStatus.OPEN)
    assert [(m.customer_id, m.source, m.line_number) for m in open_] == [
        (people["alice"], "s1", 1)]
    assert [m.customer_id for m in services.leaked.list_matches(
        status=MatchStatus.RESOLVED)] == [people["carol"]]


def test_no_plaintext_in_the_database_file_or_logs(services, settings, backend, tmp_path,
                                                   caplog, capsys):
    if backend != "sqlite":
        pytest.skip("reads the SQLite file's bytes")
    secret = "Leaked-Secret-9x7!q"
    other = "Never-Stored-Wrong-4k2"
    make_customer(services, login_id="victim", password=secret)
    make_customer(services, login_id="bystander")
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "list.txt"
    path.write_text(f"victim:{secret}\nbystander:{other}\n", encoding="utf-8")
    summary = services.leaked.import_file(path, source="s")
    assert summary.new_matches == 1
    services.close()
    db_file = Path(settings.database_url.removeprefix("sqlite:///"))
    stored = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
    assert len(stored) > 10_000
    for plaintext in (secret, other):
        assert plaintext.encode() not in stored
        assert plaintext not in caplog.text
        assert plaintext not in "".join(capsys.readouterr())


# -- bounded memory ------------------------------------------------------------------------
def write_list(path: Path, count: int, known: list[str]) -> None:
    """``count`` lines: mostly unknown login ids, every 50th a known id with a wrong
    password, plus one real match."""
    with path.open("w", encoding="utf-8") as out:
        out.write(f"{known[0]}:{PASSWORD}\n")
        for i in range(1, count):
            if i % 50 == 0:
                out.write(f"{known[i % len(known)]}:wrong-password-{i}\n")
            else:
                out.write(f"stranger{i:07d}:P@ss-{i * 7919:x}-word\n")


def peak_bytes(services, path: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        summary = services.leaked.import_file(path, source=path.stem, workers=2)
        return tracemalloc.get_traced_memory()[1], summary.lines
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_file(services, backend, tmp_path):
    if backend != "sqlite":
        pytest.skip("the bound is the importer's, not the backend's")
    known = [make_customer(services, login_id=f"known{i}") for i in range(5)]
    known_ids = [f"known{i}" for i in range(len(known))]
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    write_list(small, 20_000, known_ids)
    write_list(large, 200_000, known_ids)
    peak_bytes(services, small)  # warm caches (SQLAlchemy statements, imports)
    small_peak, small_lines = peak_bytes(services, small)
    large_peak, large_lines = peak_bytes(services, large)
    assert (small_lines, large_lines) == (20_000, 200_000)
    # Ten times the lines, the same peak (about 0.4 MiB here) within a small margin.
    assert large_peak < small_peak * 1.2 + 128 * 1024, (small_peak, large_peak)
    assert large_peak < 4 * 1024 * 1024


def test_a_flagged_customer_is_offered_no_code_to_the_mailbox_or_phone(services, clock):
    """The logs that carry a stolen password often carry the mailbox session too: once
    the password is known to be leaked, only registered authenticators count."""
    account = make_customer(services)
    assert Method.EMAIL_OTP in services.identity.second_factors(account)
    assert services.identity.strongest_enrolled(account) is Level.OTP
    with services.db.write() as session:
        session.get(Customer, account).password_reset_required_at = clock()
    assert services.identity.second_factors(account) == []
    assert services.identity.strongest_enrolled(account) is Level.PASSWORD
