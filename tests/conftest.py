"""Shared fixtures: clocks, databases (SQLite always; PostgreSQL under CI), factories.

Tests that need PostgreSQL, Redis or Chromium skip outside CI with a message saying what
to install; under ``CI=true`` they must run, so a missing service fails them instead.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from exam_server.clock import ManualClock
from exam_server.db import Database
from exam_server.migrate import upgrade

CI = os.environ.get("CI") == "true"
PG_ADMIN_URL = os.environ.get("EXAM_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("EXAM_TEST_REDIS", "redis://127.0.0.1:6379/0")
T0 = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # 09:00 in Beijing


def require(available: bool, what: str, how: str) -> None:
    """Skip outside CI, fail under CI=true, when a service the test needs is missing."""
    if available:
        return
    msg = f"{what} is not available: {how}"
    if CI:
        pytest.fail(f"CI=true requires it: {msg}")
    pytest.skip(msg)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_pg_database() -> str:
    """Create a fresh PostgreSQL database and return its URL."""
    require(
        port_open("127.0.0.1", 5432),
        "PostgreSQL on 127.0.0.1:5432",
        "install and start it (apt-get install postgresql), trust auth, database `test`",
    )
    name = f"exam_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests put their screenshots: a temporary folder, so that a test
    never writes into the tracked docs/img; ``make screenshots`` sets ``EXAM_SCREENSHOTS``
    to docs/img to refresh the docs' pictures on purpose."""
    chosen = os.environ.get("EXAM_SCREENSHOTS")
    return Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")


def png(path: Path) -> Path:
    """Assert ``path`` is a PNG picture a test just took (not empty, not something else)."""
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000, (path, len(data))
    return path


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def migrated_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A migrated database per backend for the whole session; tests roll back."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'centre.db'}"
    else:
        url = make_pg_database()
    db = Database(url)
    upgrade(db)
    yield db
    db.dispose()
    if request.param == "postgres":
        drop_pg_database(url)


@pytest.fixture
def session(migrated_db: Database) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    conn = migrated_db.engine.connect()
    outer = conn.begin()
    sess = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield sess
    finally:
        sess.close()
        outer.rollback()
        conn.close()


@pytest.fixture
def fresh_db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'centre.db'}"


#: the longest test files, longest first (the `--durations` of a CI run): the two workers
#: (`-n 2 --dist loadfile`) take files in collection order, so these go first and the
#: short ones fill in around them, instead of one long file starting last and running on
#: alone at the end (longest processing time first)
LONGEST_FIRST = (
    "tests/console/test_demo_day_browser.py",
    "tests/faults/test_power_loss.py",
    "tests/sync/test_sync_end_to_end.py",
    "tests/client/test_client_browser.py",
    "tests/security/test_tls.py",
    "tests/client/test_client_live.py",
    "tests/server/test_live_sitting.py",
    "tests/sync/test_offline_keys.py",
    "tests/console/test_console_browser.py",
    "tests/faults/test_server_kill.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    root = Path(str(config.rootpath))

    def key(item: pytest.Item) -> int:
        path = Path(str(item.path)).relative_to(root).as_posix()
        return rank.get(path, len(LONGEST_FIRST))

    items.sort(key=key)  # stable: each file's own order is kept
