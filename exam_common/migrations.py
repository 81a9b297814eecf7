"""Alembic, as the centre and central both run it: each has its own migration scripts
(``script_location``), both upgrade and read their revision the same way."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine


def alembic_config(script_location: str, url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", script_location)
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(engine: Engine, script_location: str, revision: str = "heads") -> None:
    """Bring the database to ``revision`` (all migrations by default), in one transaction."""
    cfg = alembic_config(script_location, engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current(engine: Engine) -> str | None:
    """The database's revision(s), comma-separated (parallel branches each have a head),
    or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return ",".join(sorted(heads)) or None
