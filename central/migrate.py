"""Central's schema migrations (its own Alembic environment, ``central/migrations``); how
they run is shared with the centre (``exam_common.migrations``)."""

from __future__ import annotations

from alembic.config import Config as AlembicConfig

from central.db import CentralDatabase
from exam_common import migrations

SCRIPTS = "central:migrations"


def alembic_config(url: str) -> AlembicConfig:
    return migrations.alembic_config(SCRIPTS, url)


def upgrade(db: CentralDatabase, revision: str = "heads") -> None:
    migrations.upgrade(db.engine, SCRIPTS, revision)


def current(db: CentralDatabase) -> str | None:
    return migrations.current(db.engine)
