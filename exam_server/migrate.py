"""The centre's schema migrations (Alembic, ``exam_server/migrations``), callable from the
CLI and the tests; how they run is shared with central (``exam_common.migrations``)."""

from __future__ import annotations

from alembic.config import Config as AlembicConfig

from exam_common import migrations
from exam_server.db import Database

SCRIPTS = "exam_server:migrations"


def alembic_config(url: str) -> AlembicConfig:
    return migrations.alembic_config(SCRIPTS, url)


def upgrade(db: Database, revision: str = "heads") -> None:
    """Bring the database to ``revision`` (all migrations by default)."""
    migrations.upgrade(db.engine, SCRIPTS, revision)


def current(db: Database) -> str | None:
    """The database's revision(s), comma-separated, or None for an empty database."""
    return migrations.current(db.engine)
