"""Evidence bundles: an intact one verifies offline; a tampered one fails and says where
(payload edit, deleted record, swapped order, wrong signature, broken chain)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from kabuguard.audit.services import derive_audit_key
from kabuguard.cli import app
from kabuguard.domain.events import Event, EventType, RequestContext
from kabuguard.ops.evidence import (
    MANIFEST,
    PUBLIC_KEY,
    SIGNATURE,
    BundleSigner,
    audit_key_id,
    export_account_bundle,
    verify_bundle,
)
from kabuguard.ops.interfaces import BundleUnreadable, EvidenceError
from kabuguard.risk.models import RiskEvent, RiskFeedback

T = datetime(2025, 4, 8, 1, 0, tzinfo=UTC)


def _fill(services):
    """Events of A and B interleaved in the chain, and one decided event of A."""
    ctx = RequestContext(ip="203.0.113.9", session="sess-a")
    with services.db.write() as session:
        for i in range(6):
            account = "A" if i % 2 == 0 else "B"
            services.journal.record(session, Event(
                f"evt-{i}", T + timedelta(minutes=i), EventType.WITHDRAWAL, account, ctx,
                {"amount_jpy": 10_000 * (i + 1), "bank_account": "bank_x"}), actor=f"customer:{account}")
        body = {"id": "api-1", "ts": "2025-04-08T10:30:00.000+09:00", "type": "order", "account": "A",
                "session": "s9", "channel": "app", "ip": "198.51.100.7", "device": None,
                "user_agent": None, "order_id": "o1", "symbol": "9999", "side": "buy",
                "quantity": 100, "order_type": "market", "limit_price": None, "notional_jpy": 20_000}
        session.add(RiskEvent(id="api-1", seq=1, ts=T + timedelta(minutes=30),
                              received_at=T + timedelta(minutes=30), type="order", account="A",
                              decision="hold", event_json=orjson.dumps(body).decode(),
                              decision_json=orjson.dumps({"id": "api-1", "decision": "hold",
                                                          "reasons": ["illiquid_buy_surge"],
                                                          "actions": []}).decode()))
        session.flush()
        session.add(RiskFeedback(id="fb-1", seq=2, event_id="api-1", kind="analyst_fraud",
                                 note="顧客に確認済み", actions_json="[]", created_at=T + timedelta(hours=2)))
        services.journal.record_admin(session, ts=T + timedelta(hours=2), actor="analyst:sato",
                                      action="risk:feedback", subject="A",
                                      payload={"event": "api-1", "kind": "analyst_fraud"})
        # a record after A's last one: the proof runs to the head past it
        services.journal.record_admin(session, ts=T + timedelta(hours=3), actor="system",
                                      action="account_open", subject="C", payload={})


def _signer(settings):
    return BundleSigner.from_secret(settings.data_keys[0])


@pytest.fixture
def bundle(services, settings, tmp_path):
    _fill(services)
    return export_account_bundle(
        services.db, journal=services.journal, signer=_signer(settings),
        mac_key_id=audit_key_id(derive_audit_key(settings.data_keys[0])), account="A",
        out=tmp_path / "a.zip", exported_by="ops:test", now=T + timedelta(days=1), firm="かぶガード証券")


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _rewrite(src, dst, **changes):
    members = _members(src)
    members.update(changes)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            if data is not None:
                zf.writestr(name, data)
    dst.write_bytes(buf.getvalue())
    return dst


def _lines(data):
    return data.decode().splitlines()


def _join(lines):
    return ("\n".join(lines) + "\n").encode()


def test_intact_bundle_verifies_with_and_without_the_firm_key(bundle, settings, services):
    assert bundle.counts == {"events": 4, "decisions": 1, "feedback": 1, "audit": 4, "links": 8}
    result = verify_bundle(bundle.path, key_id=bundle.key_id)
    assert result.ok, result.problems
    assert (result.account, result.head_seq) == ("A", 8)
    firm = verify_bundle(bundle.path, audit_key=derive_audit_key(settings.data_keys[0]))
    assert firm.ok and firm.mac_checked
    members = _members(bundle.path)
    audit = [json.loads(line) for line in _lines(members["audit.jsonl"])]
    assert [r["seq"] for r in audit] == [1, 3, 5, 7] and {r["subject"] for r in audit} == {"A"}
    assert [json.loads(line)["id"] for line in _lines(members["events.jsonl"])] == [
        "evt-0", "evt-2", "evt-4", "api-1"]
    assert b"illiquid_buy_surge" in members["decisions.jsonl"]
    # the export itself is in the chain, after the head the bundle proves
    with services.db.read() as session:
        assert services.audit.verify(session).ok


def test_a_payload_edit_is_named(bundle, tmp_path, settings):
    lines = _lines(_members(bundle.path)["audit.jsonl"])
    record = json.loads(lines[1])
    record["payload"] = record["payload"].replace("30000", "3000000")
    lines[1] = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    bad = _rewrite(bundle.path, tmp_path / "bad.zip", **{"audit.jsonl": _join(lines)})
    result = verify_bundle(bad)
    assert not result.ok
    first = result.first
    assert (first.kind, first.file, first.line, first.item) == ("altered", "audit.jsonl", 2, "3")
    assert "seq 3" in str(first)
    # with the firm's key the HMAC fails too, at the same record
    firm = verify_bundle(bad, audit_key=derive_audit_key(settings.data_keys[0]))
    assert any(p.kind == "bad_mac" and p.item == "seq 3" for p in firm.problems)


def test_a_deleted_record_is_named(bundle, tmp_path):
    lines = _lines(_members(bundle.path)["audit.jsonl"])
    del lines[2]  # seq 5
    result = verify_bundle(_rewrite(bundle.path, tmp_path / "bad.zip", **{"audit.jsonl": _join(lines)}))
    assert (result.first.kind, result.first.item) == ("missing", "5")
    assert "audit record seq 5 is missing" in str(result.first)


def test_swapped_records_are_named(bundle, tmp_path):
    lines = _lines(_members(bundle.path)["events.jsonl"])
    lines[0], lines[1] = lines[1], lines[0]
    result = verify_bundle(_rewrite(bundle.path, tmp_path / "bad.zip", **{"events.jsonl": _join(lines)}))
    first = result.first
    assert (first.kind, first.file, first.line, first.item) == ("reordered", "events.jsonl", 1, "evt-2")
    assert "event evt-0 belongs at line 1" in first.detail


def test_an_inserted_event_is_named(bundle, tmp_path):
    lines = _lines(_members(bundle.path)["events.jsonl"])
    forged = json.loads(lines[0]) | {"id": "evt-forged"}
    lines.insert(2, json.dumps(forged))
    result = verify_bundle(_rewrite(bundle.path, tmp_path / "bad.zip", **{"events.jsonl": _join(lines)}))
    assert (result.first.kind, result.first.line, result.first.item) == ("inserted", 3, "evt-forged")


def test_a_wrong_signature_fails(bundle, tmp_path):
    other = Ed25519PrivateKey.generate()
    manifest = _members(bundle.path)[MANIFEST]
    result = verify_bundle(_rewrite(bundle.path, tmp_path / "bad.zip", **{SIGNATURE: other.sign(manifest)}))
    assert result.first.kind == "bad_signature"


def test_a_manifest_fixed_up_after_an_edit_breaks_the_signature(bundle, tmp_path):
    members = _members(bundle.path)
    lines = _lines(members["events.jsonl"])
    lines[0] = lines[0].replace("10000", "99999")
    manifest = json.loads(members[MANIFEST])
    manifest["files"]["events.jsonl"]["items"][0][1] = hashlib.sha256(lines[0].encode()).hexdigest()
    manifest["files"]["events.jsonl"]["sha256"] = hashlib.sha256(_join(lines)).hexdigest()
    bad = _rewrite(bundle.path, tmp_path / "bad.zip", **{
        "events.jsonl": _join(lines), MANIFEST: json.dumps(manifest).encode()})
    result = verify_bundle(bad)
    assert [p.kind for p in result.problems] == ["bad_signature"]


def test_re_signed_with_another_key_fails_when_the_key_is_pinned(bundle, tmp_path):
    forger = BundleSigner(Ed25519PrivateKey.generate())
    members = _members(bundle.path)
    manifest = json.loads(members[MANIFEST])
    manifest["signature"]["key_id"] = forger.key_id
    body = json.dumps(manifest).encode()
    bad = _rewrite(bundle.path, tmp_path / "bad.zip", **{
        MANIFEST: body, SIGNATURE: forger.sign(body), PUBLIC_KEY: forger.public_pem.encode()})
    assert verify_bundle(bad).ok  # self-consistent: only pinning the firm's key catches it
    pinned = verify_bundle(bad, key_id=bundle.key_id)
    assert pinned.first.kind == "unknown_key"
    assert bundle.key_id in pinned.first.detail


def test_a_cut_chain_link_is_named(bundle, tmp_path):
    lines = _lines(_members(bundle.path)["chain.jsonl"])
    del lines[5]  # seq 6, another customer's record between A's
    result = verify_bundle(_rewrite(bundle.path, tmp_path / "bad.zip", **{"chain.jsonl": _join(lines)}))
    assert (result.first.kind, result.first.item) == ("broken_chain", "seq 6")


def test_not_a_bundle(tmp_path):
    path = tmp_path / "x.zip"
    path.write_bytes(b"not a zip")
    with pytest.raises(BundleUnreadable, match="not a zip"):
        verify_bundle(path)


def test_an_unknown_account_has_no_bundle(services, settings, tmp_path):
    with pytest.raises(EvidenceError, match="no events or audit records"):
        export_account_bundle(services.db, journal=None, signer=_signer(settings), mac_key_id="x",
                              account="nobody", out=tmp_path / "n.zip", exported_by="t", now=T)


def test_the_chain_limit_is_enforced(services, settings, tmp_path):
    _fill(services)
    with pytest.raises(EvidenceError, match="over the limit of 3"):
        export_account_bundle(services.db, journal=None, signer=_signer(settings), mac_key_id="x",
                              account="A", out=tmp_path / "n.zip", exported_by="t", now=T, max_links=3)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_alone_verifies_the_signature(bundle, tmp_path):
    with zipfile.ZipFile(bundle.path) as zf:
        zf.extractall(tmp_path / "x")
    out = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public_key.pem", "-rawin",
                          "-in", "manifest.json", "-sigfile", "manifest.sig"],
                         cwd=tmp_path / "x", capture_output=True, text=True, check=False)
    assert "Signature Verified Successfully" in out.stdout, out.stderr


def test_cli_exports_and_verifies(tmp_path):
    env = {"KABUGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    assert runner.invoke(app, ["seed"], env=env).exit_code == 0
    r = runner.invoke(app, ["audit", "export-bundle", "--account", "1000001", "--out",
                            str(tmp_path / "a.zip")], env=env)
    assert r.exit_code == 0, r.output
    key_id = r.output.split("signing key id ")[1].split()[0]
    r = runner.invoke(app, ["audit", "verify-bundle", str(tmp_path / "a.zip"), "--key-id", key_id])
    assert r.exit_code == 0, r.output
    assert "bundle intact" in r.output
    r = runner.invoke(app, ["audit", "verify-bundle", str(tmp_path / "a.zip"), "--firm-key"], env=env)
    assert r.exit_code == 0, r.output
    assert "HMACs checked" in r.output
    lines = _lines(_members(tmp_path / "a.zip")["audit.jsonl"])
    del lines[0]
    _rewrite(tmp_path / "a.zip", tmp_path / "bad.zip", **{"audit.jsonl": _join(lines)})
    r = runner.invoke(app, ["audit", "verify-bundle", str(tmp_path / "bad.zip")])
    assert r.exit_code == 1
    assert "audit record seq 1 is missing" in r.output
    r = runner.invoke(app, ["audit", "verify-bundle", str(tmp_path / "nope.zip")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    r = runner.invoke(app, ["audit", "export-bundle", "--account", "nobody", "--out",
                            str(tmp_path / "n.zip")], env=env)
    assert r.exit_code == 2 and "no events or audit records" in r.output
