"""Who is logged in to the console, and what they may reach. Enforced on the server for
every page, every API call and every ``/proctor`` socket event."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import current_app, g, jsonify, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from exam_server.accounts import service as accounts
from exam_server.accounts.models import Role
from exam_server.console.settings import ConsoleSettings
from exam_server.messages import message
from exam_server.runtime import runtime

F = TypeVar("F", bound=Callable[..., Any])
TOKEN = "console_token"


def settings() -> ConsoleSettings:
    cfg: ConsoleSettings = current_app.extensions["console_settings"]
    return cfg


def lang() -> str:
    chosen = session.get("lang")
    return chosen if chosen in ("zh_CN", "en") else runtime().config.LANG


def current_user() -> accounts.SessionUser | None:
    """The user behind this request's cookie (checked against the server's sessions)."""
    if "console_user" in g:
        return g.console_user
    user = resolve(session.get(TOKEN))
    g.console_user = user
    return user


def signed_in_user() -> accounts.SessionUser:
    """The user of a view behind :func:`login_required`, which has refused everyone else."""
    user = current_user()
    if user is None:  # a view without login_required: the code's fault, not the request's
        raise RuntimeError("signed_in_user() in a view without login_required")
    return user


def resolve(token: str | None) -> accounts.SessionUser | None:
    rt = runtime()
    if not token:
        return None
    idle = timedelta(seconds=settings().SESSION_IDLE_S)
    with rt.db.read() as db:
        user = accounts.resolve_session(db, rt.clock.now(), token, idle=idle)
    if user is not None and user.stale:
        with rt.db.write() as db:
            accounts.touch_session(db, rt.clock.now(), user.session_id)
    return user


def refusal(code: str, status: int, detail: str = "") -> ResponseReturnValue:
    body = {"ok": False, "code": code, "message": message(code, lang())}
    if detail:
        body["detail"] = detail
    return jsonify(body), status


def _wants_json() -> bool:
    return request.path.startswith("/console/api/") or request.method != "GET"


def login_required(*roles: Role) -> Callable[[F], F]:
    """Refuse anyone not logged in (pages: to the login form) or not in ``roles``."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                if _wants_json():
                    return refusal("login_required", 401)
                return redirect(url_for("console.login", next=request.full_path))
            if roles and user.role not in roles:
                return refusal("forbidden_role", 403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def may_watch(user: accounts.SessionUser, sitting_id: int, room_id: int) -> bool:
    if user.role is Role.CHIEF:
        return True
    if user.role is not Role.INVIGILATOR:
        return False
    rt = runtime()
    with rt.db.read() as db:
        from exam_server.accounts.models import User

        row = db.get(User, user.user_id)
        return row is not None and accounts.may_watch_room(db, row, sitting_id, room_id)
