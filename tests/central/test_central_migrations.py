"""Central's migrations build exactly the schema its models declare (alembic's
autogenerate finds nothing to add or drop), on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import central.models  # noqa: F401 - the tables
from central.db import Base, CentralDatabase
from central.migrate import upgrade
from tests.conftest import drop_pg_database, make_pg_database


def differences(url: str) -> list[Any]:
    db = CentralDatabase(url)
    try:
        upgrade(db)
        with db.engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        db.dispose()


def test_sqlite_schema_matches_the_models(tmp_path: Path) -> None:
    assert differences(f"sqlite:///{tmp_path / 'central.db'}") == []


@pytest.mark.postgres
def test_postgres_schema_matches_the_models() -> None:
    url = make_pg_database()
    try:
        assert differences(url) == []
    finally:
        drop_pg_database(url)
