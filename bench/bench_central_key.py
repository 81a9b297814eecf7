"""Where one key request's CPU goes at central, on PostgreSQL (issue 20, the start).

Two measurements, one centre asking at a time (no contention, so the figures are the
cost of a request itself):

1. **in-process**: central's Flask app called through its test client, every part of
   the key request timed by the thread's CPU clock (``time.thread_time``): reading the
   signed headers, the one query for the centre and its sitting, the signature and the
   nonce, the release and its audit record, the connection's checkout and commit;
2. **served**: ``exam-central run`` (gunicorn, one worker) and the CPU of its processes
   per request, for ``/healthz`` (the server and Flask alone, no database) and for the
   key request, over kept-alive connections and over a new connection each time (as the
   centres ask at the start).

    .venv/bin/python bench/bench_central_key.py

Needs PostgreSQL (``--pg``, as ``bench_central_day.py``; a database of its own, dropped at
the end).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_central_day import _drop, machine  # noqa: E402
from common import free_port, fresh_pg, wait_http  # noqa: E402

import central.app as central_app  # noqa: E402
from central import service  # noqa: E402
from central.db import CentralDatabase  # noqa: E402
from central.migrate import upgrade  # noqa: E402
from exam_common.signed_requests import sign_request  # noqa: E402
from tests.central.province_sim import SITTING, SimCentre, seed_province  # noqa: E402

PY = sys.executable
KEY = f"/api/v1/keys/{SITTING}/start"


def in_process(url: str, keys: dict[str, Ed25519PrivateKey], n: int) -> dict[str, float]:
    """CPU ms per key request of each part, central's app in this process."""
    spent: dict[str, float] = defaultdict(float)

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*a: Any, **k: Any) -> Any:
            t = time.thread_time()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.thread_time() - t

        return run

    @contextlib.contextmanager
    def write_core(self: CentralDatabase) -> Iterator[Any]:
        t = time.thread_time()
        with self.engine.connect() as conn:
            conn = conn.execution_options(immediate=True)
            with conn.begin():
                spent["connection checkout (with its ping)"] += time.thread_time() - t
                yield conn
                t = time.thread_time()
            spent["commit"] += time.thread_time() - t
            t = time.thread_time()
        spent["connection back to the pool"] += time.thread_time() - t

    patches = {
        (central_app, "_signed"): "signed headers read",
        (central_app, "verify_request"): "signature and time window",
        (service, "centre_and_sitting"): "query: centre and sitting (with BEGIN)",
        (service, "remember_nonce"): "insert: nonce",
        (service, "release_key"): "release: time check, insert: audit record",
        (central_app, "jsonify"): "reply (JSON)",
    }
    saved = {where: getattr(*where) for where in patches}
    saved_wc = CentralDatabase.write_core
    try:
        for (mod, name), label in patches.items():
            setattr(mod, name, timed(label, getattr(mod, name)))
        CentralDatabase.write_core = write_core  # type: ignore[method-assign]
        app = central_app.create_app({"DATABASE_URL": url})
        client = app.test_client()
        codes = sorted(keys)

        def one(i: int) -> None:
            code = codes[i % len(codes)]
            headers = sign_request(keys[code], code, "GET", KEY, b"", datetime.now(UTC))
            t = time.thread_time()
            reply = client.get(KEY, headers=headers)
            spent["TOTAL (through Flask's test client)"] += time.thread_time() - t
            assert reply.status_code == 200, reply.get_data()

        for i in range(200):
            one(i)
        spent.clear()
        for i in range(n):
            one(i)
        app.extensions["central"]["db"].dispose()
    finally:
        for (mod, name), fn in saved.items():
            setattr(mod, name, fn)
        CentralDatabase.write_core = saved_wc  # type: ignore[method-assign]
    return {k: round(v / n * 1000, 3) for k, v in sorted(spent.items(), key=lambda x: -x[1])}


def served(
    url: str, keys: dict[str, Ed25519PrivateKey], threads: int, rounds: int
) -> dict[str, list[float]]:
    """CPU ms per request of central's gunicorn (master and one worker)."""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="bench-central-key-"))
    log = folder / "central.log"
    env = {**os.environ, "EXAM_CENTRAL_DATABASE_URL": url, "EXAM_CENTRAL_DATA_DIR": str(folder)}
    cmd = [PY, "-m", "central.cli", "run", "--port", str(port), "--workers", "1"]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [*cmd, "--threads", str(threads)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    base = f"http://127.0.0.1:{port}"
    out_ms: dict[str, list[float]] = defaultdict(list)
    try:
        wait_http(f"{base}/healthz", proc, log)
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children()]

        def cpu() -> float:
            return sum(sum(p.cpu_times()[:2]) for p in tree)

        codes = sorted(keys)
        kept = requests.Session()
        kept.trust_env = False
        one = SimCentre(base, codes[0], keys[codes[0]])

        def healthz() -> None:
            for _ in codes:
                kept.get(f"{base}/healthz")

        def same_centre() -> None:
            for _ in codes:
                one.client.key(SITTING, "start")

        def fresh_keys() -> None:
            for code in codes:  # each centre once, on a connection of its own
                SimCentre(base, code, keys[code]).client.key(SITTING, "start")

        cases: dict[str, Callable[[], None]] = {
            "healthz, kept-alive connection": healthz,
            "key, kept-alive connection": same_centre,
            "key, a new connection each": fresh_keys,
        }
        for _ in range(rounds):
            for name, fn in cases.items():
                c0 = cpu()
                fn()
                out_ms[name].append(round((cpu() - c0) / len(codes) * 1000, 2))
    finally:
        proc.terminate()
        proc.wait(30)
    return dict(out_ms)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2000, help="in-process key requests")
    ap.add_argument("--centres", type=int, default=300, help="centres (served: one pass each)")
    ap.add_argument("--rounds", type=int, default=3, help="served: passes of each case")
    ap.add_argument("--threads", type=int, default=4, help="served: threads of the worker")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    print(f"machine: {machine()}", flush=True)
    url = fresh_pg(args.pg)
    db = CentralDatabase(url)
    try:
        upgrade(db)
        now = datetime.now(UTC)
        seeded = seed_province(
            db,
            Path(tempfile.mkdtemp(prefix="bench-central-key-")),
            args.centres,
            args.centres * 10,
            now - timedelta(hours=1),
            now + timedelta(hours=1),
            Ed25519PrivateKey.generate(),
        )
        print("in-process, CPU ms per key request:", flush=True)
        for part, ms in in_process(url, seeded.keys, args.requests).items():
            print(f"  {ms:7.3f}  {part}", flush=True)
        print(f"served (gunicorn, 1 worker x {args.threads} threads), CPU ms per request:")
        for case, values in served(url, seeded.keys, args.threads, args.rounds).items():
            print(f"  {case}: {values}", flush=True)
        print(f"machine after: {machine()}")
    finally:
        db.dispose()
        _drop(args.pg, url)


if __name__ == "__main__":
    main()
