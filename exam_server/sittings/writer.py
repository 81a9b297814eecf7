"""Group commit for answer saves: many saves, one transaction, then the acknowledgements.

Socket.IO handler threads hand their save to :meth:`AnswerWriter.save` and block until the
batch that holds it has committed. The writer thread drains whatever is queued, stores it
in one transaction (``synchronous=FULL`` on SQLite: on disk at commit) and only then
resolves each save. While one batch commits, the next one gathers, so the batch size
follows the load (``wait_ms`` adds a short wait to gather more). Under gevent the
transaction runs on a native thread (:meth:`Database.transact`), so the sockets are
served while it commits.
"""

from __future__ import annotations

import collections
import functools
import logging
import queue
import sqlite3
import threading
import time
from concurrent.futures import Future

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from exam_server.clock import Clock
from exam_server.db import Database
from exam_server.sittings.service import SaveRequest, SaveResult, ServiceError, save_answers

log = logging.getLogger(__name__)

_STOP = object()


class AnswerWriter:
    def __init__(
        self, db: Database, clock: Clock, *, max_batch: int = 500, wait_ms: float = 0.0
    ) -> None:
        self.db = db
        self.clock = clock
        self.max_batch = max_batch
        self.wait_s = wait_ms / 1000
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: counters for the console and the benchmarks
        self.batches = 0
        self.saved = 0
        #: recent (batch size, seconds in the transaction) pairs, newest last
        self.recent: collections.deque[tuple[int, float]] = collections.deque(maxlen=2000)
        #: recent seconds from a save's hand-over to its result back in the caller's thread
        #: (queue wait + transaction + wake-up), newest last
        self.recent_save: collections.deque[float] = collections.deque(maxlen=5000)

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="answer-writer", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)

    def save(self, request: SaveRequest, timeout: float = 15.0) -> SaveResult:
        """Store one change durably; returns after commit or raises the refusal."""
        self.start()
        future: Future[SaveResult] = Future()
        started = time.perf_counter()
        self._queue.put((request, future))
        try:
            return future.result(timeout)
        finally:
            self.recent_save.append(time.perf_counter() - started)

    def stats(self) -> dict[str, float]:
        """Batches and commit times of the last few thousand batches (for /healthz)."""
        recent = list(self.recent)
        times = sorted(t for _, t in recent)
        if not times:
            return {"batches": self.batches, "saved": self.saved}
        saves = sorted(self.recent_save) or [0.0]

        def ms(values: list[float], q: float) -> float:
            return round(values[min(len(values) - 1, int(len(values) * q))] * 1000, 2)

        return {
            "batches": self.batches,
            "saved": self.saved,
            "recent_mean_batch": round(sum(n for n, _ in recent) / len(recent), 2),
            "recent_p50_ms": ms(times, 0.5),
            "recent_p99_ms": ms(times, 0.99),
            "recent_max_ms": round(times[-1] * 1000, 2),
            "save_p50_ms": ms(saves, 0.5),
            "save_p99_ms": ms(saves, 0.99),
            "save_max_ms": round(saves[-1] * 1000, 2),
        }

    def _take_batch(self, first: object) -> list[tuple[SaveRequest, Future[SaveResult]]]:
        batch = [first]
        deadline = time.monotonic() + self.wait_s
        while len(batch) < self.max_batch:
            try:
                remaining = deadline - time.monotonic()
                item = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if item is _STOP:
                self._queue.put(_STOP)
                break
            batch.append(item)
        return batch  # type: ignore[return-value]

    def _store(self, requests: list[SaveRequest], session: Session) -> list[SaveResult | Exception]:
        return save_answers(session, self.clock.now(), requests)

    def commit(self, requests: list[SaveRequest]) -> list[SaveResult | Exception]:
        """One group commit: store ``requests`` in one transaction and return, once it has
        committed, one result per request (a :class:`SaveResult`, or the refusal).

        A transaction that fails does not fail the saves that could be stored: when the
        failure is not the database being unavailable, the batch is split in halves and
        each half committed on its own, down to the one save that fails by itself, which
        alone is refused (``server_error``, not to be retried: it would fail the same way).
        When the database is unavailable (a lost connection, a lock or an I/O error), every
        save of the batch is refused with ``retry``: a real transient, worth sending again.
        """
        try:
            return self.db.transact(functools.partial(self._store, requests))
        except Exception as exc:
            if is_transient(exc):
                log.warning(
                    "answer batch of %d not stored, the database is unavailable (%s); "
                    "the terminals will re-send",
                    len(requests),
                    exc,
                )
                return [ServiceError("server_busy", str(exc), retry=True) for _ in requests]
            if len(requests) == 1:
                req = requests[0]
                log.exception(
                    "answer save attempt %d seq %d item %s cannot be stored",
                    req.attempt_id,
                    req.seq,
                    req.item_id,
                )
                return [ServiceError("server_error", f"{type(exc).__name__}: {exc}")]
            log.warning(
                "answer batch of %d failed (%s); committing it in halves", len(requests), exc
            )
        half = len(requests) // 2
        return self.commit(requests[:half]) + self.commit(requests[half:])

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = self._take_batch(first)
            started = time.perf_counter()
            try:
                results = self.commit([req for req, _ in batch])
            except BaseException as exc:  # never leave a caller waiting for its result
                log.exception("answer writer failed on a batch of %d", len(batch))
                for _, future in batch:
                    future.set_exception(ServiceError("server_error", repr(exc)))
                continue
            # Committed (each result that is not a refusal): only now acknowledge.
            self.recent.append((len(batch), time.perf_counter() - started))
            self.batches += 1
            for (_, future), result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    self.saved += 1
                    future.set_result(result)


#: failures that say the database cannot be reached or written just now (a dropped
#: connection, a full pool, a lock, an I/O error), as opposed to one save that cannot be
#: stored: worth the terminal's sending the same change again
_TRANSIENT = (OperationalError, DisconnectionError, PoolTimeoutError, TimeoutError)

#: SQLite's primary result codes that mean "not now": another connection holds the lock
#: (BUSY, LOCKED) or the disk did not answer (IOERR and its extended codes). SQLite raises
#: ``OperationalError`` for lasting faults too ("no such column" is SQLITE_ERROR, a
#: read-only or full disk has its own code): those would fail the same way on every resend.
_SQLITE_TRANSIENT = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR})

#: PostgreSQL's SQLSTATE classes and codes that mean "not now": the connection (08), a
#: transaction rolled back by a serialization failure or a deadlock (40), the server
#: shutting down or not accepting connections yet (57), a lock not available, too many
#: connections. A full disk or a missing column is none of them.
_PG_TRANSIENT_CLASSES = frozenset({"08", "40", "57"})
_PG_TRANSIENT_CODES = frozenset({"55P03", "53300"})


def is_transient(exc: BaseException) -> bool:
    """Whether the same save may succeed when sent again unchanged."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        if isinstance(orig, sqlite3.Error):
            code = getattr(orig, "sqlite_errorcode", None)
            return isinstance(code, int) and code & 0xFF in _SQLITE_TRANSIENT
        sqlstate = getattr(orig, "sqlstate", None)
        if isinstance(sqlstate, str) and len(sqlstate) == 5:
            return sqlstate[:2] in _PG_TRANSIENT_CLASSES or sqlstate in _PG_TRANSIENT_CODES
    return isinstance(exc, _TRANSIENT)
