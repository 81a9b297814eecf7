"""The province's day at central: every centre at once, on the production server.

``exam-central run`` (gunicorn, several workers) on a fresh PostgreSQL database, and
``--centres`` simulated centres (``tests/central/province_sim.py``) speaking the real
sync protocol through the centre server's own client: Ed25519-signed requests with
nonces, package downloads checked by SHA-256, chunked resumable uploads with retries.

Phases, each with a baseline measured in the same run (one centre alone):

1. **publish**: ``--candidates`` registrations imported, seated, papers assembled, one
   signed package per centre (central's own functions, in this process);
2. **pull**: every centre lists and downloads its package at the same moment;
3. **start**: every centre asks for the sitting's key at its start, each by its own clock
   (spread over one second around the start; a centre that asks early is told
   ``seconds_left`` and asks again then): time from the start until each has its key;
4. **end**: every centre pushes its signed result package (every candidate's answers),
   central verifies each and re-scores every attempt on intake; some centres lie about
   one score, and ``exam-central results`` must name exactly those. With ``--faults``, a
   central worker is SIGKILLed and central's database connections are cut during it;
   every upload must still complete, each stored and counted once;
5. **backups**: ``--backup-rounds`` rounds of one backup (``--backup-kb``) from every
   centre; each round must finish inside the 5-minute interval; storage per exam day.

    .venv/bin/python bench/bench_central_day.py --centres 300 --candidates 100000

Needs PostgreSQL (``--pg``, default the tests' ``postgresql+psycopg://postgres@127.0.0.1/test``,
where it creates a database of its own and drops it at the end).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import Sampler, free_port, fresh_pg, wait_http  # noqa: E402

from central.db import CentralDatabase  # noqa: E402
from central.migrate import upgrade  # noqa: E402
from central.models import (  # noqa: E402
    AuditEvent,
    Backup,
    CentreAccount,
    RescoredAttempt,
    ResultPackage,
    Upload,
    UploadChunk,
)
from central.service import check_backup  # noqa: E402
from exam_server.sync.client import SyncError  # noqa: E402
from tests.central.province_sim import (  # noqa: E402
    SITTING,
    SimCentre,
    answer_keys,
    backup_file,
    move_sitting,
    results_package,
    seed_province,
    upload_id,
)

PY = sys.executable
PHASES = ("pull", "start", "end", "backups")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_1_5_15": [round(x, 2) for x in load],
        "python": sys.version.split()[0],
    }


def db_size(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        size = int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0)
    engine.dispose()
    return size


def at_once(n: int, fn: Callable[[int], Any], threads: int) -> tuple[list[Any], float]:
    """Run ``fn(i)`` for every centre at the same moment; results and wall seconds."""
    barrier = threading.Barrier(min(n, threads))

    def one(i: int) -> Any:
        if i < threads:
            barrier.wait()
        return fn(i)

    t = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        out = list(pool.map(one, range(n)))
    return out, time.perf_counter() - t


class CentralProcess:
    def __init__(self, url: str, folder: Path, workers: int, threads: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "central.log"
        env = {
            **os.environ,
            "EXAM_CENTRAL_DATABASE_URL": url,
            "EXAM_CENTRAL_DATA_DIR": str(folder / "data"),
        }
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    PY,
                    "-m",
                    "central.cli",
                    "run",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(workers),
                    "--threads",
                    str(threads),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        wait_http(f"{self.url}/healthz", self.proc, self.log)
        self.sampler = Sampler(self.proc.pid).start()
        self.dbname = url.rsplit("/", 1)[1]
        self.pg_samples: list[tuple[float, float]] = []
        self._stop_pg = threading.Event()
        threading.Thread(target=self._sample_pg, daemon=True).start()

    def cpu_since(self, w0: float) -> dict[str, float]:
        """Central's CPU (% of one core and seconds, all its processes), its peak RSS,
        and the CPU seconds of PostgreSQL's backends for this database, since ``w0``
        (samples every 0.5 s, so a window is widened by one sample each side)."""
        time.sleep(0.6)
        t1 = time.time()
        out = self.sampler.window(w0 - 0.6, t1)
        inside = [x for x in self.sampler.samples if w0 - 0.6 <= x[0] <= t1]
        if len(inside) >= 2:
            out["cpu_s"] = round(inside[-1][1] - inside[0][1], 1)
        pg = [x for x in self.pg_samples if w0 - 0.6 <= x[0] <= t1]
        if len(pg) >= 2:
            out["pg_cpu_s"] = round(pg[-1][1] - pg[0][1], 1)
        return out

    def cpu_now(self) -> float:
        """CPU seconds of central's processes (master and workers) so far."""
        total = 0.0
        for proc in [psutil.Process(self.proc.pid), *self.workers()]:
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def pg_cpu_now(self) -> float:
        """CPU seconds so far of the PostgreSQL backends serving this database now."""
        total = 0.0
        for proc in psutil.process_iter(["cmdline"]):
            try:
                title = " ".join(proc.info["cmdline"] or [])
                if title.startswith("postgres:") and self.dbname in title:
                    t = proc.cpu_times()
                    total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def _sample_pg(self) -> None:
        """CPU seconds of the PostgreSQL backends serving this database (by their
        process titles), counting a backend that went away at its last sample."""
        seen: dict[int, float] = {}
        while not self._stop_pg.is_set():
            for proc in psutil.process_iter(["cmdline"]):
                try:
                    title = " ".join(proc.info["cmdline"] or [])
                    if title.startswith("postgres:") and self.dbname in title:
                        t = proc.cpu_times()
                        seen[proc.pid] = t.user + t.system
                except psutil.Error:
                    pass
            self.pg_samples.append((time.time(), sum(seen.values())))
            self._stop_pg.wait(0.5)

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children()

    def stop(self) -> None:
        self._stop_pg.set()
        self.sampler.stop()
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--centres", type=int, default=300)
    ap.add_argument("--candidates", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=None, help="central's gunicorn workers")
    ap.add_argument("--threads", type=int, default=4, help="threads per worker")
    ap.add_argument("--client-threads", type=int, default=0, help="default: one per centre")
    ap.add_argument("--backup-kb", type=int, default=1024)
    ap.add_argument("--backup-rounds", type=int, default=2)
    ap.add_argument("--day-hours", type=float, default=5.0, help="hours of backups a day")
    ap.add_argument("--liars", type=int, default=3, help="centres that misreport a score")
    ap.add_argument("--faults", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument(
        "--phases",
        default=",".join(PHASES),
        help="which of pull,start,end,backups to run (publish always runs; the start "
        "does not depend on the others: it moves the sitting's start itself)",
    )
    ap.add_argument(
        "--serial-keys",
        type=int,
        default=200,
        help="key requests one centre sends one after another before the crowd, to "
        "measure central's and PostgreSQL's CPU per request without contention",
    )
    args = ap.parse_args()
    phases = set(args.phases.split(","))
    if phases - set(PHASES):
        ap.error(f"unknown phases {sorted(phases - set(PHASES))}; known: {PHASES}")
    n = args.centres
    workers = args.workers or 2 * (os.cpu_count() or 1) + 1
    cthreads = args.client_threads or n
    figures: dict[str, Any] = {
        "command": " ".join(["bench/bench_central_day.py", *sys.argv[1:]]),
        "machine_before": machine(),
        "centres": n,
        "candidates": args.candidates,
        "workers": workers,
        "threads": args.threads,
    }
    print(f"machine: {figures['machine_before']}", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-central-day-"))
    url = fresh_pg(args.pg)
    db = CentralDatabase(url)
    central: CentralProcess | None = None
    try:
        upgrade(db)
        now = datetime.now(UTC)
        central_key = Ed25519PrivateKey.generate()
        # --- 1. publish ---------------------------------------------------------------
        seeded = seed_province(
            db,
            folder,
            n,
            args.candidates,
            now + timedelta(hours=6),
            now + timedelta(hours=7),
            central_key,
        )
        assert len(seeded.packages) == n, "a package for every centre"
        figures["publish"] = {
            "import_s": round(seeded.import_s, 1),
            "publish_s": round(seeded.publish_s, 1),
            "db_mb_after_publish": round(db_size(url) / 2**20, 1),
        }
        print(f"publish: {figures['publish']}", flush=True)
        codes = sorted(seeded.keys)
        central = CentralProcess(url, folder, workers, args.threads)
        centres = [SimCentre(central.url, c, seeded.keys[c], timeout=120) for c in codes]
        rss0 = central.sampler.rss_at(time.time()) if central.sampler.samples else 0.0
        figures["central_rss_mb_idle"] = round(rss0, 1)

        # --- 2. pull ------------------------------------------------------------------
        if "pull" in phases:
            pull_phase(figures, central, centres, n, cthreads)
        if "start" in phases:
            start_phase(figures, central, centres, db, n, cthreads, args.serial_keys)
        if "end" in phases or "backups" in phases:
            end_and_backups(figures, args, central, centres, db, url, seeded, codes, phases)
        figures["central_peak_rss_mb"] = round(
            max(s[2] for s in central.sampler.samples) / 2**20, 1
        )
        figures["db_mb_at_end"] = round(db_size(url) / 2**20, 1)
        figures["machine_after"] = machine()
    finally:
        if central is not None:
            central.stop()
        db.dispose()
        _drop(args.pg, url)
    print(json.dumps(figures, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=1))


def pull_phase(
    figures: dict[str, Any],
    central: CentralProcess,
    centres: list[SimCentre],
    n: int,
    cthreads: int,
) -> None:
    t = time.perf_counter()
    alone_bytes = centres[0].pull()
    alone_pull = time.perf_counter() - t

    def pull(i: int) -> tuple[float, int]:
        t = time.perf_counter()
        got = centres[i].pull()
        return time.perf_counter() - t, got

    w0 = time.time()
    pulled, wall = at_once(n, pull, cthreads)
    lat = [p[0] for p in pulled]
    figures["pull"] = {
        "alone_s": round(alone_pull, 3),
        "package_kb": round(alone_bytes / 1024, 1),
        "all_wall_s": round(wall, 2),
        "p50_s": round(pct(lat, 50), 3),
        "p99_s": round(pct(lat, 99), 3),
        "max_s": round(max(lat), 3),
        "mb": round(sum(p[1] for p in pulled) / 2**20, 1),
        "p99_over_alone": round(pct(lat, 99) / alone_pull, 1),
        "central": central.cpu_since(w0),
    }
    print(f"pull: {figures['pull']}", flush=True)


def start_phase(
    figures: dict[str, Any],
    central: CentralProcess,
    centres: list[SimCentre],
    db: CentralDatabase,
    n: int,
    cthreads: int,
    serial: int,
) -> None:
    # --- 3. start -----------------------------------------------------------------
    asked: list[int] = []  # requests sent, refusals included
    client_cpu: list[float] = []  # CPU seconds of the asking thread (the centre's side)

    def key_at(centre: SimCentre, start: datetime, skew: float) -> float:
        """Ask at ``start + skew`` (the centre's clock); seconds after the start the
        key was in hand."""
        time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds() + skew))
        c0 = time.thread_time()
        tries = 0
        while True:
            tries += 1
            try:
                centre.client.key(SITTING, "start")
                break
            except SyncError as exc:
                if exc.code != "key_too_early":
                    raise
                time.sleep(max(0.0, float(exc.reply.get("seconds_left", 0.05))))
        took = (datetime.now(UTC) - start).total_seconds()
        asked.append(tries)
        client_cpu.append(time.thread_time() - c0)
        return took

    start = datetime.now(UTC) + timedelta(seconds=2)
    move_sitting(db, start=start, end=start + timedelta(hours=1))
    alone_key = key_at(centres[0], start, 0.0)
    # one centre, one request after another (the key already due): the CPU each costs
    # central and PostgreSQL without contention
    cpu0, pg0, cl0, t0 = central.cpu_now(), central.pg_cpu_now(), time.thread_time(), time.time()
    for _ in range(serial):
        centres[0].client.key(SITTING, "start")
    wall = time.time() - t0
    cpu1, pg1, cl1 = central.cpu_now(), central.pg_cpu_now(), time.thread_time()
    serial_fig = {
        "requests": serial,
        "wall_ms_per_request": round(wall / max(serial, 1) * 1000, 2),
        "central_cpu_ms_per_request": round((cpu1 - cpu0) / max(serial, 1) * 1000, 2),
        "pg_cpu_ms_per_request": round((pg1 - pg0) / max(serial, 1) * 1000, 2),
        "client_cpu_ms_per_request": round((cl1 - cl0) / max(serial, 1) * 1000, 2),
    }
    print(f"start, one centre {serial} requests in a row: {serial_fig}", flush=True)
    asked.clear()
    client_cpu.clear()
    start = datetime.now(UTC) + timedelta(seconds=3)
    move_sitting(db, start=start, end=start + timedelta(hours=1))
    rng = random.Random(7)
    skews = [rng.uniform(-0.5, 0.5) for _ in range(n)]
    w0 = time.time()
    me = psutil.Process()
    mine0 = sum(me.cpu_times()[:2])
    got, _wall = at_once(n, lambda i: key_at(centres[i], start, skews[i]), cthreads)
    mine = sum(me.cpu_times()[:2]) - mine0
    # each centre's own clock: from the start, or from its own (late) asking
    after_start = got
    after_ask = [g - max(0.0, s) for g, s in zip(got, skews, strict=True)]
    used = central.cpu_since(w0)
    requests = sum(asked)
    figures["start"] = {
        "alone_s": round(alone_key, 3),
        "p50_s": round(pct(after_start, 50), 3),
        "p99_s": round(pct(after_start, 99), 3),
        "max_s": round(max(after_start), 3),
        "p99_after_own_ask_s": round(pct(after_ask, 99), 3),
        "target_p99_s": 1.0,
        "p99_over_alone": round(pct(after_start, 99) / max(alone_key, 1e-3), 1),
        "requests": requests,
        "refused_too_early": requests - n,
        "central": used,
        "central_cpu_ms_per_request": round(used.get("cpu_s", float("nan")) / requests * 1000, 1),
        "pg_cpu_ms_per_request": round(used.get("pg_cpu_s", float("nan")) / requests * 1000, 1),
        "centres_cpu_s": round(sum(client_cpu), 2),
        "centres_cpu_ms_per_request": round(sum(client_cpu) / requests * 1000, 2),
        "bench_process_cpu_s": round(mine, 2),
        "serial": serial_fig,
    }
    print(f"start: {figures['start']}", flush=True)


def end_and_backups(
    figures: dict[str, Any],
    args: argparse.Namespace,
    central: CentralProcess,
    centres: list[SimCentre],
    db: CentralDatabase,
    url: str,
    seeded: Any,
    codes: list[str],
    phases: set[str],
) -> None:
    n = len(codes)
    cthreads = args.client_threads or n
    base = codes[0]
    if "end" in phases:
        end = datetime.now(UTC) - timedelta(seconds=1)
        move_sitting(db, start=end - timedelta(hours=1), end=end)
        keys = answer_keys(db)
        rng = random.Random(11)
        liars = set(rng.sample(codes, min(args.liars, n)))
        t = time.perf_counter()
        packages = {
            c: results_package(
                c,
                seeded.keys[c],
                keys[c][0],
                keys[c][1],
                lie_about=0 if c in liars else None,
            )
            for c in codes
        }
        build_s = time.perf_counter() - t
        attempts = sum(len(keys[c][1]) for c in codes)
        # the baseline: one centre's package alone (a copy under its own content, so the
        # crowd's upload of the same centre is not a duplicate)
        base = codes[0]
        alone_pkg = results_package(base, seeded.keys[base], *keys[base], seed=1)
        t = time.perf_counter()
        alone = centres[0].upload(alone_pkg, kind="results", upload_id=upload_id("results", base))
        alone_end = time.perf_counter() - t
        assert alone.reply["differences"] == 0
        faults: dict[str, Any] = {}

        def push(i: int) -> tuple[float, dict[str, Any]]:
            c = codes[i]
            t = time.perf_counter()
            r = centres[i].upload(
                packages[c], kind="results", upload_id=upload_id("results", c), retries=12
            )
            return time.perf_counter() - t, r.reply

        progress = {"done": 0}
        lock = threading.Lock()

        def counted_push(i: int) -> tuple[float, dict[str, Any]]:
            out = push(i)
            with lock:
                progress["done"] += 1
            return out

        def saboteur(t0: float, stop: threading.Event) -> None:
            """A worker SIGKILLed once a fifth of the centres are in, then every central
            database connection cut once half are in: uploads in flight both times."""

            def when(fraction: float) -> bool:
                while not stop.is_set():
                    if progress["done"] >= fraction * n:
                        return True
                    time.sleep(0.01)
                return False

            if not when(0.2):
                return
            assert central is not None
            victim = random.choice(central.workers())
            faults["uploads_open_at_kill"] = _count(db, Upload)
            victim.send_signal(signal.SIGKILL)
            faults["worker_killed_at_s"] = round(time.perf_counter() - t0, 2)
            if not when(0.5):
                return
            eng = create_engine(url)
            with eng.connect() as conn:
                faults["uploads_open_at_cut"] = int(
                    conn.execute(text("SELECT count(*) FROM upload")).scalar() or 0
                )
                cut = conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar()
            eng.dispose()
            faults["db_connections_cut"] = int(cut or 0)
            faults["db_cut_at_s"] = round(time.perf_counter() - t0, 2)

        w0 = time.time()
        stop = threading.Event()
        t0 = time.perf_counter()
        sab = threading.Thread(target=saboteur, args=(t0, stop), daemon=True)
        if args.faults:
            sab.start()
        pushed, wall = at_once(n, counted_push, cthreads)
        stop.set()
        if args.faults:
            sab.join()
        lat = [p[0] for p in pushed]
        t = time.perf_counter()
        report = subprocess.run(
            [PY, "-m", "central.cli", "results", "--database", url],
            capture_output=True,
            text=True,
            env=os.environ,
        )
        report_s = time.perf_counter() - t
        named = {
            line.split()[1]
            for line in report.stdout.splitlines()
            if line.startswith("考点 ") and "有差异" in line
        }
        with db.read() as s:
            rescored = int(
                s.scalar(
                    select(func.count())
                    .select_from(RescoredAttempt)
                    .where(RescoredAttempt.central_score.is_not(None))
                )
                or 0
            )
            stored = int(s.scalar(select(func.count()).select_from(ResultPackage)) or 0)
            received = int(
                s.scalar(
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(AuditEvent.kind == "results.received")
                )
                or 0
            )
        ok = (
            stored == n + 1
            and received == n + 1
            and rescored == attempts + len(keys[base][1])
            and named == liars
            and _count(db, Upload) == 0
            and _count(db, UploadChunk) == 0
        )
        figures["end"] = {
            "attempts": attempts,
            "centre_build_s": round(build_s, 1),
            "package_kb_mean": round(statistics.mean(len(p) for p in packages.values()) / 1024, 1),
            "alone_s": round(alone_end, 3),
            "all_wall_s": round(wall, 1),
            "p50_s": round(pct(lat, 50), 2),
            "p99_s": round(pct(lat, 99), 2),
            "target_all_s": 300,
            "wall_over_alone_x_centres": round(wall / (alone_end * n), 2),
            "attempts_rescored": rescored,
            "result_packages_stored": stored,
            "counted_once": stored == received,
            "differences_named": sorted(named),
            "differences_expected": sorted(liars),
            "report_s": round(report_s, 1),
            "faults": faults if args.faults else "off",
            "all_checks": ok,
            "central": central.cpu_since(w0),
        }
        print(f"end: {figures['end']}", flush=True)
        if not ok:
            print(report.stdout[-3000:], report.stderr[-3000:])

    if "backups" in phases:
        size = args.backup_kb * 1024
        alone_file = backup_file(base, seeded.keys[base], size, datetime.now(UTC))
        t = time.perf_counter()
        centres[0].upload(alone_file, kind="backup", upload_id=upload_id("backup", base))
        alone_b = time.perf_counter() - t
        rounds = []
        for r in range(args.backup_rounds):
            files = [backup_file(c, seeded.keys[c], size, datetime.now(UTC)) for c in codes]
            before = db_size(url)
            w0 = time.time()
            done, wall = at_once(
                n,
                lambda i, files=files, r=r: centres[i].upload(  # type: ignore[misc]
                    files[i], kind="backup", upload_id=upload_id("backup", codes[i], r)
                ),
                cthreads,
            )
            grown = db_size(url) - before
            rounds.append(
                {
                    "wall_s": round(wall, 1),
                    "mb_in": round(size * n / 2**20, 1),
                    "db_grew_mb": round(grown / 2**20, 1),
                    "central": central.cpu_since(w0),
                }
            )
            print(f"backups round {r + 1}: {rounds[-1]}", flush=True)
        # every stored backup verifies (the centre's signature, its header naming it)
        t = time.perf_counter()
        with db.read() as s:
            accounts = {a.code: a for a in s.scalars(select(CentreAccount))}
            checked = 0
            for b in s.scalars(select(Backup)):
                check_backup(b.data, accounts[b.centre_code])
                assert hashlib.sha256(b.data).hexdigest() == b.sha256
                checked += 1
        verify_s = time.perf_counter() - t
        per_round_mb = size * n / 2**20
        per_day_rounds = int(args.day_hours * 12)
        figures["backups"] = {
            "backup_kb": args.backup_kb,
            "alone_s": round(alone_b, 3),
            "rounds": rounds,
            "round_over_alone_x_centres": round(
                statistics.mean(x["wall_s"] for x in rounds) / (alone_b * n), 2
            ),
            "target_round_s": 300,
            "stored_and_verified": checked,
            "verify_all_s": round(verify_s, 1),
            "rounds_per_day": per_day_rounds,
            # what is kept: every backup as received (the database's growth per round
            # also holds the chunks of the round, deleted on completion and reused
            # by the next round once autovacuum has passed)
            "storage_per_day_gb": round(per_round_mb * per_day_rounds / 1024, 1),
        }
        print(f"backups: {figures['backups']}", flush=True)


def _count(db: CentralDatabase, model: type) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _drop(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


if __name__ == "__main__":
    main()
