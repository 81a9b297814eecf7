"""A flaky LAN: a proxy between the terminals and a running server aborts a share of the
links every second (an RST to both ends, as a pulled cable looks). Terminals reconnect
and re-send; answering goes on; every acknowledged change is in the database and the
server is never restarted. `bench/bench_faults.py --cut` runs the same at full scale.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.rehearsal.seed import seed_rehearsal
from exam_server.sittings.models import Answer
from tests.conftest import free_port
from tests.faults.fleet import enrol_fleet, run_fleet, seeded
from tests.live import LiveServer

pytestmark = pytest.mark.slow

PROXY = Path(__file__).resolve().parents[2] / "bench" / "cutting_proxy.py"


def test_links_cut_while_answering_lose_nothing(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(db)
    with db.write() as session:
        plan = seed_rehearsal(
            session,
            candidates=16,
            start=datetime.now(UTC) - timedelta(seconds=1),
            duration=timedelta(minutes=30),
            windows_s=(1800, 1800, 1800),
        )
    _, secrets = plan.write(tmp_path)
    server = LiveServer(
        db.url,
        tmp_path / "data",
        extra_env={
            "EXAM_KEY_ESCROW": str(secrets),
            "EXAM_CENTRAL_PUBLIC_KEY": str(tmp_path / "central.pub"),
        },
    ).start()
    fleet = enrol_fleet(server.url, plan.codes)
    port = free_port()
    rng = seeded("network cut")
    cuts_file = tmp_path / "cuts"
    proxy = subprocess.Popen(
        [
            sys.executable,
            str(PROXY),
            "--listen",
            str(port),
            "--target",
            server.url.removeprefix("http://"),
            "--every",
            "1",
            "--share",
            "0.3",
            "--seed",
            str(rng.randrange(1 << 30)),
            "--cuts-file",
            str(cuts_file),
        ]
    )
    try:
        report = asyncio.run(
            run_fleet(
                f"http://127.0.0.1:{port}",
                plan.roster,
                seconds=10,
                pace=0.1,
                identities=fleet,
                rng=rng,
            )
        )
        assert server.proc is not None and server.proc.poll() is None, "the server kept running"
    finally:
        proxy.terminate()
        proxy.wait(10)
        server.stop()
    assert not report.errors, report.errors
    cuts = int(cuts_file.read_text())  # the proxy's own count: links were really cut
    assert cuts >= 5 and report.reconnects >= 1, (cuts, report.reconnects)
    assert len(report.acked) > 100 and not report.refused
    assert report.pending_at_end == 0
    with db.read() as session:
        stored = {
            (a.attempt_id, a.seq): (a.item_id, a.response) for a in session.scalars(select(Answer))
        }
    lost = {k: v for k, v in report.acked.items() if stored.get(k) != v}
    assert not lost, f"{len(lost)} acknowledged answers missing, e.g. {list(lost.items())[:3]}"
    # Re-sends after a cut are idempotent: the database holds exactly what the terminals
    # sent, each change once, nothing they did not send and nothing altered.
    with db.read() as session:
        rows = session.scalar(select(func.count()).select_from(Answer))
    assert rows == len(stored)
    assert {k: v for k, v in stored.items()} == {k: report.sent[k] for k in stored}
    db.dispose()
