"""The fault tests at full scale: N terminals answering while the centre server is killed
(kill -9 of its whole process group) at random instants and restarted, or while a proxy
cuts a share of the terminals' links every few seconds.

Every change a terminal saw acknowledged must be in the database afterwards with the same
content, and no candidate's deadline may move. The terminals are the fault tests' fleet
(``tests/faults/fleet.py``: it records exactly what was acknowledged), in one asyncio
process.

    .venv/bin/python bench/bench_faults.py --terminals 1000 --kills 5 --seconds 150
    .venv/bin/python bench/bench_faults.py --terminals 1000 --cut --seconds 120
    .venv/bin/python bench/bench_faults.py --terminals 1000 --kills 5 \
        --database postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import PY, free_port, fresh_pg, machine, print_table
from sqlalchemy import select

from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.rehearsal.seed import seed_rehearsal
from exam_server.sittings import engine, service
from exam_server.sittings.models import Answer, Attempt
from tests.faults.fleet import enrol_fleet, run_fleet
from tests.live import LiveServer


def deadlines(db: Database, at: datetime) -> dict[int, datetime]:
    with db.read() as session:
        return {
            a.id: engine.deadline(service.timing_of(session, a), at)
            for a in session.scalars(select(Attempt))
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--terminals", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=150, help="answering time")
    ap.add_argument("--pace", type=float, default=5)
    ap.add_argument("--kills", type=int, default=5, help="kill -9 of the server, at random")
    ap.add_argument("--cut", action="store_true", help="cut links through a proxy instead")
    ap.add_argument("--cut-every", type=float, default=5)
    ap.add_argument("--cut-share", type=float, default=0.05)
    ap.add_argument("--database", default=None, help="PostgreSQL admin URL (default: SQLite)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--mode", default="gevent", choices=["gevent", "threading"])
    args = ap.parse_args()
    print(f"machine: {machine()}")
    folder = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    url = fresh_pg(args.database) if args.database else f"sqlite:///{folder / 'centre.db'}"
    db = Database(url)
    upgrade(db)
    start = datetime.now(UTC) - timedelta(seconds=1)
    with db.write() as session:
        plan = seed_rehearsal(
            session,
            candidates=args.terminals,
            start=start,
            duration=timedelta(hours=2),
            windows_s=(7200, 7200, 7200),
        )
    _, secrets = plan.write(folder)
    server = LiveServer(
        url,
        folder / "data",
        extra_env={
            "EXAM_KEY_ESCROW": str(secrets),
            "EXAM_ASYNC_MODE": args.mode,
            "EXAM_CENTRAL_PUBLIC_KEY": str(folder / "central.pub"),
        },
    )
    server.start(timeout=60)
    fleet = enrol_fleet(server.url, plan.codes)
    before = deadlines(db, start + timedelta(minutes=1))
    kills: list[float] = []
    restarts: list[float] = []
    rng = random.Random(args.seed)
    proxy = None
    target = server.url
    if args.cut:
        port = free_port()
        proxy = subprocess.Popen(
            [
                PY,
                str(Path(__file__).parent / "cutting_proxy.py"),
                "--listen",
                str(port),
                "--target",
                server.url.removeprefix("http://"),
                "--every",
                str(args.cut_every),
                "--share",
                str(args.cut_share),
            ]
        )
        target = f"http://127.0.0.1:{port}"

    def killer() -> None:
        # Kills spread over the answering time, the last well before its end.
        span = args.seconds * 0.75
        instants = sorted(rng.uniform(10, span) for _ in range(args.kills))
        t0 = time.time()
        for at in instants:
            time.sleep(max(0.0, t0 + at - time.time()))
            server.kill()
            kills.append(time.time())
            server.start(timeout=60)
            restarts.append(time.time())

    thread = threading.Thread(target=killer, daemon=True)
    if not args.cut:
        thread.start()
    t0 = time.time()
    try:
        report = asyncio.run(
            run_fleet(target, plan.roster, seconds=args.seconds, pace=args.pace, identities=fleet)
        )
    finally:
        if thread.is_alive():
            thread.join()
        if proxy is not None:
            proxy.terminate()
            proxy.wait(10)
        server.stop()
    elapsed = time.time() - t0
    with db.read() as session:
        stored = {
            (row.attempt_id, row.seq): (row.item_id, row.response)
            for row in session.execute(
                select(Answer.attempt_id, Answer.seq, Answer.item_id, Answer.response)
            )
        }
    lost = {k: v for k, v in report.acked.items() if stored.get(k) != v}
    after = deadlines(db, start + timedelta(minutes=1))
    moved = sum(1 for k, d in before.items() if after.get(k) != d)
    told = sum(1 for ds in report.deadlines.values() if len(set(ds)) != 1)
    lat = sorted(report.latencies)
    p99 = lat[int(0.99 * (len(lat) - 1))] * 1000 if lat else float("nan")
    outage = [r - k for k, r in zip(kills, restarts, strict=False)]
    print_table(
        "faults at scale: "
        + (
            f"{args.cut_share:.0%} of links cut every {args.cut_every:g} s"
            if args.cut
            else f"{len(kills)} x kill -9 of the server"
        ),
        [
            {
                "N": args.terminals,
                "mode": args.mode,
                "db": "PostgreSQL" if args.database else "SQLite",
                "seconds": round(elapsed),
                "kills": len(kills),
                "restart s (max)": round(max(outage), 1) if outage else None,
                "reconnects": report.reconnects,
                "acked": len(report.acked),
                "stored": len(stored),
                "lost acked": len(lost),
                "pending at end": report.pending_at_end,
                "refused": sum(report.refused.values()),
                "deadlines moved": moved,
                "terminals told two deadlines": told,
                "ack p99 ms": round(p99, 1),
            }
        ],
    )
    db.dispose()
    if lost or moved or told:
        raise SystemExit(f"FAILED: {len(lost)} lost, {moved} deadlines moved, {told} told twice")


if __name__ == "__main__":
    main()
