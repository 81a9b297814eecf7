"""Central's own database: its declarative base, UTC times, the unit-of-work wrapper.

Central never imports the centre server; this is the small part of ``exam_server.db`` it
needs, kept separate so that the two databases and their migrations never mix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from exam_common.durable import private_sqlite, sqlite_path
from exam_common.schema import NAMING, UTCDateTime, durable_sqlite


class Base(DeclarativeBase):
    """Central's own declarative base (its metadata is central's schema); the naming, the
    UTC column type and SQLite's settings are the centre's too (exam_common.schema)."""

    metadata = MetaData(naming_convention=NAMING)


__all__ = ["Base", "CentralDatabase", "UTCDateTime", "batches", "make_engine"]


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            private_sqlite(path)  # 0600: registrations, secrets until their time
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=10
        )
        return durable_sqlite(engine)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


#: values per ``IN (...)`` list: PostgreSQL takes at most 65,535 parameters in one
#: statement, and a province imports 100,000 registrations in one file
IN_BATCH = 10_000


def batches(values: list[Any], size: int | None = None) -> Iterator[list[Any]]:
    """``values`` in lists of at most ``size`` (:data:`IN_BATCH`) for ``column.in_()``."""
    size = size or IN_BATCH
    for i in range(0, len(values), size):
        yield values[i : i + size]


class CentralDatabase:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        session = self.sessions()
        try:
            session.connection(execution_options={"immediate": True})
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextlib.contextmanager
    def write_core(self) -> Iterator[Connection]:
        """One unit of work on a bare connection (SQLAlchemy Core, no ORM session): for
        the few hot requests that need a statement or three and nothing of the ORM.
        Commit on success, roll back on any exception, as :meth:`write`."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(immediate=True)
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        session = self.sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
