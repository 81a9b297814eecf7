"""Power cuts for real: the page cache goes too, and only what was fsynced survives.

Central and a centre run as real processes, each on its own disk on LazyFS
(:mod:`tests.faults.lazyfs`); the centre's disk holds its database, its scheduler's job
store and its data directory, and one terminal (``exam-client run``) keeps its journal,
key and pre-loaded papers on the same disk (one building, one power cut). A short sitting
runs from the pull of its package to central's re-score of its results, and the power
is cut five times, each aimed at its phase: the test watches the disk (a temporary file,
a database row), freezes the machine's processes when the phase is on, looks again while
they are frozen (what the cut will leave), and cuts there, or lets them run on and waits
for the next chance. Each cut prints the phase it hit, and the test fails when it missed
the one it aimed at:

1. the centre, while ``exam-sync pull`` writes or imports the package;
2. the centre, the instant the paper key from central is stored at the start;
3. the centre, while a backup is being taken (its snapshot or its sealed temporary file),
   terminals answering;
4. central, while an upload from the centre (a backup, or the results) is under way;
5. the centre, after the end, while the result package is queued and not yet sent.

The instants within those phases are random (seeded; the seed is printed and
``EXAM_FAULT_SEED`` replays it).

After each cut, before anything restarts, the disk is checked: every key and
configuration file byte for byte as it was (the centre secret, which the server made
itself; ``centre.toml``; ``centre.pub``; the imported packages; central's key pair; the
terminal's ``terminal.key``, ``enrolment.json`` and ``ca.pem`` when it has one); the
terminal's pre-loaded papers still in its journal (not fetched again); ``PRAGMA
integrity_check`` on every SQLite database (the centre's, its scheduler store, the
terminal's journal, central's). The terminal restarts on its own files: a start that
would have to enrol again fails the test. At the end: every answer a terminal saw
acknowledged is stored; every change the terminal's screen showed as recorded is in its
journal and on the server; the event log's chain holds; no deadline moved; the server
serves; every backup on the centre's disk opens with the centre's secret; central holds
the result package, re-scored with no difference, and every backup it took in is whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from central.db import CentralDatabase
from central.models import Backup, ResultPackage
from exam_server.backups.service import read_backup
from exam_server.db import Database
from exam_server.eventlog.service import verify_chain
from exam_server.plans.models import Pause
from exam_server.secret import read_centre_secret
from exam_server.sittings import engine, service
from exam_server.sittings.models import Answer, Attempt
from exam_server.sync.models import OutboxItem
from tests.central.world import CENTRE, plan_doc, registration_rows, write_plan, write_registrations
from tests.client.conftest import ClientProcess
from tests.faults.fleet import run_fleet, seeded
from tests.faults.lazyfs import PowerDomain, require_lazyfs
from tests.live import LiveServer
from tests.sync.harness import (
    Central,
    centre_env,
    lead_time,
    server_cli,
    sync,
    wait_for,
    wait_until,
)
from tests.threads import Checked

pytestmark = pytest.mark.slow

SITTING = "T-ZYDD-L4"
#: long enough for three restarts of a loaded CI machine inside the sitting
DURATION = timedelta(seconds=60)


@pytest.fixture
def disks(tmp_path: Path) -> Iterator[tuple[PowerDomain, PowerDomain]]:
    require_lazyfs()
    centre, central = PowerDomain(tmp_path, "centre"), PowerDomain(tmp_path, "central")
    centre.mount(), central.mount()
    try:
        yield centre, central
    finally:
        for d in (centre, central):
            d.close()


def test_a_day_of_power_cuts_loses_nothing_acknowledged(
    disks: tuple[PowerDomain, PowerDomain], tmp_path: Path
) -> None:
    rng = seeded("power loss")
    began = time.monotonic()

    def mark(what: str) -> None:
        print(f"  +{time.monotonic() - began:6.1f} s  {what}", flush=True)

    lz_centre, lz_central = disks
    logs = tmp_path / "logs"
    logs.mkdir()

    # --- central, on its own disk ---------------------------------------------------
    central = Central(f"sqlite:///{lz_central.mnt / 'central.db'}", lz_central.mnt / "central")
    central.log_path = logs / "central.log"
    central.cli("db", "upgrade")
    central.cli("init")
    central.cli("catalogue", "load", "henan")
    central.cli("plan", "load", str(write_plan(tmp_path, plan_doc(datetime.now(UTC)))))
    central.cli("registrations", "import", str(write_registrations(tmp_path, registration_rows(4))))
    central.start()

    # --- the centre, on the building's disk ---------------------------------------------
    data = lz_centre.mnt / "centre"
    centre_url = f"sqlite:///{data / 'centre.db'}"
    env = centre_env(centre_url, data, EXAM_SERVER_URL="http://127.0.0.1:9")
    server_cli(env, "db", "upgrade")
    sync(
        env,
        "setup",
        "--centre",
        CENTRE,
        "--central-url",
        central.url,
        "--central-key",
        str(central.public_key),
    )
    central.cli("centre", "add", CENTRE, "--public-key", (data / "centre.pub").read_text().strip())
    server = LiveServer(
        centre_url,
        data,
        extra_env={
            "EXAM_SYNC_INTERVAL_S": "1",
            "EXAM_BACKUP_INTERVAL_S": "2",
            # the cuts here last seconds: below the credit threshold, no deadline moves
            "EXAM_DOWNTIME_CREDIT_S": "120",
        },
        central_key=False,  # the centre pinned its own central at `exam-sync setup`
        write_secret=False,  # the server makes the centre secret itself, as in production
    )
    server.log_path = logs / "server.log"
    server.start()
    env = {**env, "EXAM_SERVER_URL": server.url}
    terminal: ClientProcess | None = None
    acked: dict[tuple[int, int], tuple[str, str]] = {}
    shown: list[tuple[int, str]] = []  # (seq, item) of each change the screen showed recorded
    kept = Kept()
    kept.add(data / "secret_key", data / "centre.toml", data / "centre.pub")
    kept.add(*(data / "tls").glob("*"))
    kept.add(lz_central.mnt / "central" / "central.key", lz_central.mnt / "central" / "central.pub")
    databases = {
        "centre": data / "centre.db",
        "scheduler store": data / "centre.scheduler.db",
        "central": lz_central.mnt / "central.db",
    }
    hit: dict[str, str] = {}
    try:
        start = datetime.now(UTC).replace(microsecond=0) + lead_time(10, floor=30)
        central.cli(
            "plan",
            "load",
            str(write_plan(tmp_path, plan_doc(start, duration=DURATION, windows=(300, 20, 3)))),
        )
        central.cli("publish")

        mark("published")
        # 1. The power goes while the package is being written or imported.
        pull = sync_popen(env, logs / "pull-1.log")
        packages = data / "packages"

        def importing() -> str | None:
            if pull.poll() is not None:
                return "missed: the pull had finished"
            if any(packages.glob(".*.tmp")):
                return "writing the package file"
            if any(packages.glob("*.zip")):
                done = rows(databases["centre"], "SELECT count(*) FROM imported_package")
                if done == [(0,)]:
                    return "importing the package (not committed)"
            return None

        time.sleep(rng.uniform(0.0, 0.5))
        hit["1"] = aimed_cut(lz_centre, lambda: [pull.pid, pid(server)], importing, within=60)
        mark(f"cut 1: {hit['1']}")
        after_cut(lz_centre, kept, databases)
        mark("the disk checked")
        server.start()
        again = sync(env, "pull").stdout
        assert "已导入考试包" in again or "没有新的考试包" in again, again
        with reading(centre_url) as session:
            attempts = session.scalars(select(Attempt).order_by(Attempt.id)).all()
            seats = [(a.seat.label, a.candidate.ticket, a.candidate.id_number) for a in attempts]
            assert len(attempts) == 4 and all(a.paper.ciphertext for a in attempts)
            terminal_attempt = attempts[0].id
        before = deadlines(centre_url)
        kept.add(*packages.glob("*.zip"))

        mark("cut 1 done, pulled")
        # The terminal at the first seat, its journal on the building's disk.
        terminal = ClientProcess(
            server.url,
            seats[0][0],
            lz_centre.mnt / "terminal",
            log_path=logs / "terminal.log",
            reenrol=False,  # a terminal that lost its enrolment in a cut fails the test
        )
        terminal.start()
        term_dir = terminal.data_dir
        kept.add(term_dir / "terminal.key", term_dir / "enrolment.json", term_dir / "ca.pem")
        databases["terminal journal"] = term_dir / "journal.db"
        wait_for(lambda: terminal.state().get("online"), 30, "the terminal connected")
        login = terminal.post("/api/login", {"ticket": seats[0][1], "id_number": seats[0][2]})
        assert login["ok"], login
        terminal.post("/api/confirm")
        papers = wait_for(
            lambda: paper_cache(databases["terminal journal"]), 30, "the papers pre-loaded"
        )
        fleet_roster = [{"seat": s, "ticket": t, "id_number": i} for s, t, i in seats[1:3]]
        identities = {row["seat"]: server.enrol(row["seat"]) for row in fleet_roster}
        assert datetime.now(UTC) < start, "the machine was too slow to get ready before the start"

        mark("terminal ready")
        # The fleet answers from the start to past the end, across every cut.
        wait_until(start)
        fleet = Checked(
            lambda: asyncio.run(
                run_fleet(
                    server.url,
                    fleet_roster,
                    seconds=DURATION.total_seconds() - 2,
                    pace=0.3,
                    identities=identities,
                    rng=random.Random(rng.random()),
                )
            ),
            name="fleet",
        )
        fleet.start()

        mark("start")

        # 2. The power goes the instant the paper key from central is stored.
        def key_stored() -> str | None:
            found = rows(
                databases["centre"],
                "SELECT (SELECT count(*) FROM sitting WHERE sitting_key IS NOT NULL), "
                "(SELECT count(*) FROM pause WHERE ended_at IS NULL)",
            )
            if found and found[0][0]:
                open_pause = " (the server's pause still open)" if found[0][1] else ""
                return f"the paper key stored at the start{open_pause}"
            return None

        time.sleep(rng.uniform(0.0, 0.3))
        hit["2"] = aimed_cut(lz_centre, lambda: [pid(server), pid(terminal)], key_stored, within=30)
        mark(f"cut 2: {hit['2']}")
        after_cut(lz_centre, kept, databases, papers)
        server.start()
        terminal.start()
        wait_for(lambda: terminal.state().get("paper_ready"), 30, "the paper open on the terminal")

        mark("cut 2 done, paper open")
        # 3. The power goes while answers and backups are being written.
        paper = terminal.paper()
        answer_for = time.monotonic() + rng.uniform(2.0, 5.0)
        n = 0
        # a few changes at least, however long the restarts took, while the sitting runs
        while (time.monotonic() < answer_for or n < 3) and datetime.now(
            UTC
        ) < start + DURATION - timedelta(seconds=10):
            shown += answer(terminal, paper, n)
            n += 1
            time.sleep(0.15)

        def backing_up() -> str | None:
            if any((data / "backups").glob(".*.tmp")):
                return "a backup being sealed (its temporary file)"
            if any(data.glob(".snapshot-*")):
                return "a backup being taken (its plain snapshot)"
            return None

        hit["3"] = aimed_cut(lz_centre, lambda: [pid(server), pid(terminal)], backing_up, within=30)
        mark(f"cut 3: {hit['3']}")
        after_cut(lz_centre, kept, databases, papers)
        server.start()
        terminal.start()
        wait_for(lambda: terminal.state().get("paper_ready"), 30, "the paper open again")

        mark("cut 3 done, paper open")

        # 4. Central's power goes while an upload (a backup, or after the end the results)
        # is half-received.
        def receiving() -> str | None:
            found = rows(databases["central"], "SELECT kind, received, size FROM upload")
            if found:
                kind, received, size = found[0]
                return f"a {kind} upload begun at central ({received}/{size} bytes in)"
            return None

        time.sleep(rng.uniform(0.0, 1.0))
        hit["4"] = aimed_cut(lz_central, lambda: [pid(central)], receiving, within=30)
        mark(f"cut 4: {hit['4']}")
        after_cut(lz_central, kept, databases)
        central.start()
        end = start + DURATION
        while datetime.now(UTC) < end - timedelta(seconds=3):
            shown += answer(terminal, paper, n)
            n += 1
            time.sleep(0.3)
        mark("answered to the end")

        # 5. The power goes after the end, the result package queued and not yet sent.
        def queued() -> str | None:
            found = rows(
                databases["centre"],
                "SELECT count(*) FROM sync_outbox WHERE kind = 'results' AND state = 'pending'",
            )
            return "the result package queued, not yet sent" if found and found[0][0] else None

        wait_until(end + timedelta(seconds=rng.uniform(0.0, 0.5)))
        hit["5"] = aimed_cut(lz_centre, lambda: [pid(server), pid(terminal)], queued, within=60)
        mark(f"cut 5: {hit['5']}")
        after_cut(lz_centre, kept, databases, papers)
        server.start()
        terminal.start()
        fleet.join(90)
        assert not fleet.result.errors, fleet.result.errors
        acked = fleet.result.acked

        cdb = CentralDatabase(central.db_url)
        package = wait_for(lambda: rescored(cdb), 120, "the result package re-scored at central")
        assert requests.get(f"{server.url}/healthz", timeout=5).ok
        wait_for(lambda: terminal.state().get("pending") == 0, 30, "the terminal's journal sent")
        journal = journal_changes(lz_centre.mnt / "terminal" / "journal.db")
    finally:
        if terminal is not None:
            terminal.stop()
        server.stop()
        central.stop()

    assert lz_centre.cuts == 4 and lz_central.cuts == 1
    missed = {n: phase for n, phase in hit.items() if phase.startswith("missed")}
    assert not missed, f"cuts that missed their phase: {missed}"
    kept.check()
    assert kept.files() >= {"secret_key", "centre.pub", "terminal.key", "enrolment.json"}
    assert package == (SITTING, "rescored", 4, 0), package
    with reading(centre_url) as session:
        stored = {
            (r.attempt_id, r.seq): (r.item_id, r.response)
            for r in session.execute(
                select(Answer.attempt_id, Answer.seq, Answer.item_id, Answer.response)
            )
        }
        chain = verify_chain(session)
        outbox = [(o.path, o.sha256) for o in session.scalars(select(OutboxItem))]
    assert acked, "the fleet had answers acknowledged"
    lost = {k: v for k, v in acked.items() if stored.get(k) != v}
    assert not lost, f"{len(lost)} acknowledged answers lost, e.g. {list(lost.items())[:3]}"
    # Every change the screen showed as recorded is in the journal, and on the server.
    assert shown
    for seq, item in shown:
        recorded = journal.get((terminal_attempt, seq))
        assert recorded is not None and recorded[0] == item, (seq, item, recorded)
        assert stored.get((terminal_attempt, seq)) == recorded, (seq, recorded)
    assert chain.ok, chain
    # No deadline moved but by the pauses the server recorded itself (the clock stopped
    # while a cut at the start kept the paper key from the terminals), credited to all.
    with reading(centre_url) as session:
        pauses = session.scalars(select(Pause)).all()
        assert all(p.ended_at is not None and p.by.startswith("server") for p in pauses), pauses
        credited = sum(((p.ended_at - p.started_at) for p in pauses), timedelta())  # type: ignore[operator]
    assert credited < timedelta(seconds=15), pauses
    assert {a: d - before[a] for a, d in deadlines(centre_url).items()} == dict.fromkeys(
        before, credited
    )
    assert outbox, "result packages were queued"
    for path, sha256 in outbox:
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha256, path
    secret = read_centre_secret(data / "secret_key").encode()
    backups = sorted((data / "backups").glob("*.exambak"))
    assert backups, "backups were taken"
    for path in backups:
        read_backup(path, secret)  # raises if it does not open with the centre's secret
    with CentralDatabase(central.db_url).read() as s:
        taken = s.scalars(select(Backup)).all()
        assert taken, "central took backups in"
        for b in taken:
            assert hashlib.sha256(b.data).hexdigest() == b.sha256


# --- helpers ----------------------------------------------------------------------------


def sync_popen(env: dict[str, str], log: Path) -> Any:
    import subprocess
    import sys

    out = open(log, "wb")  # noqa: SIM115 - handed to the child
    return subprocess.Popen(
        [sys.executable, "-m", "exam_server.sync.cli", "pull"], env=env, stdout=out, stderr=out
    )


@contextlib.contextmanager
def reading(url: str) -> Iterator[Any]:
    """A read session on a database that lives on a LazyFS disk, closed (engine and all)
    afterwards: an open file on the disk would keep it from unmounting at the cut."""
    db = Database(url)
    try:
        with db.read() as session:
            yield session
    finally:
        db.dispose()


def deadlines(url: str) -> dict[int, datetime]:
    with reading(url) as session:
        now = datetime.now(UTC)
        return {
            a.id: engine.deadline(service.timing_of(session, a), now)
            for a in session.scalars(select(Attempt))
        }


def answer(terminal: ClientProcess, paper: dict[str, Any], n: int) -> list[tuple[int, str]]:
    """The candidate picks an option: the change as the screen reported it recorded
    (none when it was the answer already there)."""
    q = paper["questions"][n % len(paper["questions"])]
    labels = [q["options"][(n // len(paper["questions"])) % len(q["options"])]["label"]]
    reply = terminal.post("/api/answer", {"item_id": q["item_id"], "labels": labels})
    assert reply["ok"], reply
    return [] if reply["seq"] is None else [(reply["seq"], q["item_id"])]


def pid(process: Any) -> int:
    """The pid of a LiveServer, Central or ClientProcess's child (0: not running)."""
    proc = process.proc
    return proc.pid if proc is not None and proc.poll() is None else 0


def journal_changes(path: Path) -> dict[tuple[int, int], tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return {
            (a, s): (i, r)
            for a, s, i, r in conn.execute("SELECT attempt_id, seq, item_id, response FROM change")
        }


def rescored(cdb: CentralDatabase) -> tuple[str, str, int, int] | None:
    with cdb.read() as s:
        row = s.scalar(select(ResultPackage))
        return row and (row.sitting_code, row.status, row.attempts, row.differences)


# --- aiming the cuts, and what the disk holds after one -------------------------------


def aimed_cut(
    disk: PowerDomain,
    pids: Callable[[], list[int]],
    phase: Callable[[], str | None],
    *,
    within: float,
) -> str:
    """Cut ``disk``'s power while ``phase()`` says its phase is on (the phase's name),
    looking again with the processes frozen, so the name is what the cut leaves; a phase
    that passed in between lets them run on, and the next chance is taken. A phase
    starting "missed", or none within ``within`` seconds, cuts at once: the name says so."""
    deadline = time.monotonic() + within
    while True:
        late = time.monotonic() > deadline
        seen = phase()
        if seen or late:
            frozen = pids()
            disk.freeze(frozen)
            now = phase()
            if now or late:
                disk.cut(frozen)
                return now or f"missed: no phase within {within:.0f} s"
            disk.thaw(frozen)
        time.sleep(0.005)


def rows(path: Path, sql: str) -> list[tuple[Any, ...]] | None:
    """``sql`` on a live database, read-only (None while it cannot be read yet)."""
    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        ) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.Error:
        return None


class Kept:
    """Every key and configuration file, by its SHA-256 when it was first seen: a cut
    must leave each byte for byte as it was."""

    def __init__(self) -> None:
        self.sha256: dict[Path, str] = {}

    def add(self, *paths: Path) -> None:
        for path in paths:
            if path.is_file() and path not in self.sha256:
                self.sha256[path] = hashlib.sha256(path.read_bytes()).hexdigest()

    def files(self) -> set[str]:
        return {p.name for p in self.sha256}

    def check(self) -> None:
        changed = {
            str(p): "gone" if not p.exists() else f"{p.stat().st_size} bytes, other content"
            for p, digest in self.sha256.items()
            if not p.exists() or hashlib.sha256(p.read_bytes()).hexdigest() != digest
        }
        assert not changed, f"key or configuration files changed by the cut: {changed}"


def paper_cache(journal: Path) -> dict[str, str]:
    """The terminal's pre-loaded papers: package sha256 -> sha256 of the ciphertext kept."""
    found = rows(journal, "SELECT sha256, ciphertext FROM paper_cache") or []
    return {sha: hashlib.sha256(blob).hexdigest() for sha, blob in found}


def after_cut(
    disk: PowerDomain,
    kept: Kept,
    databases: dict[str, Path],
    papers: dict[str, str] | None = None,
) -> None:
    """What the disk holds after the cut, before anything restarts on it: the keys and
    configuration unchanged, every SQLite database whole, the terminal's pre-loaded papers
    still there (it would fetch them again at its start, hiding a loss)."""
    kept.check()
    for name, path in databases.items():
        assert path.exists(), f"{name} database gone: {path}"
        with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
            result = conn.execute("PRAGMA integrity_check").fetchall()
        assert result == [("ok",)], f"{name} database {path} after the cut on {disk.name}: {result}"
    if papers is not None:
        assert paper_cache(databases["terminal journal"]) == papers, "pre-loaded papers lost"
