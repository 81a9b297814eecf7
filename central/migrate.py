"""Central's schema migrations (its own Alembic environment, ``central/migrations``)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig

from central.db import CentralDatabase


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "central:migrations")
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(db: CentralDatabase, revision: str = "heads") -> None:
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current(db: CentralDatabase) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
