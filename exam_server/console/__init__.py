"""The proctoring console (考场监控台): live seat maps and actions for invigilators and the
chief examiner, served by the centre server. See docs/console.md."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFError, CSRFProtect

from exam_server.console.ids import IdConverter

csrf = CSRFProtect()


def init_app(app: Flask, overrides: dict[str, Any] | None = None) -> None:
    """Register the console: blueprint, ``/proctor`` namespace, CSRF, cookie settings and
    the live hub (which listens to the terminals' signals)."""
    from exam_server.console import enrolment  # noqa: F401 - its routes join the blueprint
    from exam_server.console.live import ConsoleHub
    from exam_server.console.namespace import ProctorNamespace
    from exam_server.console.settings import ConsoleSettings
    from exam_server.console.views import bp
    from exam_server.extensions import socketio
    from exam_server.runtime import runtime

    cfg = ConsoleSettings.from_mapping(overrides)
    if runtime(app).config.TLS:
        cfg.SECURE_COOKIE = True  # served over TLS: the cookie never travels in clear
    app.extensions["console_settings"] = cfg
    app.config.update(
        SESSION_COOKIE_NAME="exam_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=cfg.SECURE_COOKIE,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=cfg.SESSION_MAX_S),
        WTF_CSRF_TIME_LIMIT=cfg.SESSION_MAX_S,
        WTF_CSRF_SSL_STRICT=cfg.SECURE_COOKIE,
    )
    app.url_map.converters["id"] = IdConverter
    csrf.init_app(app)
    # Token-authenticated machine endpoints carry no browser cookie: CSRF does not apply.
    for name in ("sync_local", "terminals"):
        if name in app.blueprints:
            csrf.exempt(app.blueprints[name])
    app.register_blueprint(bp)
    hub = ConsoleHub(app, runtime(app), cfg)
    hub.connect_signals()
    app.extensions["console_hub"] = hub
    socketio.on_namespace(ProctorNamespace())
    _relay_login_locks(app)

    @app.errorhandler(CSRFError)
    def _csrf_failed(exc: CSRFError) -> Any:
        from flask import jsonify, request

        from exam_server.messages import message

        lang = runtime(app).config.LANG
        if request.path.startswith("/console/api/") or request.is_json:
            return jsonify(ok=False, code="csrf_failed", message=message("csrf_failed", lang)), 400
        return message("csrf_failed", lang), 400

    def _api_refusal(code: str, status: int) -> Any:
        from flask import jsonify, request

        from exam_server.messages import message

        lang = runtime(app).config.LANG
        if request.path.startswith("/console/api/") or request.is_json:
            return jsonify(ok=False, code=code, message=message(code, lang)), status
        return message(code, lang), status

    @app.errorhandler(404)
    def _not_found(_exc: Exception) -> Any:
        return _api_refusal("not_found", 404)

    @app.errorhandler(413)
    def _too_large(_exc: Exception) -> Any:
        return _api_refusal("too_large", 413)

    @app.after_request
    def _headers(resp: Any) -> Any:
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp


def _relay_login_locks(app: Flask) -> None:
    """A ticket or a terminal locked after too many wrong logins: the rooms' open pages
    reload their snapshot at once (it lists the locks, with an unlock button)."""
    from flask import current_app, has_app_context
    from sqlalchemy import select

    from exam_server.console.live import NAMESPACE, room_channel
    from exam_server.extensions import socketio
    from exam_server.plans.models import Sitting
    from exam_server.runtime import runtime
    from exam_server.sittings import signals

    def relay(_sender: object, room_ids: list[int], **_kw: Any) -> None:
        if has_app_context() and current_app._get_current_object() is not app:  # type: ignore[attr-defined]
            return
        rt = runtime(app)
        with rt.db.read() as session:
            sittings = list(session.scalars(select(Sitting.id).where(Sitting.closed_at.is_(None))))
        for sitting_id in sittings:
            for room_id in room_ids:
                socketio.emit(
                    "room_state",
                    {"sitting_id": sitting_id, "room_id": room_id},
                    to=room_channel(sitting_id, room_id),
                    namespace=NAMESPACE,
                )

    signals.login_locked.connect(relay, weak=False)
