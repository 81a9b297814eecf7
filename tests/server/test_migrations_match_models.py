"""The migrations build exactly the schema the models declare (alembic's autogenerate finds
nothing to add or drop), on SQLite and on PostgreSQL: a model change without its migration
(or a migration without its model change, like an index) fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.models import Base
from tests.conftest import drop_pg_database, make_pg_database

#: APScheduler's job store: created by a migration, owned by APScheduler, not a model
NOT_MODELS = {"apscheduler_jobs"}


def differences(url: str) -> list[Any]:
    db = Database(url)
    try:
        upgrade(db)
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        db.dispose()

    def table_of(change: Any) -> str | None:
        obj = change[1] if isinstance(change, tuple) else None
        table = getattr(obj, "table", obj)
        return getattr(table, "name", None)

    return [d for d in diff if table_of(d) not in NOT_MODELS]


def test_sqlite_schema_matches_the_models(tmp_path: Path) -> None:
    assert differences(f"sqlite:///{tmp_path / 'centre.db'}") == []


@pytest.mark.postgres
def test_postgres_schema_matches_the_models() -> None:
    url = make_pg_database()
    try:
        assert differences(url) == []
    finally:
        drop_pg_database(url)


def test_the_answer_index_covers_the_current_answer_read(tmp_path: Path) -> None:
    """The console's answered counts and the end's current answers read only the index."""
    from sqlalchemy import text

    db = Database(f"sqlite:///{tmp_path / 'centre.db'}")
    upgrade(db)
    from exam_server.console.tiles import _ANSWERED

    sql = str(
        _ANSWERED.params(attempt_ids=[1, 2, 3]).compile(
            db.engine, compile_kwargs={"literal_binds": True, "render_postcompile": True}
        )
    )
    assert "IN (1, 2, 3)" in sql
    with db.engine.connect() as conn:
        plan = [row[3] for row in conn.execute(text("EXPLAIN QUERY PLAN " + sql))]
    db.dispose()
    reads = [step for step in plan if step.startswith(("SEARCH answer", "SCAN answer"))]
    assert len(reads) == 2 and all("COVERING INDEX ix_answer_attempt_item" in s for s in reads), (
        plan
    )
