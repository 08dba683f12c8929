"""Evidence bundles for investigators: one account's events, decisions, analyst
feedback and audit records, with a proof they can check offline.

What can be proved, and to whom. The audit chain is keyed (``audit/models.py``): each
record's hash is an HMAC-SHA256 under a key derived from the firm's data key, so
nobody without the key can rewrite the chain, and nobody without it can check it
either. Investigators do not get the firm's key. So a bundle carries three layers:

1. **A signature anyone can check.** ``manifest.json`` lists the SHA-256 of every file
   and of every line (each event, decision, feedback and audit record), with the chain's
   head (seq, hash) at export. The firm signs the manifest with Ed25519
   (``manifest.sig``, key in ``public_key.pem``). With the firm's public key, a verifier
   checks offline that nothing was edited, removed, added or moved since the export:
   ``kabuguard audit verify-bundle``, or stock tools (``openssl``, ``sha256sum``; see
   the bundle's README.txt). The public key in the bundle proves integrity, not
   origin: whoever rewrote a bundle could sign it anew with a key of their own, so
   the firm hands its key id to the investigators separately and ``--key-id`` pins it.
2. **The chain's links, checkable without a key.** ``chain.jsonl`` holds (seq,
   prev_hash, hash) of every record from the bundle's first record to the head, other
   customers' records included but without their content. A verifier checks that the
   links form one unbroken chain, that each of the account's records sits in it at
   its seq, and that it ends at the signed head: the order and completeness of the
   account's records within the firm's single log.
3. **The HMACs, for whoever holds the firm's key** (the firm, or an expert a court
   appoints): ``--firm-key`` recomputes each of the account's records' HMAC, which
   shows they are the records of the live chain and not a later rewrite by someone
   who had the signing key only.

The signing key is an Ed25519 key derived from the first data key
(``KABUGUARD_DATA_KEY``), as the audit key is, so no new secret is needed; rotating the
data key rotates it, and bundles signed before stay checkable with the key id they
name. A deployment that wants the signing key in an HSM replaces :class:`BundleSigner`.

Verification names the first thing that fails: a bad or foreign signature, then per
file the first line altered (tampered payload), missing (deleted record), out of place
(reordered) or not listed (inserted), then the first broken link, then bad HMACs.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from kabuguard.audit.models import AuditHead, AuditRecord
from kabuguard.audit.services import GENESIS, canonical_json
from kabuguard.bus.models import OutboxEvent
from kabuguard.journal import Journal
from kabuguard.ops.interfaces import BundleUnreadable, EvidenceError
from kabuguard.risk.models import RiskEvent, RiskFeedback
from kabuguard.store.database import Database

FORMAT = "kabuguard-evidence-bundle/1"
MANIFEST, SIGNATURE, PUBLIC_KEY, README = "manifest.json", "manifest.sig", "public_key.pem", "README.txt"
EVENTS, DECISIONS, FEEDBACK, AUDIT, CHAIN = ("events.jsonl", "decisions.jsonl", "feedback.jsonl",
                                             "audit.jsonl", "chain.jsonl")
# Files whose every line is listed in the manifest, in the order they are checked.
ITEM_FILES = (AUDIT, EVENTS, DECISIONS, FEEDBACK)
# A chain proof runs to the head: past this many links, export fails rather than write
# a bundle of gigabytes (ops note: signed checkpoints of the head would shorten it).
MAX_LINKS = 2_000_000
MAX_MEMBER_BYTES = 4 << 30
MAC_MESSAGE = "prev_hash, seq, ts, actor, action, subject or '', payload joined by U+001F"

_ITEM = re.compile(r'\[\n\s+([^\[\]\n]+),\n\s+("[0-9a-f]{64}")\n\s+\]')

Problem = Literal["bad_signature", "unknown_key", "altered", "missing", "inserted", "reordered",
                  "file_altered", "broken_chain", "bad_mac"]


def audit_key_id(key: bytes) -> str:
    """A name for the audit chain's HMAC key that reveals nothing about it."""
    return hashlib.sha256(b"kabuguard audit key id|" + key).hexdigest()[:16]


class BundleSigner:
    """Signs manifests with an Ed25519 key; ``key_id`` names its public half."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = public_key_id(self.public_key)

    @classmethod
    def from_secret(cls, secret: str) -> BundleSigner:
        """The firm's signing key, derived from its first data key (module docstring)."""
        seed = hashlib.sha256(b"kabuguard evidence signing v1|" + secret.encode()).digest()
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    @property
    def public_pem(self) -> str:
        return self.public_key.public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_key_id(key: Ed25519PublicKey) -> str:
    """16 hex digits of the SHA-256 of the raw public key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


# -------------------------------------------------------------------------- export


@dataclass(slots=True)
class BundleContent:
    """What one account's bundle holds, each item as the exact line to write."""

    account: str
    events: list[tuple[str, bytes]] = field(default_factory=list)      # (event id, line)
    decisions: list[tuple[str, bytes]] = field(default_factory=list)
    feedback: list[tuple[str, bytes]] = field(default_factory=list)
    audit: list[tuple[int, bytes]] = field(default_factory=list)       # (seq, line)
    links: list[tuple[int, str, str]] = field(default_factory=list)    # (seq, prev, hash)
    head_seq: int = 0
    head_hash: str = GENESIS


def collect_bundle(session: Session, *, account: str, max_links: int = MAX_LINKS) -> BundleContent:
    """Read the account's records in one transaction. The head is read first and
    nothing after it is taken, so appends racing the export cannot tear the proof.

    Raises EvidenceError when the account has no records at all, or the chain from its
    first record to the head is longer than ``max_links``."""
    head = session.get(AuditHead, 1)
    content = BundleContent(account, head_seq=head.seq if head else 0,
                            head_hash=head.hash if head else GENESIS)
    records = session.execute(
        select(AuditRecord).where(AuditRecord.subject == account,
                                  AuditRecord.seq <= content.head_seq)
        .order_by(AuditRecord.seq)).scalars().all()
    for r in records:
        content.audit.append((r.seq, _audit_line(r)))
    decided = session.execute(
        select(RiskEvent.id, RiskEvent.event_json, RiskEvent.decision_json, RiskEvent.ts,
               RiskEvent.seq)
        .where(RiskEvent.account == account).order_by(RiskEvent.seq)).all()
    outbox = session.execute(
        select(OutboxEvent.event_id, OutboxEvent.payload, OutboxEvent.ts, OutboxEvent.seq)
        .where(OutboxEvent.account == account).order_by(OutboxEvent.seq)).all()
    # The stored text, byte for byte: what the firm recorded at the time.
    rows: list[tuple[datetime, int, str, str]] = [(ts, seq, eid, ev) for eid, ev, _d, ts, seq in decided]
    seen = {eid for eid, *_ in decided}
    offset = 1 + max((seq for *_x, seq in decided), default=0)
    rows += [(ts, offset + seq, eid, payload) for eid, payload, ts, seq in outbox if eid not in seen]
    rows.sort(key=lambda r: (r[0], r[1]))
    content.events = [(eid, text.encode()) for _ts, _seq, eid, text in rows]
    content.decisions = [(eid, d.encode()) for eid, _e, d, _ts, _seq in decided]
    for fb in session.execute(
            select(RiskFeedback).join(RiskEvent, RiskEvent.id == RiskFeedback.event_id)
            .where(RiskEvent.account == account).order_by(RiskFeedback.seq)).scalars():
        content.feedback.append((fb.id, orjson.dumps(
            {"id": fb.id, "event_id": fb.event_id, "kind": fb.kind, "note": fb.note,
             "actions": orjson.loads(fb.actions_json), "created_at": fb.created_at.isoformat()},
            option=orjson.OPT_SORT_KEYS)))
    if not (content.audit or content.events):
        msg = f"no events or audit records for account {account}"
        raise EvidenceError(msg, account=account)
    if content.audit:
        first = content.audit[0][0]
        if content.head_seq - first + 1 > max_links:
            msg = (f"the chain from record {first} to the head ({content.head_seq}) is "
                   f"{content.head_seq - first + 1:,} links, over the limit of {max_links:,}")
            raise EvidenceError(msg, account=account)
        links = session.execute(
            select(AuditRecord.seq, AuditRecord.prev_hash, AuditRecord.hash)
            .where(AuditRecord.seq >= first, AuditRecord.seq <= content.head_seq)
            .order_by(AuditRecord.seq).execution_options(yield_per=5000))
        content.links = [(s, p, h) for s, p, h in links]
    return content


def _audit_line(r: AuditRecord) -> bytes:
    # ``ts`` in exactly the form the HMAC covered (SqlAuditLog._digest).
    return canonical_json({
        "seq": r.seq, "ts": r.ts.isoformat(timespec="microseconds"), "actor": r.actor,
        "action": r.action, "subject": r.subject, "payload": r.payload,
        "prev_hash": r.prev_hash, "hash": r.hash}).encode()


def _jsonl(lines: Sequence[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_bundle(content: BundleContent, *, signer: BundleSigner, mac_key_id: str,
                 exported_at: datetime, exported_by: str, firm: str = "") -> bytes:
    """The bundle as zip bytes: same content and time, same bytes."""
    chain_lines = [orjson.dumps(list(link)) for link in content.links]
    files: dict[str, bytes] = {
        AUDIT: _jsonl([line for _, line in content.audit]),
        EVENTS: _jsonl([line for _, line in content.events]),
        DECISIONS: _jsonl([line for _, line in content.decisions]),
        FEEDBACK: _jsonl([line for _, line in content.feedback]),
        CHAIN: _jsonl(chain_lines),
    }
    items = {AUDIT: content.audit, EVENTS: content.events, DECISIONS: content.decisions,
             FEEDBACK: content.feedback}
    manifest = {
        "format": FORMAT, "account": content.account, "firm": firm,
        "exported_at": exported_at.isoformat(), "exported_by": exported_by,
        "files": {name: {"sha256": _sha(data), "lines": data.count(b"\n"),
                         **({"items": [[key, _sha(line)] for key, line in items[name]]}
                            if name in items else {})}
                  for name, data in files.items()},
        "chain": {"head_seq": content.head_seq, "head_hash": content.head_hash,
                  "from_seq": content.links[0][0] if content.links else None,
                  "to_seq": content.links[-1][0] if content.links else None,
                  "mac": "HMAC-SHA256", "mac_key_id": mac_key_id, "mac_message": MAC_MESSAGE},
        "signature": {"algorithm": "Ed25519", "key_id": signer.key_id, "signed_file": MANIFEST,
                      "signature_file": SIGNATURE, "public_key_file": PUBLIC_KEY},
    }
    # One item a line: readable, and a diff of two manifests shows the records that differ.
    text = _ITEM.sub(r"[\1, \2]", json.dumps(manifest, ensure_ascii=False, indent=1))
    manifest_bytes = text.encode() + b"\n"
    members = {README: _readme(content.account, signer.key_id).encode(),
               MANIFEST: manifest_bytes, SIGNATURE: signer.sign(manifest_bytes),
               PUBLIC_KEY: signer.public_pem.encode(), **files}
    buf = io.BytesIO()
    stamp = exported_at.utctimetuple()[:6]
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def write_bundle(path: Path, data: bytes) -> Path:
    """Write atomically: a reader never sees half a bundle."""
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    key_id: str
    public_pem: str
    counts: dict[str, int]
    head_seq: int


def export_account_bundle(db: Database, *, journal: Journal | None, signer: BundleSigner,
                          mac_key_id: str, account: str, out: Path, exported_by: str,
                          now: datetime, firm: str = "",
                          max_links: int = MAX_LINKS) -> ExportResult:
    """Collect, sign and write the account's bundle to ``out``, then record the export
    in the audit chain (after the head the bundle proves, so not in it)."""
    with db.read() as session:
        content = collect_bundle(session, account=account, max_links=max_links)
    data = build_bundle(content, signer=signer, mac_key_id=mac_key_id, exported_at=now,
                        exported_by=exported_by, firm=firm)
    write_bundle(out, data)
    counts = {"events": len(content.events), "decisions": len(content.decisions),
              "feedback": len(content.feedback), "audit": len(content.audit),
              "links": len(content.links)}
    if journal is not None:
        with db.write() as session:
            journal.record_admin(session, ts=now, actor=exported_by, action="audit:export_bundle",
                                 subject=account,
                                 payload={"sha256": _sha(data), "key_id": signer.key_id,
                                          "head_seq": content.head_seq, **counts})
    return ExportResult(out, signer.key_id, signer.public_pem, counts, content.head_seq)


def _readme(account: str, key_id: str) -> str:
    return f"""証拠保全用エビデンスバンドル / Evidence bundle — kabuguard
口座 / account: {account}
署名鍵ID / signing key id: {key_id}

【収録物】
  events.jsonl     口座のイベント（記録時のまま）
  decisions.jsonl  不正検知の判定
  feedback.jsonl   分析担当者の判定・チャレンジ結果
  audit.jsonl      監査ログのレコード（ハッシュチェーン）
  chain.jsonl      先頭レコードから head までのチェーンのリンク (seq, prev_hash, hash)
  manifest.json    各ファイル・各行の SHA-256 と head
  manifest.sig     manifest.json への Ed25519 署名 / public_key.pem 公開鍵

【検証】 kabuguard audit verify-bundle <このファイル> --key-id {key_id}
  署名鍵IDは当社から別途お知らせするものと一致することを確認してください。
  kabuguard を使わない場合:
    openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in manifest.json -sigfile manifest.sig
    sha256sum *.jsonl   （manifest.json の files.*.sha256 と比較）

Verify: kabuguard audit verify-bundle <this file> --key-id {key_id}
(check the key id against the one the firm gave you separately). Without kabuguard:
  openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in manifest.json -sigfile manifest.sig
  sha256sum *.jsonl   (compare with files.*.sha256 in manifest.json)
The audit records' hashes are HMAC-SHA256 under the firm's key ({MAC_MESSAGE});
chain.jsonl lets anyone check their order and links, the firm's key their HMACs.
"""


# -------------------------------------------------------------------------- verify


@dataclass(frozen=True, slots=True)
class BundleProblem:
    kind: Problem
    file: str
    detail: str
    line: int | None = None
    item: str | None = None  # an event id, or "seq N"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.kind}: {self.detail}"


@dataclass(frozen=True, slots=True)
class BundleVerification:
    ok: bool
    problems: tuple[BundleProblem, ...]
    account: str
    exported_at: str
    key_id: str
    head_seq: int | None
    counts: dict[str, int]
    mac_checked: bool

    @property
    def first(self) -> BundleProblem | None:
        return self.problems[0] if self.problems else None


def verify_bundle(path: Path | str, *, key_id: str | None = None,
                  audit_key: bytes | None = None) -> BundleVerification:
    """Check a bundle (module docstring). ``key_id`` pins the signer; ``audit_key`` (the
    firm's) adds the HMAC check. Raises BundleUnreadable when it is no bundle at all."""
    members = _read_zip(Path(path))
    try:
        manifest = json.loads(members[MANIFEST])
        public = serialization.load_pem_public_key(members[PUBLIC_KEY])
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleUnreadable(f"{path}: manifest or public key unreadable: {exc}") from None
    if not isinstance(public, Ed25519PublicKey) or manifest.get("format") != FORMAT:
        raise BundleUnreadable(f"{path}: not a {FORMAT} bundle")
    problems: list[BundleProblem] = []
    signer_id = public_key_id(public)
    if key_id is not None and signer_id != key_id.strip().lower():
        problems.append(BundleProblem("unknown_key", SIGNATURE,
                                      f"signed with key {signer_id}, expected {key_id}"))
    try:
        public.verify(members[SIGNATURE], members[MANIFEST])
    except InvalidSignature:
        problems.append(BundleProblem("bad_signature", SIGNATURE,
                                      "the signature does not match manifest.json: the manifest "
                                      "was changed or signed with another key"))
    if manifest.get("signature", {}).get("key_id") not in (None, signer_id):
        problems.append(BundleProblem("unknown_key", PUBLIC_KEY,
                                      "public_key.pem is not the key the manifest names"))
    files = manifest.get("files", {})
    audit_rows: dict[int, dict[str, Any]] = {}
    for name in ITEM_FILES:
        data = members.get(name, b"")
        entry = files.get(name, {})
        problem, parsed = _check_items(name, data, entry.get("items", []))
        if problem is not None:
            problems.append(problem)
        elif _sha(data) != entry.get("sha256"):
            problems.append(BundleProblem("file_altered", name, "the file differs from the "
                                          "manifest outside its records"))
        if name == AUDIT:
            audit_rows = {int(r["seq"]): r for r in parsed if isinstance(r.get("seq"), int)}
    problems.extend(_check_chain(members.get(CHAIN, b""), files.get(CHAIN, {}),
                                 manifest.get("chain", {}), audit_rows))
    mac_checked = audit_key is not None
    if audit_key is not None:
        problems.extend(_check_macs(audit_key, manifest.get("chain", {}), audit_rows))
    return BundleVerification(
        ok=not problems, problems=tuple(problems), account=str(manifest.get("account")),
        exported_at=str(manifest.get("exported_at")), key_id=signer_id,
        head_seq=manifest.get("chain", {}).get("head_seq"),
        counts={name: members.get(name, b"").count(b"\n") for name in (*ITEM_FILES, CHAIN)},
        mac_checked=mac_checked)


def _read_zip(path: Path) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(path) as zf:
            members = {}
            for info in zf.infolist():
                if info.file_size > MAX_MEMBER_BYTES:
                    raise BundleUnreadable(f"{path}: {info.filename} is implausibly large")
                members[info.filename] = zf.read(info)
    except zipfile.BadZipFile:
        raise BundleUnreadable(f"{path}: not a zip file") from None
    missing = [n for n in (MANIFEST, SIGNATURE, PUBLIC_KEY) if n not in members]
    if missing:
        raise BundleUnreadable(f"{path}: missing {', '.join(missing)}")
    return members


def _lines(data: bytes) -> Iterator[bytes]:
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    yield from parts


def _key_of(name: str, row: dict[str, Any]) -> Any:
    return row.get("seq") if name == AUDIT else row.get("id")


def _label(name: str, key: Any) -> str:
    if name == AUDIT:
        return f"audit record seq {key}"
    return {EVENTS: "event", DECISIONS: "decision on event", FEEDBACK: "feedback"}[name] + f" {key}"


def _check_items(name: str, data: bytes, expected_items: Sequence[Sequence[Any]],
                 ) -> tuple[BundleProblem | None, list[dict[str, Any]]]:
    """Compare a file's lines with the manifest's list; the first difference, named."""
    expected = [(k, d) for k, d in expected_items]
    actual: list[tuple[Any, str]] = []
    parsed: list[dict[str, Any]] = []
    for line in _lines(data):
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            row = None
        if isinstance(row, dict):
            parsed.append(row)
            actual.append((_key_of(name, row), _sha(line)))
        else:
            actual.append((None, _sha(line)))
    exp_keys = {k for k, _ in expected}
    act_keys = {k for k, _ in actual}
    i = j = 0
    while i < len(expected) or j < len(actual):
        if i < len(expected) and j < len(actual) and expected[i][0] == actual[j][0]:
            if expected[i][1] != actual[j][1]:
                key = expected[i][0]
                return BundleProblem("altered", name, f"{_label(name, key)} was altered "
                                     "(its content differs from the signed digest)",
                                     j + 1, str(key)), parsed
            i, j = i + 1, j + 1
            continue
        if j < len(actual) and actual[j][0] is None:
            what = f"; {_label(name, expected[i][0])} expected there" if i < len(expected) else ""
            return BundleProblem("altered", name, f"line {j + 1} is not a record{what}", j + 1,
                                 str(expected[i][0]) if i < len(expected) else None), parsed
        if i < len(expected) and expected[i][0] not in act_keys:
            key = expected[i][0]
            return BundleProblem("missing", name, f"{_label(name, key)} is missing (deleted)",
                                 j + 1, str(key)), parsed
        if j < len(actual) and actual[j][0] not in exp_keys:
            key = actual[j][0]
            return BundleProblem("inserted", name, f"{_label(name, key)} is not in the manifest "
                                 "(inserted)", j + 1, str(key)), parsed
        if i >= len(expected) or j >= len(actual):  # a duplicate past the end
            key = actual[j][0] if j < len(actual) else expected[i][0]
            return BundleProblem("inserted", name, f"{_label(name, key)} appears twice",
                                 j + 1, str(key)), parsed
        found, wanted = actual[j][0], expected[i][0]
        return BundleProblem("reordered", name, f"{_label(name, found)} is out of order: "
                             f"{_label(name, wanted)} belongs at line {j + 1}", j + 1,
                             str(found)), parsed
    return None, parsed


def _check_chain(data: bytes, entry: dict[str, Any], chain: dict[str, Any],
                 audit_rows: dict[int, dict[str, Any]]) -> list[BundleProblem]:
    """The links form one chain from the first record to the signed head, and every
    audit record of the bundle sits in it."""
    links: dict[int, tuple[str, str]] = {}
    prev_seq: int | None = None
    prev_hash: str | None = None
    for n, line in enumerate(_lines(data), 1):
        try:
            seq, link_prev, link_hash = orjson.loads(line)
        except (orjson.JSONDecodeError, ValueError, TypeError):
            return [BundleProblem("broken_chain", CHAIN, "not a link (seq, prev_hash, hash)", n)]
        if prev_seq is not None and seq != prev_seq + 1:
            return [BundleProblem("broken_chain", CHAIN, f"link {prev_seq + 1} is missing", n,
                                  f"seq {prev_seq + 1}")]
        if prev_hash is not None and not hmac.compare_digest(str(link_prev), prev_hash):
            return [BundleProblem("broken_chain", CHAIN, f"record {seq} does not follow record "
                                  f"{seq - 1}", n, f"seq {seq}")]
        links[seq] = (link_prev, link_hash)
        prev_seq, prev_hash = seq, link_hash
    head_seq, head_hash = chain.get("head_seq"), chain.get("head_hash")
    if links and (prev_seq != head_seq or prev_hash != head_hash):
        return [BundleProblem("broken_chain", CHAIN, f"the links end at record {prev_seq}, not at "
                              f"the signed head {head_seq}")]
    for seq in sorted(audit_rows):
        row = audit_rows[seq]
        if links.get(seq) != (row.get("prev_hash"), row.get("hash")):
            return [BundleProblem("broken_chain", AUDIT, f"audit record seq {seq} is not the "
                                  "record at that place in the chain", item=f"seq {seq}")]
    if _sha(data) != entry.get("sha256"):
        return [BundleProblem("file_altered", CHAIN, "chain.jsonl differs from the manifest")]
    return []


def _check_macs(key: bytes, chain: dict[str, Any],
                audit_rows: dict[int, dict[str, Any]]) -> list[BundleProblem]:
    wanted = chain.get("mac_key_id")
    if wanted and audit_key_id(key) != wanted:
        return [BundleProblem("bad_mac", AUDIT, f"the chain was keyed with key {wanted}; the key "
                              f"given is {audit_key_id(key)}")]
    for seq in sorted(audit_rows):
        r = audit_rows[seq]
        message = "\x1f".join([str(r.get("prev_hash")), str(seq), str(r.get("ts")),
                               str(r.get("actor")), str(r.get("action")), r.get("subject") or "",
                               str(r.get("payload"))])
        own = hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(own, str(r.get("hash"))):
            return [BundleProblem("bad_mac", AUDIT, f"audit record seq {seq} does not match its "
                                  "HMAC under the firm's key", item=f"seq {seq}")]
    return []


def bundle_summary(result: BundleVerification) -> str:
    """One line for people: what was checked and the outcome."""
    head = f"account {result.account}, exported {result.exported_at}, signed by key {result.key_id}"
    if result.ok:
        macs = ", HMACs checked with the firm's key" if result.mac_checked else ""
        return f"bundle intact: {head}; {result.counts.get(AUDIT, 0)} audit records{macs}"
    return f"bundle fails at {result.first}"
