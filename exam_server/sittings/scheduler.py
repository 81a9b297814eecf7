"""Timed work of the sittings (start, absent, auto-submit at the deadline, close).

APScheduler runs from a persistent SQLAlchemy job store, so a restart loses no job. On
PostgreSQL the store is a table of the centre database. On SQLite it is a small database
file of its own beside the centre's (``centre.scheduler.db`` next to ``centre.db``): the
store writes outside the process's write queue (:meth:`Database.write`), and in the same
file its writes had to win SQLite's lock by polling against a stream of answer batches,
which under load starved the sweep that starts and ends sittings (measured: a sitting of
500 answering terminals whose end never came within 30 s).

The database holds the deadlines; a job is only a trigger to run
:func:`~exam_server.sittings.service.sweep`, which is idempotent and computes the next
wake-up itself. At startup :meth:`SittingScheduler.reconcile` sweeps every open sitting,
which submits whatever fell due while the server was down.

Exactly one scheduler runs per centre: inside the server process (default), or as the
dedicated ``exam-server scheduler`` process when several workers serve the sockets.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.jobstores.base import BaseJobStore
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select
from sqlalchemy.orm import Session

from exam_common import protocol as p
from exam_common.durable import private_sqlite
from exam_server.plans.models import Sitting
from exam_server.runtime import jobs_runtime, set_jobs_runtime
from exam_server.scoring.service import score_sitting
from exam_server.sittings import service, signals
from exam_server.sittings.models import Attempt

if TYPE_CHECKING:
    from exam_server.runtime import Runtime

log = logging.getLogger(__name__)

HEARTBEAT_S = 5


#: Sittings whose sweep is running in this process right now. A sweep of a large sitting
#: takes seconds; meanwhile its date job is gone from the store, and the watcher below must
#: not take that for "never scheduled" and start the same sweep again (measured: at 500
#: terminals two extra sweeps queued behind the one that was submitting everyone).
_sweeping: set[int] = set()
_sweeping_lock = threading.Lock()


def run_sweep(sitting_id: int) -> None:
    """Job body: sweep one sitting, tell the terminals, schedule the next wake-up."""
    rt = jobs_runtime()
    if rt is None or rt.scheduler is None:
        log.error("sweep for sitting %s ran without a runtime", sitting_id)
        return
    with _sweeping_lock:
        _sweeping.add(sitting_id)
    try:
        _sweep(rt, sitting_id)
    finally:
        with _sweeping_lock:
            _sweeping.discard(sitting_id)


def _sweep(rt: Runtime, sitting_id: int) -> None:
    assert rt.scheduler is not None
    if rt.config.KEY_ESCROW:
        from exam_server.packages.release import release_from_escrow

        release_from_escrow(rt, sitting_id)
    signals.sweep_due.send("scheduler", rt=rt, sitting_id=sitting_id)  # keys that fall due

    def unit(session: Session) -> tuple[datetime, service.SweepResult, list[tuple[Any, ...]]]:
        now = rt.clock.now()
        result = service.sweep(session, sitting_id, now)
        sitting = session.get(Sitting, sitting_id)
        if sitting is not None:
            score_sitting(session, now, sitting, rt.vault)
        pushes = [
            (a.id, a.submitted_at, a.receipt)
            for a in session.scalars(select(Attempt).where(Attempt.id.in_(result.submitted)))
        ]
        return now, result, pushes

    # Under gevent on a native thread: the end of a large sitting is a long transaction,
    # and the sockets keep being served while it runs.
    now, result, pushes = rt.db.transact(unit)
    committed = rt.clock.now()
    signals.sitting_swept.send(
        "scheduler",
        sitting_id=sitting_id,
        started=result.started,
        submitted=result.submitted,
        absent=result.absent,
        at=now,
    )
    for attempt_id, submitted_at, receipt in pushes:
        signals.attempt_submitted.send("scheduler", attempt_id=attempt_id, by="deadline", at=now)
        from exam_server.sittings.namespace import attempt_room

        rt.emit(
            "attempt_submitted",
            p.dump(
                p.AttemptSubmitted(
                    attempt_id=attempt_id,
                    reason="deadline",
                    submitted_at=submitted_at or now,
                    receipt=receipt or "",
                )
            ),
            to=attempt_room(attempt_id),
            namespace=p.NAMESPACE,
        )
    if result.started:
        from exam_server.sittings.start import announce_start

        announce_start(rt, sitting_id)
    if result.started or result.submitted or result.absent:
        log.info(
            "sitting %s swept at %s: committed +%.3f s, terminals told +%.3f s; "
            "%d started, %d submitted, %d absent",
            sitting_id,
            now.isoformat(),
            (committed - now).total_seconds(),
            (rt.clock.now() - now).total_seconds(),
            len(result.started),
            len(result.submitted),
            len(result.absent),
        )
    if result.next_wakeup is not None:
        rt.scheduler.schedule(sitting_id, result.next_wakeup)
    signals.sweep_done.send("scheduler", rt=rt, sitting_id=sitting_id)  # results to central


def heartbeat() -> None:
    """Job body: record that the server is alive (downtime is measured from this)."""
    rt = jobs_runtime()
    if rt is not None:
        from exam_server.system.service import beat

        with rt.db.write() as session:
            beat(session, rt.clock.now())


#: How often to look for sittings imported while the server runs (a cheap query); a
#: sitting pulled minutes before its start still starts on time.
WATCH_S = 5


def watch_sittings() -> None:
    """Job body: a sitting imported while the server runs (a package pulled on the day)
    has no sweep yet; give it one. Everything else is already scheduled."""
    rt = jobs_runtime()
    if rt is None or rt.scheduler is None:
        return
    with rt.db.read() as session:
        open_ids = list(session.scalars(select(Sitting.id).where(Sitting.closed_at.is_(None))))
    for sitting_id in open_ids:
        with _sweeping_lock:
            if sitting_id in _sweeping:
                continue  # its sweep is running; that sweep schedules the next one
        if rt.scheduler.scheduler.get_job(f"sweep:{sitting_id}") is None:
            run_sweep(sitting_id)


def job_store(rt: Runtime) -> BaseJobStore:
    """The scheduler's persistent store (see the module's notes on SQLite)."""
    if not rt.db.is_sqlite:
        return SQLAlchemyJobStore(engine=rt.db.engine, tablename="apscheduler_jobs")
    database = rt.db.engine.url.database
    if not database or database == ":memory:":
        return MemoryJobStore()  # an in-memory centre (tests): nothing outlives it anyway
    path = Path(database)
    store = private_sqlite(path.with_name(path.stem + ".scheduler.db"))
    return SQLAlchemyJobStore(
        url=f"sqlite:///{store}",
        engine_options={"connect_args": {"timeout": 30}},
        tablename="apscheduler_jobs",
    )


class SittingScheduler:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.scheduler = BackgroundScheduler(
            jobstores={"default": job_store(rt)},
            timezone=UTC,
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 2},
        )

    def start(self) -> None:
        set_jobs_runtime(self.rt)
        self.rt.scheduler = self
        self.scheduler.start()
        self.reconcile()
        self.scheduler.add_job(
            heartbeat, "interval", seconds=HEARTBEAT_S, id="heartbeat", replace_existing=True
        )
        self.scheduler.add_job(
            watch_sittings, "interval", seconds=WATCH_S, id="watch-sittings", replace_existing=True
        )
        # keys, results, backups and uploads with central (exam-sync setup): sync's jobs
        signals.scheduler_started.send("scheduler", scheduler=self)
        self.rt.clock.on_jump(self.clock_jumped)

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if jobs_runtime() is self.rt:
            set_jobs_runtime(None)

    def state(self) -> str:
        return "running" if self.scheduler.running else "stopped"

    def schedule(self, sitting_id: int, when: datetime) -> None:
        """(Re)schedule the sitting's next sweep; one job per sitting."""
        self.scheduler.add_job(
            run_sweep,
            "date",
            # APScheduler waits on the machine's clock; the centre's clock may be shifted
            run_date=self.rt.clock.to_wall(when) + timedelta(milliseconds=5),
            args=[sitting_id],
            id=f"sweep:{sitting_id}",
            replace_existing=True,
        )

    def reconcile(self) -> None:
        """At startup: record downtime, then sweep every sitting not yet closed."""
        from exam_server.system.service import record_downtime

        with self.rt.db.write() as session:
            record_downtime(
                session,
                self.rt.clock.now(),
                self.rt.config.DOWNTIME_RECORD_S,
                self.rt.config.DOWNTIME_CREDIT_S,
            )
            open_ids = list(session.scalars(select(Sitting.id).where(Sitting.closed_at.is_(None))))
        for sitting_id in open_ids:
            run_sweep(sitting_id)

    def clock_jumped(self) -> None:
        """The centre's clock jumped (a test's shifted clock): every timer set on the
        machine's clock is wrong now, so sweep every open sitting at once. The jump is no
        downtime: the heartbeat moves with it (a jump while the server is down is)."""
        from exam_server.system.service import beat

        with self.rt.db.write() as session:
            beat(session, self.rt.clock.now())
            open_ids = list(session.scalars(select(Sitting.id).where(Sitting.closed_at.is_(None))))
        for sitting_id in open_ids:
            self.sitting_changed(sitting_id)

    def sitting_changed(self, sitting_id: int) -> None:
        """Something moved a deadline (pause, resume, extra time): sweep again now."""
        self.schedule(sitting_id, self.rt.clock.now())
