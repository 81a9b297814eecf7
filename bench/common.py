"""Shared pieces of the load benchmarks: a centre under test, the echo baseline, the
simulator, and a sampler of the server's CPU and memory.

Every scenario starts a real centre server (``exam-server run``) on a fresh database
seeded with a rehearsal sitting (real sealed papers from the sample bank, keys released
by the scheduler from an escrow at the start and the end, as central would), drives it
with ``exam-client simulate`` on loopback, and measures the same simulator against the
bare echo server (``bench/echo_server.py``) in the same run for the ratio.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exam_client.simulate import green_processes  # noqa: E402
from exam_server.db import Database  # noqa: E402
from exam_server.migrate import upgrade  # noqa: E402
from exam_server.rehearsal.seed import RehearsalPlan, seed_rehearsal  # noqa: E402

PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine() -> str:
    return (
        f"{platform.node()} {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}"
    )


@dataclass
class Sampler:
    """Samples CPU and RSS of a process tree every 0.5 s in a thread."""

    pid: int
    samples: list[tuple[float, float, float]] = field(default_factory=list)  # (t, cpu_s, rss)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def _sample(self) -> None:
        cpu = rss = 0.0
        for proc in self._tree():
            try:
                t = proc.cpu_times()
                cpu += t.user + t.system
                rss += proc.memory_info().rss
            except psutil.Error:
                pass
        self.samples.append((time.time(), cpu, rss))

    def start(self) -> Sampler:
        def loop() -> None:
            while not self._stop.is_set():
                self._sample()
                self._stop.wait(0.5)

        threading.Thread(target=loop, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._sample()

    def window(self, t0: float, t1: float) -> dict[str, float]:
        inside = [s for s in self.samples if t0 <= s[0] <= t1]
        if len(inside) < 2:
            return {"cpu_pct": float("nan"), "peak_rss_mb": float("nan")}
        cpu = (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0]) * 100
        return {
            "cpu_pct": round(cpu, 1),
            "peak_rss_mb": round(max(s[2] for s in inside) / 2**20, 1),
        }

    def rss_at(self, t: float) -> float:
        best = min(self.samples, key=lambda s: abs(s[0] - t))
        return best[2] / 2**20


@dataclass
class Centre:
    url: str
    proc: subprocess.Popen[bytes]
    plan: RehearsalPlan
    roster: Path
    db: Database
    folder: Path

    def health(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/healthz", timeout=10).json()  # type: ignore[no-any-return]


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()[-3000:]}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"no answer from {url}")


def fresh_pg(admin_url: str) -> str:
    """A new, empty PostgreSQL database beside the one ``admin_url`` names; its URL."""
    from sqlalchemy import create_engine, text

    name = f"exam_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


@contextmanager
def centre(
    terminals: int,
    *,
    start_in: float,
    duration: float,
    windows: tuple[int, int, int] = (3600, 3600, 3600),
    async_mode: str = "gevent",
    workers: int = 1,
    database_url: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Centre]:
    folder = Path(tempfile.mkdtemp(prefix="bench-centre-"))
    url = fresh_pg(database_url) if database_url else f"sqlite:///{folder / 'centre.db'}"
    db = Database(url)
    upgrade(db)
    start = datetime.now(UTC) + timedelta(seconds=start_in)
    with db.write() as session:
        plan = seed_rehearsal(
            session,
            candidates=terminals,
            start=start,
            duration=timedelta(seconds=duration),
            windows_s=windows,
        )
    roster, secrets = plan.write(folder)
    # Plain HTTP through the explicit flag: the figures in docs/benchmarks.md are measured
    # without TLS. The terminals still enrol (bulk codes) and prove their keys.
    plan.write_codes(folder / "enrol-codes.json", "")
    port = free_port()
    log = folder / "server.log"
    cmd = [
        PY,
        "-m",
        "exam_server.cli",
        "run",
        "--port",
        str(port),
        "--database",
        url,
        "--data-dir",
        str(folder),
        "--insecure-http",
    ]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    full_env = {
        **os.environ,
        "EXAM_KEY_ESCROW": str(secrets),
        "EXAM_ASYNC_MODE": async_mode,
        "EXAM_CENTRAL_PUBLIC_KEY": str(folder / "central.pub"),
        **(env or {}),
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=full_env, start_new_session=True
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc, log)
        yield Centre(f"http://127.0.0.1:{port}", proc, plan, roster, db, folder)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)
        db.dispose()


@contextmanager
def echo(async_mode: str = "gevent") -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="bench-echo-")) / "echo.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                PY,
                str(ROOT / "bench" / "echo_server.py"),
                "--port",
                str(port),
                "--async-mode",
                async_mode,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", proc, log)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        proc.wait(30)


def simulate(
    url: str,
    roster: Path,
    terminals: int,
    *,
    pace: float,
    duration: float,
    submit: bool = False,
    drain: float = 20,
    processes: int | None = None,
    measure_after: float = 0.0,
    green: bool = False,
) -> dict[str, Any]:
    """Run ``exam-client simulate`` and return its JSON report (terminals spread over
    :func:`sim_processes` processes unless told otherwise; ``green``: as greenlets)."""
    out = Path(tempfile.mkdtemp(prefix="bench-sim-")) / "report.json"
    cmd = [
        PY,
        "-m",
        "exam_client.cli",
        "simulate",
        "--server",
        url,
        "--roster",
        str(roster),
        "--terminals",
        str(terminals),
        "--pace",
        str(pace),
        "--duration",
        str(duration),
        "--report",
        str(out),
        "--drain",
        str(drain),
        "--processes",
        str(processes or sim_processes(terminals, green=green)),
        "--measure-after",
        str(measure_after),
    ]
    codes = roster.parent / "enrol-codes.json"
    if codes.exists():
        cmd += ["--enrol-codes", str(codes)]
    if submit:
        cmd.append("--submit")
    if green:
        cmd.append("--green")
    # The simulator exits 1 when answers were left unacknowledged; that is a figure to
    # report (the report's "lost"), not a reason to throw the run away.
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if not out.exists():
        raise RuntimeError(f"exam-client simulate exited {done.returncode}: {done.stderr[-2000:]}")
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def sim_processes(terminals: int, *, green: bool = False) -> int:
    """Simulator processes for N terminals. Threads: about 50 agents each (each agent is
    a few threads; more per process and the simulator's own GIL shows in the latencies,
    see docs/benchmarks.md), at most 64. Green: about 250 each, at most 4 (two cores)."""
    if green:
        return green_processes(terminals)
    return min(64, max(1, -(-terminals // 50)))


def add_generator_option(ap: Any) -> None:
    """``--generator``: how the bench's simulated terminals run (see ``--green``)."""
    ap.add_argument(
        "--generator",
        default="green",
        choices=["green", "threads"],
        help="exam-client simulate with --green (greenlets; default) or with OS threads",
    )


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n## {title}\n")
    if not rows:
        return
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(fmt(r.get(k)) for k in keys) + " |")
    sys.stdout.flush()
