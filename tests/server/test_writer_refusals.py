"""How the answer writer refuses what it cannot store, without a database (real SQLite
failures aside): which failures are worth a resend (``server_busy``, retry) and which are
not (``server_error``, among them SQLite's lasting ``OperationalError``s), what
each refusal says for the server's log, and what the halving leaves standing.

(The stored answers themselves are proved against real databases by the answer path's
model, tests/server/test_answer_path_model.py.)
"""

from __future__ import annotations

import logging
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from exam_server.clock import ManualClock
from exam_server.sittings.service import SaveRequest, SaveResult, ServiceError
from exam_server.sittings.writer import AnswerWriter, is_transient

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


class FailingDb:
    """A database whose transaction fails for the batches ``fails`` says, and otherwise
    stores each save of the batch as new."""

    def __init__(self, fails: Callable[[list[SaveRequest]], BaseException | None]) -> None:
        self.fails = fails
        self.batches: list[list[int]] = []

    def transact(self, unit: Any) -> list[SaveResult | Exception]:
        requests: list[SaveRequest] = unit.args[0]
        self.batches.append([r.seq for r in requests])
        exc = self.fails(requests)
        if exc is not None:
            raise exc
        return [SaveResult(r.seq, duplicate=False) for r in requests]


def saves(n: int) -> list[SaveRequest]:
    return [SaveRequest(7, seq, f"Q{seq:03d}", ("A",)) for seq in range(1, n + 1)]


def writer(db: FailingDb) -> AnswerWriter:
    return AnswerWriter(db, ManualClock(NOW))  # type: ignore[arg-type]


def test_the_database_unavailable_refuses_the_whole_batch_for_a_resend(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lost = OperationalError("UPDATE attempt", {}, Exception("database is locked"))
    db = FailingDb(lambda _batch: lost)
    results = writer(db).commit(saves(4))
    assert db.batches == [[1, 2, 3, 4]]  # not split: the next try would fail the same way
    assert all(isinstance(r, ServiceError) for r in results)
    refusals = [r for r in results if isinstance(r, ServiceError)]
    assert {(r.code, r.retry) for r in refusals} == {("server_busy", True)}
    assert all("database is locked" in r.detail for r in refusals)
    assert [r.getMessage() for r in caplog.records] == [
        f"answer batch of 4 not stored, the database is unavailable ({lost}); "
        "the terminals will re-send"
    ]


def test_one_bad_save_is_halved_out_and_the_rest_stored(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    bad = IntegrityError("INSERT answer", {}, Exception("CHECK constraint failed: seq"))
    db = FailingDb(lambda batch: bad if any(r.seq == 3 for r in batch) else None)
    results = writer(db).commit(saves(4))
    assert db.batches == [[1, 2, 3, 4], [1, 2], [3, 4], [3], [4]]
    assert [type(r).__name__ for r in results] == [
        "SaveResult",
        "SaveResult",
        "ServiceError",
        "SaveResult",
    ]
    refused = results[2]
    assert isinstance(refused, ServiceError)
    assert (refused.code, refused.retry) == ("server_error", False)  # a resend fails alike
    assert refused.detail.startswith("IntegrityError: ") and "CHECK constraint" in refused.detail
    assert [r.getMessage() for r in caplog.records] == [
        f"answer batch of 4 failed ({bad}); committing it in halves",
        f"answer batch of 2 failed ({bad}); committing it in halves",
        "answer save attempt 7 seq 3 item Q003 cannot be stored",
    ]
    assert "CHECK constraint failed" in caplog.records[-1].exc_text


def test_a_batch_of_one_that_fails_is_refused_at_once() -> None:
    db = FailingDb(lambda _batch: ValueError("no such item"))
    [result] = writer(db).commit(saves(1))
    assert db.batches == [[1]]
    assert isinstance(result, ServiceError) and result.code == "server_error"
    assert result.detail == "ValueError: no such item" and result.retry is False


def invalidated(yes: bool) -> InterfaceError:
    return InterfaceError(
        "SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=yes
    )


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (OperationalError("x", {}, Exception("locked")), True),
        (TimeoutError("pool"), True),
        # a DBAPI error that is no OperationalError: transient only when the connection
        # went with it (the next try gets a new one)
        (invalidated(True), True),
        (invalidated(False), False),
        (IntegrityError("x", {}, Exception("unique")), False),
        (ValueError("a bug"), False),
        (KeyError("Q001"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_which_failures_are_worth_a_resend(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def sqlite_failure(sql: str, *, locked_by_another: bool = False) -> OperationalError:
    """A real SQLite failure, as SQLAlchemy hands it to the writer."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'db.sqlite'}"
        engine = create_engine(url, connect_args={"timeout": 0})
        holder = sqlite3.connect(Path(tmp) / "db.sqlite", timeout=0)
        try:
            holder.execute("CREATE TABLE t (x INTEGER)")
            holder.commit()
            if locked_by_another:
                holder.execute("BEGIN EXCLUSIVE")
            with pytest.raises(OperationalError) as caught, engine.begin() as conn:
                conn.execute(text(sql))
            return caught.value
        finally:
            holder.close()
            engine.dispose()


@pytest.mark.parametrize(
    ("sql", "locked", "transient"),
    [
        # lasting faults that SQLite raises as OperationalError: every resend fails alike
        ("SELECT nope FROM t", False, False),
        ("INSERT INTO missing VALUES (1)", False, False),
        ("THIS IS NOT SQL", False, False),
        # another connection holds the database: worth a resend
        ("INSERT INTO t VALUES (1)", True, True),
    ],
    ids=["no such column", "no such table", "syntax error", "database is locked"],
)
def test_sqlite_operational_errors_are_transient_only_when_busy_or_locked(
    sql: str, locked: bool, transient: bool
) -> None:
    exc = sqlite_failure(sql, locked_by_another=locked)
    assert is_transient(exc) is transient, (exc.orig.sqlite_errorname, exc)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "transient"),
    [
        ("SQLITE_BUSY", True),
        ("SQLITE_BUSY_SNAPSHOT", True),
        ("SQLITE_LOCKED", True),
        ("SQLITE_IOERR", True),
        ("SQLITE_IOERR_WRITE", True),
        ("SQLITE_IOERR_FSYNC", True),
        ("SQLITE_ERROR", False),
        ("SQLITE_READONLY", False),
        ("SQLITE_FULL", False),
        ("SQLITE_CORRUPT", False),
    ],
)
def test_sqlite_result_codes_worth_a_resend(name: str, transient: bool) -> None:
    orig = sqlite3.OperationalError(name)
    orig.sqlite_errorcode = getattr(sqlite3, name)  # type: ignore[attr-defined]
    assert is_transient(OperationalError("INSERT INTO answer", {}, orig)) is transient


@pytest.mark.parametrize(
    ("sqlstate", "transient"),
    [
        ("08006", True),  # connection failure
        ("40001", True),  # serialization failure
        ("40P01", True),  # deadlock detected
        ("57P01", True),  # admin shutdown
        ("55P03", True),  # lock not available
        ("53300", True),  # too many connections
        ("53100", False),  # disk full
        ("42703", False),  # undefined column
        ("22P02", False),  # invalid text representation
    ],
)
def test_postgres_sqlstates_worth_a_resend(sqlstate: str, transient: bool) -> None:
    orig = psycopg.errors.lookup(sqlstate)("injected")
    assert orig.sqlstate == sqlstate
    assert is_transient(OperationalError("INSERT INTO answer", {}, orig)) is transient
