"""Schema migrations (Alembic), callable from the CLI and the tests."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig

from exam_server.db import Database


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "exam_server:migrations")
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(db: Database, revision: str = "heads") -> None:
    """Bring the database to ``revision`` (all migrations by default)."""
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current(db: Database) -> str | None:
    """The database's revision(s), comma-separated (parallel branches each have a head),
    or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return ",".join(sorted(heads)) or None
