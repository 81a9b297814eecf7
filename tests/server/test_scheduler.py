"""The scheduler in-process: jobs survive in the database; late sittings are reconciled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, text

from exam_server import create_app
from exam_server.migrate import upgrade
from exam_server.plans.models import Sitting
from exam_server.runtime import runtime
from exam_server.sittings import scheduler as sched_mod
from exam_server.sittings.engine import AttemptState
from exam_server.sittings.models import Attempt
from exam_server.sittings.scheduler import SittingScheduler
from tests.factories import make_world


def app_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
            "DATA_DIR": str(tmp_path),
            "TESTING": True,
        }
    )
    rt = runtime(app)
    upgrade(rt.db)
    return rt


def test_a_sitting_imported_while_running_gets_swept(tmp_path: Path) -> None:
    rt = app_for(tmp_path)
    sched = SittingScheduler(rt)
    sched.start()
    try:
        now = datetime.now(UTC)
        with rt.db.write() as session:
            world = make_world(session, start=now - timedelta(hours=2), candidates=2)
            sitting_id = world.sittings[0].id
        assert sched.scheduler.get_job(f"sweep:{sitting_id}") is None
        # While a sweep of that sitting is running (its date job already consumed), the
        # watcher leaves it alone rather than queue a second sweep behind it.
        sched_mod._sweeping.add(sitting_id)
        try:
            sched_mod.watch_sittings()
        finally:
            sched_mod._sweeping.discard(sitting_id)
        with rt.db.read() as session:
            assert session.get(Sitting, sitting_id).closed_at is None  # type: ignore[union-attr]
        sched_mod.watch_sittings()
        with rt.db.read() as session:
            assert session.get(Sitting, sitting_id).closed_at is not None  # type: ignore[union-attr]
            states = set(session.scalars(select(Attempt.state)))
        assert states == {AttemptState.ABSENT}
    finally:
        sched.shutdown()


def test_jobs_live_in_the_database_and_survive_a_restart(tmp_path: Path) -> None:
    rt = app_for(tmp_path)
    now = datetime.now(UTC)
    with rt.db.write() as session:
        world = make_world(session, start=now + timedelta(hours=1), candidates=1)
        sitting_id = world.sittings[0].id
    sched = SittingScheduler(rt)
    sched.start()
    job = sched.scheduler.get_job(f"sweep:{sitting_id}")
    assert (
        job is not None
        and abs((job.next_run_time - (now + timedelta(hours=1))).total_seconds()) < 2
    )
    sched.shutdown()
    # A new process (new runtime, same database) finds the job in the store.
    rt2 = app_for(tmp_path)
    sched2 = SittingScheduler(rt2)
    sched2.scheduler.start(paused=True)
    try:
        assert sched2.scheduler.get_job(f"sweep:{sitting_id}") is not None
    finally:
        sched2.scheduler.shutdown(wait=False)
    # On SQLite the store is a file of its own beside the centre's, so its writes never
    # wait on the answer path's lock; the centre database's table stays empty.
    assert (tmp_path / "c.scheduler.db").exists()
    with rt2.db.read() as session:
        assert session.execute(text("SELECT count(*) FROM apscheduler_jobs")).scalar() == 0
