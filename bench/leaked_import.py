"""Leaked combo-list import: lines per second with the production argon2id parameters
(m=19 MiB, t=2, p=1), on 1 and 2 verifying workers.

What it does:

1. a fresh SQLite database in a temp dir, migrated, with ``--customers`` customers
   whose stored hash is a production-parameter argon2id hash (one hash, computed once:
   verifying costs the same whatever the salt);
2. a combo list of ``--lines`` lines: ``--known`` of them (a share) name a customer with
   a wrong password (the full argon2 cost), ``--matches`` name one with the right
   password, the rest name nobody (cost: a share of one ``IN`` query);
3. for each worker count, a copy of that database (so every run finds the same new
   matches) and ``LeakedCredentialService.import_file`` timed end to end: reading,
   the batched look-ups, verification, and one transaction per match;
4. for comparison, raw ``PasswordHasher.verify`` calls per second on a thread pool and on
   a process pool of 1 and 2 workers (why the importer uses threads: argon2-cffi
   releases the GIL, so threads scale like processes without pickling anything).

The rows are printed and added to bench/RESULTS.md between the ``leaked:start/end``
markers (``--no-record`` prints only). The machine is shared: "others' cores" is what
the rest of it used meanwhile, to spot a noisy run.

    .venv/bin/python bench/leaked_import.py [--lines 3000] [--known 0.5] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from argon2.exceptions import VerificationError

from kabuguard.container import build_services
from kabuguard.identity.models import Customer
from kabuguard.identity.passwords import OWASP_HASHER
from kabuguard.settings import load_settings
from kabuguard.store.migrate import upgrade
from provenance import code_version, command, machine, machine_busy_s

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
START, END = "<!-- leaked:start -->", "<!-- leaked:end -->"
HEADER = ("| date (UTC) | code | command | machine | run | workers | lines | verified | "
          "matches | seconds | lines/s | verifies/s | process cores | others' cores |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
PASSWORD = "bench-correct-horse-7"


class Meter:
    """Wall time, this process's CPU, and the machine's (a process pool's workers count
    as "others")."""

    def __enter__(self) -> Meter:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        self.busy0 = machine_busy_s()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0
        self.others = max(0.0, machine_busy_s() - self.busy0 - self.cpu) / self.wall


def prepare(directory: Path, customers: int) -> tuple[Path, list[str]]:
    """A migrated database with the customers; returns its file and their login ids."""
    db = directory / "pristine.db"
    url = f"sqlite:///{db}"
    upgrade(url)
    services = build_services(load_settings(database_url=url))
    stored = OWASP_HASHER.hash(PASSWORD)
    now = datetime.now(UTC)
    login_ids = [f"bench{i:06d}" for i in range(customers)]
    email = services.cipher.encrypt("bench@example.jp")
    with services.db.write() as session:
        session.add_all(Customer(id=f"B{i:06d}", login_id=login_id, password_hash=stored,
                                 name=login_id, email_enc=email, phone_enc=None,
                                 language="ja", created_at=now)
                        for i, login_id in enumerate(login_ids))
    services.close()
    return db, login_ids


def write_combo(path: Path, *, lines: int, known: float, matches: int,
                login_ids: list[str], rng: random.Random) -> tuple[int, int]:
    """Returns (lines naming a customer, lines with the right password)."""
    right = set(rng.sample(range(lines), matches))
    victims = iter(rng.sample(login_ids, matches))  # one right line per customer
    known_lines = 0
    with path.open("w", encoding="utf-8") as out:
        for i in range(lines):
            if i in right:
                out.write(f"{next(victims)}:{PASSWORD}\n")
                known_lines += 1
            elif rng.random() < known:
                out.write(f"{rng.choice(login_ids)}:wrong-{rng.getrandbits(40):x}\n")
                known_lines += 1
            else:
                out.write(f"stranger{i:08d}:pw-{rng.getrandbits(40):x}\n")
    return known_lines, len(right)


def import_run(pristine: Path, combo: Path, workers: int, directory: Path) -> tuple[Meter, object]:
    db = directory / f"run-{workers}.db"
    shutil.copy(pristine, db)
    services = build_services(load_settings(database_url=f"sqlite:///{db}"))
    try:
        with Meter() as meter:
            summary = services.leaked.import_file(combo, source="bench", workers=workers)
    finally:
        services.close()
    return meter, summary


_STORED = OWASP_HASHER.hash(PASSWORD)


def _verify_wrong(_: int) -> bool:
    try:
        return OWASP_HASHER.verify(_STORED, "wrong-password-xyz")
    except VerificationError:
        return False


def raw_run(pool: Executor, workers: int, calls: int) -> Meter:
    list(pool.map(_verify_wrong, range(workers)))  # start the workers first
    with Meter() as meter:
        list(pool.map(_verify_wrong, range(calls)))
    return meter


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=3_000)
    p.add_argument("--known", type=float, default=0.5,
                   help="share of lines naming a customer (wrong password)")
    p.add_argument("--matches", type=int, default=20, help="lines with the right password")
    p.add_argument("--customers", type=int, default=1_000)
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    p.add_argument("--raw-calls", type=int, default=120,
                   help="verifications per raw thread/process run (0: skip)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--no-record", action="store_true", help="print only")
    args = p.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    rng = random.Random(args.seed)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    common = [when, code_version(), f"`{command()}`", machine()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="kg-leaked-bench-") as tmp:
        directory = Path(tmp)
        pristine, login_ids = prepare(directory, args.customers)
        combo = directory / "combo.txt"
        known, matches = write_combo(combo, lines=args.lines, known=args.known,
                                     matches=args.matches, login_ids=login_ids, rng=rng)
        print(f"{args.lines:,} lines, {known:,} naming a customer, {matches} right passwords")
        for workers in counts:
            meter, summary = import_run(pristine, combo, workers, directory)
            assert summary.new_matches == matches, summary
            print(f"import, {workers} worker(s): {meter.wall:.1f} s, "
                  f"{args.lines / meter.wall:,.0f} lines/s, {known / meter.wall:.1f} verifies/s")
            rows.append([*common, "import", str(workers), f"{args.lines:,}", f"{known:,}",
                         str(summary.new_matches), f"{meter.wall:.1f}",
                         f"{args.lines / meter.wall:,.0f}", f"{known / meter.wall:.1f}",
                         f"{meter.cpu / meter.wall:.2f}", f"{meter.others:.2f}"])
        for kind, make in (("raw verify, threads", ThreadPoolExecutor),
                           ("raw verify, processes", ProcessPoolExecutor)):
            for workers in counts if args.raw_calls else ():
                with make(max_workers=workers) as pool:
                    meter = raw_run(pool, workers, args.raw_calls)
                print(f"{kind}, {workers}: {args.raw_calls / meter.wall:.1f} verifies/s")
                threads = make is ThreadPoolExecutor
                rows.append([*common, kind, str(workers), "—", f"{args.raw_calls:,}", "—",
                             f"{meter.wall:.1f}", "—", f"{args.raw_calls / meter.wall:.1f}",
                             f"{meter.cpu / meter.wall:.2f}" if threads else "—",
                             f"{meter.others:.2f}" if threads else "—"])
    table = ["| " + " | ".join(cells) + " |" for cells in rows]
    print("\n".join([HEADER, *table]))
    if not args.no_record:
        record(table)
        print(f"recorded in {RESULTS.relative_to(ROOT)}")


def record(rows: list[str]) -> None:
    text = RESULTS.read_text(encoding="utf-8")
    if START not in text:
        text = (text.rstrip("\n") + "\n\n## Leaked combo-list import (`bench/leaked_import.py`)\n\n"
                f"{START}\n{HEADER}\n{END}\n")
    head, rest = text.split(END, 1)
    RESULTS.write_text(head.rstrip("\n") + "\n" + "\n".join(rows) + "\n" + END + rest,
                       encoding="utf-8")


if __name__ == "__main__":
    main()
