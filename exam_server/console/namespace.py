"""The ``/proctor`` Socket.IO namespace: console pages subscribe to a room's live map.

Only pushes flow here (tiles, presence, counts); actions go through the CSRF-protected
HTTP API. The connection must come from our own origin with a valid console login, and
every ``join`` is checked again (a logout or an expired session stops it), so one role
cannot subscribe to another's rooms.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from flask import request, session
from flask_socketio import Namespace, join_room

from exam_server.accounts.models import Role
from exam_server.console import live
from exam_server.console.access import TOKEN, may_watch, resolve
from exam_server.messages import message
from exam_server.runtime import runtime


def _refuse(code: str) -> dict[str, Any]:
    return {"ok": False, "code": code, "message": message(code, runtime().config.LANG)}


class ProctorNamespace(Namespace):
    def __init__(self) -> None:
        super().__init__(live.NAMESPACE)

    def on_connect(self, auth: Any = None) -> None:
        """Console page -> server: refused without a login or from another site."""
        origin = request.headers.get("Origin")
        if origin and urlparse(origin).netloc != request.host:
            raise ConnectionRefusedError("bad_origin")
        if resolve(session.get(TOKEN)) is None:
            raise ConnectionRefusedError("login_required")

    def on_join(self, data: Any = None) -> dict[str, Any]:
        """Console page -> server: ``{sitting_id, room_id}`` (a room's map) or
        ``{sitting_id}`` (the chief's overview); answers with the snapshot."""
        from exam_server.console.views import centre_overview, snapshot

        user = resolve(session.get(TOKEN))
        if user is None:
            return _refuse("login_required")
        if not isinstance(data, dict):
            return _refuse("bad_message")
        try:
            sitting_id = int(data["sitting_id"])
            room_id = None if data.get("room_id") is None else int(data["room_id"])
        except (KeyError, TypeError, ValueError):
            return _refuse("bad_message")
        from exam_server.console.ids import MAX_ID

        if not 0 < sitting_id <= MAX_ID or (room_id is not None and not 0 < room_id <= MAX_ID):
            return _refuse("no_such_sitting")  # beyond any id: never an overflow
        try:
            if room_id is None:
                if user.role not in (Role.CHIEF, Role.ADMIN):
                    return _refuse("forbidden_role")
                reply = centre_overview(sitting_id)
                join_room(live.centre_channel(sitting_id))
                return reply
            if not may_watch(user, sitting_id, room_id):
                return _refuse("not_your_room")
            reply = snapshot(sitting_id, room_id)
        except LookupError:
            return _refuse("no_such_sitting")
        join_room(live.room_channel(sitting_id, room_id))
        join_room(live.presence_channel(room_id))
        return reply
