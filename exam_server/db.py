"""The centre server's database: engine, sessions and the one unit-of-work wrapper.

SQLite is the embedded default (WAL journal, ``synchronous=FULL`` so a commit is on disk
before we acknowledge an answer); PostgreSQL runs the same models and migrations.

Service functions take a :class:`~sqlalchemy.orm.Session` and only flush. Commits happen
in exactly one place per request, Socket.IO event or job: :meth:`Database.write`, or
:meth:`Database.transact` for the heavy units (the answer writer's group commit, the
sweep), which under gevent runs them on a native thread.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from exam_common.durable import private_sqlite, sqlite_path
from exam_common.schema import durable_sqlite
from exam_server.schema import Base, UTCDateTime  # the models' base; migrations name these

__all__ = ["Base", "Database", "UTCDateTime", "make_engine"]

T = TypeVar("T")
log = logging.getLogger(__name__)


def make_engine(
    url: str, *, echo: bool = False, pool_size: int | None = None, native: bool = False
) -> Engine:
    """The engine for ``url``; ``native``: used only from native threads under gevent."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            private_sqlite(path)  # 0600: the centre's database is for the server alone
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size or 20,
            max_overflow=40,
        )
        return durable_sqlite(engine)
    engine = create_engine(
        url, echo=echo, pool_pre_ping=True, pool_size=pool_size or 10, max_overflow=20
    )
    if native:
        event.listen(engine, "do_connect", _connect_blocking)
    return engine


def _connect_blocking(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    """A psycopg connection that waits for the server in C, the GIL released, even in a
    gevent-patched process: for the native threads' engine only. psycopg sees gevent's
    patching and then waits through gevent's ``poll`` in every thread, which in a native
    thread means a hub of that thread's own and a turn of it per round trip: 1.2-1.4x the
    time per unit of the blocking wait with 10 or 50 units at once
    (``bench/bench_pg_native.py``)."""
    return _blocking_connection_class().connect(*cargs, **cparams)


@functools.cache
def _blocking_connection_class() -> type[Any]:
    import psycopg
    from psycopg import waiting

    wait_c = getattr(waiting, "wait_c", None)  # None: psycopg without its C extension

    class BlockingWaitConnection(psycopg.Connection[Any]):
        def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
            if wait_c is None or timeout is not None:
                return super().wait(gen, interval, timeout)
            return wait_c(gen, self.pgconn.socket, interval)

    return BlockingWaitConnection


def native_thread_runner() -> Callable[..., Any] | None:
    """Under gevent (the process monkey-patched), a function that runs ``fn(*args)`` in a
    native thread of the hub's pool and waits for it without blocking the event loop;
    otherwise None (threads are threads already).

    A SQLite or psycopg call made from a greenlet blocks every socket of the process until
    it returns; from a native thread it releases the GIL while the database works and
    syncs, and the loop runs on."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is an install requirement
        return None
    if not monkey.is_module_patched("threading"):
        return None
    import gevent

    def run(fn: Callable[..., Any], *args: Any) -> Any:
        return gevent.get_hub().threadpool.apply(fn, args)

    return run


#: ``session.info`` key of the work to run once the unit of work has committed
AFTER_COMMIT = "exam.after_commit"


def after_commit(session: Session, fn: Callable[[], object]) -> None:
    """Run ``fn`` once the unit of work ``session`` belongs to (:meth:`Database.write`,
    :meth:`Database.transact`) has committed: what others must hear of a change (a push to
    the terminals, the live map, the scheduler), and only if the change stands. Never when
    it rolls back. Runs in the caller's greenlet or thread, in the order registered."""
    session.info.setdefault(AFTER_COMMIT, []).append(fn)


def run_after_commit(work: list[Callable[[], object]]) -> None:
    for fn in work:
        try:
            fn()
        except Exception:  # the change is committed: a failed notice must not undo the reply
            log.exception("after-commit work %r failed", fn)


class Database:
    """Engine plus session factory, bound to one URL. Created by ``create_app``."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        # Every model, so that each foreign key finds its table whatever this process
        # imported so far (a CLI that never builds the app).
        import exam_server.models  # noqa: F401

        self.url = url
        self.engine = make_engine(url, echo=echo)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time, and its busy handler waits by sleeping (up to
        # 100 ms a nap) rather than by being woken. Writers of this process queue here
        # instead, so the next one starts the moment the last one commits.
        self._write_lock = threading.Lock() if self.is_sqlite else contextlib.nullcontext()
        # Under gevent, the heavy units of work (answer batches, the sweep) run on native
        # threads, on an engine of their own: its pool is only ever touched from those
        # threads, never from greenlets.
        self._native = native_thread_runner()
        self._native_engine = (
            make_engine(url, echo=echo, pool_size=2, native=True)
            if self._native is not None
            else None
        )
        self._native_sessions = sessionmaker(self._native_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        with self._write_lock:
            session = self.sessions()
            try:
                session.connection(execution_options={"immediate": True})
                yield session
                session.commit()
            except BaseException:
                session.info.pop(AFTER_COMMIT, None)  # it did not happen: nobody is told
                session.rollback()
                raise
            finally:
                session.close()
        run_after_commit(session.info.pop(AFTER_COMMIT, []))

    def transact(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` as one unit of work (as :meth:`write`) and return its
        result. Under gevent the unit runs on a native thread, so the event loop keeps
        serving every other socket while it runs; ``fn`` must then not touch greenlet
        objects (sockets, events, gevent queues), only the session and plain data."""
        if self._native is None:
            with self.write() as session:
                return fn(session)
        with self._write_lock:  # taken here, in the greenlet: writers queue cooperatively
            result, after = self._native(self._unit, self._native_sessions, fn)
        run_after_commit(after)  # back in the greenlet: pushes go from the event loop
        return result

    def offload(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a native thread under gevent (so the event loop keeps serving
        while it works: file copies, hashing, compression), directly otherwise. ``fn`` must
        not touch the database through this object, nor any greenlet object."""
        if self._native is None:
            return fn(*args)
        result: T = self._native(fn, *args)
        return result

    @staticmethod
    def _unit(
        sessions: sessionmaker[Session], fn: Callable[[Session], T]
    ) -> tuple[T, list[Callable[[], object]]]:
        session = sessions()
        try:
            session.connection(execution_options={"immediate": True})
            result = fn(session)
            session.commit()
            return result, session.info.pop(AFTER_COMMIT, [])
        except BaseException:
            session.info.pop(AFTER_COMMIT, None)
            session.rollback()
            raise
        finally:
            session.close()

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (rolled back at the end, whatever happened)."""
        session = self.sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._native_engine is not None:
            self._native_engine.dispose()
