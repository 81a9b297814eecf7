"""kill -9 the centre server at random instants while terminals answer; restart it.

Every change a terminal saw acknowledged must be in the database afterwards, with the
same content, and no candidate's deadline may have moved. Runs on SQLite and PostgreSQL
at CI scale; `bench/bench_faults.py` runs the same check at full scale.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.rehearsal.seed import seed_rehearsal
from exam_server.sittings import engine, service
from exam_server.sittings.models import Answer, Attempt
from tests.conftest import drop_pg_database, make_pg_database
from tests.faults.fleet import enrol_fleet, run_fleet, seeded
from tests.live import LiveServer
from tests.threads import Checked

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'c.db'}" if request.param == "sqlite" else make_pg_database()
    database = Database(url)
    upgrade(database)
    yield database
    database.dispose()
    if request.param == "postgres":
        drop_pg_database(url)


def deadlines(db: Database, at: datetime) -> dict[int, datetime]:
    with db.read() as session:
        attempts = session.scalars(select(Attempt)).all()
        return {a.id: engine.deadline(service.timing_of(session, a), at) for a in attempts}


def test_kill_9_during_answering_loses_no_acknowledged_answer(db: Database, tmp_path: Path) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)  # already running: terminals answer at once
    with db.write() as session:
        plan = seed_rehearsal(
            session,
            candidates=24,
            start=start,
            duration=timedelta(minutes=30),
            windows_s=(1800, 1800, 1800),
        )
    roster, secrets = plan.write(tmp_path)
    server = LiveServer(
        db.url,
        tmp_path / "data",
        extra_env={
            "EXAM_KEY_ESCROW": str(secrets),
            "EXAM_CENTRAL_PUBLIC_KEY": str(tmp_path / "central.pub"),
        },
    ).start()
    fleet = enrol_fleet(server.url, plan.codes)
    before = deadlines(db, start + timedelta(minutes=1))
    kills = []

    rng = seeded("server kill")

    def killer() -> None:
        for _ in range(3):
            time.sleep(rng.uniform(0.8, 2.0))
            server.kill()
            kills.append(time.time())
            server.start()

    thread = Checked(killer, name="killer")
    fleet_rng = random.Random(rng.random())
    thread.start()
    try:
        report = asyncio.run(
            run_fleet(
                # long enough to answer on after the third restart even when a restart
                # takes seconds (three kills at most 2 s apart, each restart ~3 s at worst)
                server.url,
                plan.roster,
                seconds=20,
                pace=0.1,
                identities=fleet,
                rng=fleet_rng,
            )
        )
    finally:
        thread.join(60)
        server.stop()
    assert len(kills) == 3
    assert not report.errors, report.errors
    assert report.reconnects >= 3 and report.acked, report.refused
    assert report.last_ack_at > kills[-1] + 1, "answering went on after the last restart"
    assert report.pending_at_end == 0
    with db.read() as session:
        stored = {
            (row.attempt_id, row.seq): (row.item_id, row.response)
            for row in session.execute(
                select(Answer.attempt_id, Answer.seq, Answer.item_id, Answer.response)
            )
        }
    lost = {k: v for k, v in report.acked.items() if stored.get(k) != v}
    assert not lost, (
        f"{len(lost)} acknowledged answers missing or different, e.g. {list(lost.items())[:3]}"
    )
    assert deadlines(db, start + timedelta(minutes=1)) == before
    # Every terminal was told the same deadline at each of its logins, before and after kills.
    assert all(len(set(ds)) == 1 for ds in report.deadlines.values())
