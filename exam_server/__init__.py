"""The centre server (考点服务器): app factory, models, sitting engine, namespaces.

This package's ``__init__`` imports nothing heavy: ``exam-server run`` must let gevent
patch the standard library (``ssl`` above all) before Flask, requests or anything that
imports ``ssl`` is loaded. ``create_app`` lives in :mod:`exam_server.app` and is reached
from here lazily.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exam_common.durable import read_secret, write_atomic
from exam_server.config import Config

if TYPE_CHECKING:
    from exam_server.app import SOCKETIO_PATH, CentreApp, SocketIOSessions, create_app

__all__ = ["SOCKETIO_PATH", "CentreApp", "SocketIOSessions", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from exam_server import app

        return getattr(app, name)
    raise AttributeError(f"module 'exam_server' has no attribute {name!r}")


#: the centre secret is 32 random bytes written as 64 hex digits
SECRET_HEX_LEN = 64


def _secret_from_data_dir(cfg: Config) -> str:
    """The centre secret (Flask sessions, CSRF, the backups' key, the sealed keys' key),
    generated durably on first start. A file that exists but is empty, short or
    unreadable (a power cut before it reached the disk, a bad restore) stops the server:
    every later backup would be encrypted under it, and every earlier one readable only
    with the old one."""
    path = cfg.data_path("secret_key")
    if not path.exists():
        write_atomic(path, secrets.token_hex(32))
    return read_centre_secret(path)


def read_centre_secret(path: Path) -> str:
    return (
        read_secret(path, min_bytes=SECRET_HEX_LEN, what="考点密钥 (the centre secret)")
        .decode()
        .strip()
    )
