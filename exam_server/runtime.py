"""What one server process holds besides Flask: database, clock, answer writer, scheduler."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from exam_server.clock import Clock
from exam_server.config import Config
from exam_server.db import Database
from exam_server.sittings.writer import AnswerWriter
from exam_server.system.vault import KeyVault

if TYPE_CHECKING:
    from exam_server.sittings.scheduler import SittingScheduler


@dataclass
class Runtime:
    config: Config
    db: Database
    clock: Clock
    writer: AnswerWriter
    #: released keys at rest, sealed under the centre secret
    vault: KeyVault
    scheduler: SittingScheduler | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def emit(self, event: str, data: Any, *, to: str, namespace: str) -> None:
        """Push to connected clients, from any thread (jobs, handlers)."""
        from exam_server.extensions import socketio

        socketio.emit(event, data, to=to, namespace=namespace)

    def cut_off_terminals(self, enrolment_ids: set[int]) -> None:
        """After a commit that revoked enrolments: cut their terminals off now (this
        process's connections, and every worker's through its revocation watcher)."""
        cut_off = self.extras.get("cut_off")
        if cut_off is not None and enrolment_ids:
            cut_off(set(enrolment_ids))


def runtime(app: Flask | None = None) -> Runtime:
    rt: Runtime = (app or current_app).extensions["exam"]
    return rt


#: The runtime the scheduler's jobs act on in this process. APScheduler stores only a
#: reference to a job's function and its arguments (its store is persistent); the process
#: that runs the scheduler sets this when it starts it (SittingScheduler.start).
_jobs_runtime: Runtime | None = None


def jobs_runtime() -> Runtime | None:
    """The runtime this process's scheduled jobs run against (None: no scheduler here)."""
    return _jobs_runtime


def set_jobs_runtime(rt: Runtime | None) -> None:
    global _jobs_runtime
    _jobs_runtime = rt
