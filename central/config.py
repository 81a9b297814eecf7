"""Central's configuration, read from the environment (``EXAM_CENTRAL_*``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from exam_common.durable import ensure_dir


def _env(name: str, default: str) -> str:
    return os.environ.get(f"EXAM_CENTRAL_{name}", default)


@dataclass
class CentralConfig:
    #: SQLAlchemy URL of central's database (PostgreSQL in production)
    DATABASE_URL: str = field(
        default_factory=lambda: _env("DATABASE_URL", "sqlite:///var/central/central.db")
    )
    #: where central's signing key (central.key, central.pub) lives
    DATA_DIR: str = field(default_factory=lambda: _env("DATA_DIR", "var/central"))
    #: a signed request is accepted only within this many seconds of central's clock
    REPLAY_WINDOW_S: int = field(default_factory=lambda: int(_env("REPLAY_WINDOW_S", "300")))
    #: largest chunk of an upload (bytes)
    MAX_CHUNK: int = field(default_factory=lambda: int(_env("MAX_CHUNK", str(4 * 1024 * 1024))))
    #: largest whole upload (bytes)
    MAX_UPLOAD: int = field(
        default_factory=lambda: int(_env("MAX_UPLOAD", str(2 * 1024 * 1024 * 1024)))
    )

    @classmethod
    def from_mapping(cls, overrides: dict[str, Any] | None) -> CentralConfig:
        cfg = cls()
        names = {f.name for f in fields(cls)}
        for key, value in (overrides or {}).items():
            if key not in names:
                raise KeyError(f"unknown central setting {key!r}; known: {sorted(names)}")
            setattr(cfg, key, value)
        return cfg

    def data_path(self, *parts: str) -> Path:
        path = Path(self.DATA_DIR, *parts)
        ensure_dir(path.parent)
        return path
