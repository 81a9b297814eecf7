"""Extensions created at module level and bound in ``create_app``."""

from __future__ import annotations

from flask_socketio import SocketIO

socketio = SocketIO()
