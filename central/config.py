"""Central's configuration: one typed settings class, read from the environment (``EXAM_CENTRAL_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from exam_common.durable import ensure_dir
from exam_common.settings import Settings


class CentralConfig(Settings):
    """Central's settings: ``EXAM_CENTRAL_<NAME>`` over the defaults below."""

    model_config = SettingsConfigDict(env_prefix="EXAM_CENTRAL_")

    DATABASE_URL: str = "sqlite:///var/central/central.db"
    """SQLAlchemy URL of central's database (PostgreSQL in production)"""
    DATA_DIR: str = "var/central"
    """where central's signing key (central.key, central.pub) lives"""
    REPLAY_WINDOW_S: int = 300
    """a signed request is accepted only within this many seconds of central's clock"""
    MAX_CHUNK: int = 4 * 1024 * 1024
    """largest chunk of an upload (bytes)"""
    MAX_UPLOAD: int = 2 * 1024 * 1024 * 1024
    """largest whole upload (bytes)"""

    def data_path(self, *parts: str) -> Path:
        path = Path(self.DATA_DIR, *parts)
        ensure_dir(path.parent)
        return path
