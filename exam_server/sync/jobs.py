"""The scheduler's sync work: keys at start and end, results when a sitting closes,
backups during a sitting, and the upload queue.

Listeners of the sitting scheduler's signals (:mod:`exam_server.sittings.signals`),
connected by :func:`connect` (``create_app`` does it):

* :func:`before_sweep` (``sweep_due``): at a sitting's start and end the sweep runs; if a
  key is due and missing, fetch it from central in a job of its own;
* :func:`after_sweep` (``sweep_done``): a sitting just closed: build and queue its result
  package and push it now;
* :func:`install` (``scheduler_started``) adds the periodic :func:`tick`
  (``EXAM_SYNC_INTERVAL_S``) on the persistent job store; it retries everything above (keys, results, pushes with backoff)
  and takes the backups, so a restart or a dead link only delays the work. At startup
  the first tick runs at once (reconciliation).

Nothing here runs unless the centre is set up (``exam-sync setup``).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from exam_server.backups.service import BackupError
from exam_server.plans.models import Sitting
from exam_server.sync import service
from exam_server.sync.client import SyncError
from exam_server.sync.models import SyncStatus

if TYPE_CHECKING:
    from exam_server.runtime import Runtime
    from exam_server.sittings.scheduler import SittingScheduler

log = logging.getLogger(__name__)
_lock = threading.Lock()


def _runtime() -> Runtime | None:
    from exam_server.runtime import jobs_runtime

    return jobs_runtime()


def connect() -> None:
    """Listen to the sitting scheduler (idempotent: a listener is connected once)."""
    from exam_server.sittings import signals

    signals.scheduler_started.connect(_on_started, weak=False)
    signals.sweep_due.connect(_on_sweep_due, weak=False)
    signals.sweep_done.connect(_on_sweep_done, weak=False)


def _on_started(_sender: object, *, scheduler: SittingScheduler) -> None:
    install(scheduler)


def _on_sweep_due(_sender: object, *, rt: Runtime, sitting_id: int) -> None:
    before_sweep(rt, sitting_id)


def _on_sweep_done(_sender: object, *, rt: Runtime, sitting_id: int) -> None:
    after_sweep(rt, sitting_id)


def _linked(rt: Runtime) -> service.Link | None:
    with rt.db.read() as session:
        return service.get_link(session, rt.config)


def install(sched: SittingScheduler) -> None:
    cfg = sched.rt.config
    if cfg.SYNC_INTERVAL_S <= 0:
        return
    sched.scheduler.add_job(
        tick,
        "interval",
        seconds=cfg.SYNC_INTERVAL_S,
        id="sync:tick",
        replace_existing=True,
        next_run_time=sched.rt.clock.to_wall(sched.rt.clock.now()) + timedelta(seconds=0.5),
    )


def fetch_key(rt: Runtime, sitting_id: int, code: str, kind: str) -> bool:
    """Fetch one key from central and enter it. False (and a retry scheduled at its
    time) when central says it is not yet due; other failures are noted for status."""
    from exam_server.packages.release import release_end_key, release_sitting_key

    now = rt.clock.now()
    try:
        secret = service.client(rt.db, rt.config, timeout=5).key(code, kind)
    except SyncError as exc:
        if exc.code == "key_too_early" and rt.scheduler is not None:
            wait = float(exc.reply.get("seconds_left", 1.0))
            rt.scheduler.scheduler.add_job(
                retry_key,
                "date",
                run_date=rt.clock.to_wall(now) + timedelta(seconds=min(max(wait, 0.2), 3600) + 0.2),
                args=[sitting_id],
                id=f"sync:key:{sitting_id}",
                replace_existing=True,
            )
        service.record_error(rt.db, now, f"{code} 取{_what(kind)}：[{exc.code}] {exc.message}")
        return False
    if kind == "start":
        release_sitting_key(rt, sitting_id, secret, by="sync")
    else:
        release_end_key(rt, sitting_id, secret, by="sync")
        after_sweep(rt, sitting_id)
    with rt.db.write() as session:
        service.note(session, now, f"key:{code}:{kind}", "central")
    log.info("sync: %s of %s entered from central", _what(kind), code)
    return True


def _what(kind: str) -> str:
    return "试卷密钥" if kind == "start" else "答案密钥"


def _due(rt: Runtime, sitting_id: int | None = None) -> list[tuple[int, str, str]]:
    with rt.db.read() as session:
        due = service.due_keys(session, rt.clock.now())
    return [d for d in due if sitting_id is None or d[0] == sitting_id]


def retry_key(sitting_id: int) -> None:
    rt = _runtime()
    if rt is None:
        return
    for sid, code, kind in _due(rt, sitting_id):
        fetch_key(rt, sid, code, kind)  # entering a key re-sweeps the sitting itself


def before_sweep(rt: Runtime, sitting_id: int) -> None:
    """A key of this sitting is due and missing: fetch it now, in its own job, so that a
    slow or dead link never holds up the sweep (the sitting waits for its key in a
    recorded server pause, which ends the moment the key arrives)."""
    link = _linked(rt)
    if link is None or not link.central_url or rt.scheduler is None:
        return
    if _due(rt, sitting_id):
        rt.scheduler.scheduler.add_job(
            retry_key,
            "date",
            run_date=rt.clock.to_wall(rt.clock.now()),
            args=[sitting_id],
            id=f"sync:key:{sitting_id}",
            replace_existing=True,
        )


def after_sweep(rt: Runtime, sitting_id: int) -> None:
    if _linked(rt) is None:
        return
    with rt.db.read() as session:
        s = session.get(Sitting, sitting_id)
        closed = s is not None and s.closed_at is not None and s.end_key is not None
        queued = service.results_queued(session, sitting_id)
    if closed and not queued and rt.scheduler is not None:
        rt.scheduler.scheduler.add_job(
            tick,
            "date",
            run_date=rt.clock.to_wall(rt.clock.now()),
            id="sync:tick-now",
            replace_existing=True,
        )


def tick() -> None:
    rt = _runtime()
    if rt is None or not _lock.acquire(blocking=False):
        return
    try:
        run_tick(rt)
    except Exception:  # a job must not die silently: log it and note it for status
        log.exception("sync tick failed")
        service.record_error(rt.db, rt.clock.now(), "同步任务出错，详见服务器日志")
    finally:
        _lock.release()


def run_tick(rt: Runtime) -> None:
    cfg, now = rt.config, rt.clock.now()
    try:
        backup_if_due(rt, now)  # linked or not: a backup is first of all for this centre
    except BackupError as exc:
        service.record_error(rt.db, now, f"备份失败：{exc}")
    link = _linked(rt)
    if link is None:
        return
    if link.central_url:
        for sid, code, kind in _due(rt):
            fetch_key(rt, sid, code, kind)
    with rt.db.write() as session:
        for s in session.scalars(
            select(Sitting).where(Sitting.closed_at.is_not(None), Sitting.end_key.is_not(None))
        ):
            if not service.results_queued(session, s.id):
                service.queue_results(session, cfg, now, s)
    if link.central_url:
        try:
            service.push(cfg, rt.db, now, retries=1, due_only=True)
        except SyncError as exc:
            service.record_error(rt.db, now, f"[{exc.code}] {exc.message}")


def backup_if_due(rt: Runtime, now: datetime) -> None:
    """During a sitting (from login opening until it closes), a backup every
    ``EXAM_BACKUP_INTERVAL_S``; and one more right after each sitting closes."""
    cfg = rt.config
    if cfg.BACKUP_INTERVAL_S <= 0:
        return
    with rt.db.read() as session:
        sittings = session.scalars(select(Sitting)).all()
        active = [
            s.code
            for s in sittings
            if s.closed_at is None and now >= s.start - timedelta(seconds=s.entry_opens_before_s)
        ]
        final = [
            s.code
            for s in sittings
            if s.closed_at is not None and session.get(SyncStatus, f"final_backup:{s.code}") is None
        ]
        row = session.get(SyncStatus, "last_backup")
        last = row.at if row is not None else None
    due = active and (last is None or (now - last).total_seconds() >= cfg.BACKUP_INTERVAL_S)
    if not due and not final:
        return
    service.queue_backup(cfg, rt.db, now, sitting=(active or final)[0])
    with rt.db.write() as session:
        for code in final:
            service.note(session, now, f"final_backup:{code}", "done")
