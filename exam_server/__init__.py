"""The centre server (考点服务器): app factory, models, sitting engine, namespaces.

This package's ``__init__`` imports nothing heavy: ``exam-server run`` must let gevent
patch the standard library (``ssl`` above all) before Flask, requests or anything that
imports ``ssl`` is loaded. ``create_app`` lives in :mod:`exam_server.app` and is reached
from here lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exam_server.app import SOCKETIO_PATH, CentreApp, SocketIOSessions, create_app

__all__ = ["SOCKETIO_PATH", "CentreApp", "SocketIOSessions", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from exam_server import app

        return getattr(app, name)
    raise AttributeError(f"module 'exam_server' has no attribute {name!r}")
