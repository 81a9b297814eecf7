"""A power cut: the server and every terminal stop together, for longer than the credit
threshold (two hours here, on the centre's shifted clock: no test sleeps through them).
The documented recovery (docs/operations.md): start the server, start the
terminals. The downtime is credited to everyone as a centre pause before anything falls
due, every acknowledged answer is there, and nobody is submitted early.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.plans.models import Pause
from exam_server.rehearsal.seed import seed_rehearsal
from exam_server.sittings import engine, service
from exam_server.sittings.engine import AttemptState
from exam_server.sittings.models import Answer, Attempt
from tests.faults.fleet import enrol_fleet, run_fleet
from tests.live import LiveServer

pytestmark = pytest.mark.slow


def test_power_cut_recovery_credits_the_downtime(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(db)
    start = datetime.now(UTC) - timedelta(seconds=1)
    with db.write() as session:
        plan = seed_rehearsal(
            session,
            candidates=8,
            start=start,
            duration=timedelta(minutes=60),
            windows_s=(600, 600, 5),
        )
    _, secrets = plan.write(tmp_path)
    env = {
        "EXAM_KEY_ESCROW": str(secrets),
        "EXAM_CENTRAL_PUBLIC_KEY": str(tmp_path / "central.pub"),
        "EXAM_DOWNTIME_CREDIT_S": "3",
        "EXAM_DOWNTIME_RECORD_S": "1",
    }
    server = LiveServer(db.url, tmp_path / "data", extra_env=env, shifted_clock=True).start()
    dark = timedelta(hours=2)  # past the sitting's original end (start + 60 min)
    fleet = enrol_fleet(server.url, plan.codes)
    try:
        first = asyncio.run(
            run_fleet(server.url, plan.roster, seconds=4, pace=0.2, identities=fleet)
        )
        time.sleep(1)
        server.kill()  # the lights go out: server and terminals together
        down_at = time.time()
        server.jump_to(server.now() + dark)  # two hours dark
        server.start()
        up_at = time.time()
        second = asyncio.run(
            run_fleet(server.url, plan.roster, seconds=3, pace=0.2, identities=fleet)
        )
    finally:
        server.stop()
    assert not first.errors and not second.errors, (first.errors, second.errors)
    assert first.acked and second.acked, (first.refused, second.refused)
    assert not second.refused, "nobody was submitted or refused after the power cut"
    with db.read() as session:
        stored = {
            (a.attempt_id, a.seq): (a.item_id, a.response) for a in session.scalars(select(Answer))
        }
        pause = session.scalars(select(Pause)).one()
        credit = pause.ended_at - pause.started_at  # type: ignore[operator]
        attempts = session.scalars(select(Attempt)).all()
        assert {a.state for a in attempts} == {AttemptState.IN_PROGRESS}
        now = server.now()
        deadlines = {engine.deadline(service.timing_of(session, a), now) for a in attempts}
    for k, v in {**first.acked, **second.acked}.items():
        assert stored[k] == v
    credited = credit.total_seconds()
    # From the last heartbeat (at most 5 s before the cut) to the restart.
    dark_s = dark.total_seconds() + up_at - down_at
    assert dark_s - 1 <= credited <= dark_s + 6, (credited, dark_s)
    assert deadlines == {plan.end + credit}
