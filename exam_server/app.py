"""The centre server's Flask application: ``create_app`` and the app class."""

from __future__ import annotations

from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.routing import MapAdapter

from exam_common.protocol import accept_whole_windows
from exam_server.clock import Clock, clock_for
from exam_server.config import Config
from exam_server.db import Database
from exam_server.extensions import socketio
from exam_server.runtime import Runtime
from exam_server.sittings.writer import AnswerWriter
from exam_server.system.vault import KeyVault

SOCKETIO_PATH = "/socket.io"  #: Flask-SocketIO's default path, which the server keeps
MAX_BODY_BYTES = 256 * 1024  #: the largest HTTP request body the centre server reads


def create_app(
    config: dict[str, Any] | Config | None = None, *, clock: Clock | None = None
) -> Flask:
    """Build the centre server. Binds extensions; writes nothing to the database."""
    cfg = config if isinstance(config, Config) else Config.from_mapping(config)
    app = CentreApp(__name__)
    if not cfg.SECRET_KEY:
        from exam_server.secret import secret_from_data_dir

        cfg.SECRET_KEY = secret_from_data_dir(cfg)
    app.config.update(
        SECRET_KEY=cfg.SECRET_KEY,
        TESTING=cfg.TESTING,
        EXAM=cfg,
        # Every HTTP body the centre takes is small (console actions, enrolment, a key):
        # a larger one is refused before it is read (Socket.IO has its own limit).
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES,
    )

    db = Database(cfg.DATABASE_URL)
    clk = clock or clock_for(cfg.CLOCK_OFFSET_FILE)
    app.extensions["exam"] = Runtime(
        config=cfg,
        db=db,
        clock=clk,
        writer=AnswerWriter(db, clk, wait_ms=cfg.GROUP_COMMIT_WAIT_MS),
        vault=KeyVault(cfg.SECRET_KEY.encode()),
    )

    accept_whole_windows()  # a polling terminal's whole send window in one payload
    socketio.init_app(
        app,
        async_mode=cfg.ASYNC_MODE,
        message_queue=cfg.MESSAGE_QUEUE or None,
        cors_allowed_origins=[],
        ping_interval=10,
        ping_timeout=10,
        max_http_buffer_size=2_000_000,
    )

    from exam_server.health.views import bp as health_bp
    from exam_server.sittings.namespace import CandidateNamespace

    app.register_blueprint(health_bp)
    from exam_server.sync import jobs as sync_jobs
    from exam_server.sync.local import bp as sync_local_bp

    sync_jobs.connect()  # the sync with central listens to the sitting scheduler
    from exam_server.terminals.views import bp as terminals_bp

    app.register_blueprint(sync_local_bp)
    app.register_blueprint(terminals_bp)
    candidates = CandidateNamespace()
    socketio.on_namespace(candidates)
    app.extensions["exam"].extras["cut_off"] = candidates.cut_off

    from exam_server.console import init_app as init_console

    init_console(app)
    return app


class SocketIOSessions(SecureCookieSessionInterface):
    """Flask's cookie sessions, except for a Socket.IO event whose connection already has
    its session: Flask opens the session at every request context push (parse the cookie
    header, build a signer, check the signature, decode), and Flask-SocketIO then replaces
    it at once with the connection's own copy, made at the connection's first event (the
    console's login is read from it there). Until that copy exists, and for every HTTP
    request, the cookie is opened as always (tests/server/test_event_garbage.py)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if "saved_session" in request.environ:
            return self.null_session_class()
        return super().open_session(app, request)


class CentreApp(Flask):
    """Flask, except that a Socket.IO event's request context is not routed.

    Socket.IO requests never reach Flask's views (the middleware answers them first), but
    Flask-SocketIO serves every event inside a request context built from the
    connection's environ, and Flask routes it: the URL matched no view, so each event
    raised a NotFound whose traceback, with werkzeug's recursive matcher, left about 50
    objects of cyclic garbage. At 1,000 terminals that made a full collection every ~10 s,
    each stopping every socket for 200 ms (the loop's longest stalls). Without a URL
    adapter the context is not routed at all (tests/server/test_event_garbage.py)."""

    session_interface = SocketIOSessions()

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        if request is not None and request.environ.get("PATH_INFO", "").startswith(SOCKETIO_PATH):
            return None
        return super().create_url_adapter(request)
