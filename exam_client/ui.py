"""The candidate's screen, served by the agent on 127.0.0.1 to the kiosk browser.

A small Flask app: one HTML page with its own CSS and JavaScript (no framework, no
third-party code), JSON endpoints that call the :class:`~exam_client.agent.Agent`, and a
state endpoint the page polls twice a second. The page never talks to the centre server
and never reads the PC's clock for exam time: times come from the agent.

Lockdown: the app answers only on 127.0.0.1 with a Host header naming it (no DNS
rebinding), sends a strict Content-Security-Policy, and, when a Safe Exam Browser config
key is configured, refuses any request without SEB's ``X-SafeExamBrowser-ConfigKeyHash``
(SHA-256 of the request's absolute URL followed by the config key, hex).
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request, send_from_directory
from flask.typing import ResponseReturnValue
from werkzeug.serving import BaseWSGIServer, make_server

from exam_client.agent import Agent, AgentError
from exam_client.texts import page_script

SEB_HEADER = "X-SafeExamBrowser-ConfigKeyHash"

NO_PHOTO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="160" viewBox="0 0 120 160">'
    '<rect width="120" height="160" fill="#e5e7eb"/><circle cx="60" cy="60" r="26" fill="#9ca3af"/>'
    '<rect x="22" y="96" width="76" height="50" rx="24" fill="#9ca3af"/></svg>'
)

SEB_REFUSED = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>请使用安全考试浏览器</title>
<style>body{font-family:"WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;margin:10vh auto;
max-width:40em;font-size:20px;line-height:1.6;color:#111}h1{color:#b91c1c}</style></head>
<body><h1>请使用考点配置的安全考试浏览器</h1>
<p>本终端要求通过安全考试浏览器（Safe Exam Browser）及考点下发的配置文件打开考试页面。
当前浏览器没有发送正确的配置校验值，因此不能显示考试内容。请举手联系监考老师。</p>
<hr><p lang="en">This terminal requires Safe Exam Browser with the centre's configuration file.
This browser did not send the expected <code>X-SafeExamBrowser-ConfigKeyHash</code>, so the
exam cannot be shown. Please raise your hand for the invigilator.</p></body></html>"""


@dataclass
class UiOptions:
    port: int = 8765
    #: SEB config key (hex, from SEB's config tool); empty: no SEB check
    seb_config_key: str = ""
    #: warnings before the end, seconds (the notices' practice: 15 and 5 minutes)
    warn_at_s: tuple[int, ...] = (900, 300)
    #: the terminal talks to its server over plain HTTP: the page says so, always
    insecure_http: bool = False


#: shown across the top of every candidate page of a terminal on plain HTTP (as the
#: console shows it): a terminal in an exam room must never run so unnoticed
INSECURE_BANNER = (
    '<div id="insecure-http" class="insecure-banner" role="alert">'
    "警告：本机与考点服务器之间为明文 HTTP，通信未加密，仅供演示和测试 / WARNING: this terminal "
    "talks to the centre server over plain HTTP: nothing is encrypted; for the demo and tests "
    "only</div>"
)


def seb_hash(url: str, config_key: str) -> str:
    """What SEB sends for ``url``: SHA-256 over the absolute URL + config key, hex."""
    return hashlib.sha256((url + config_key).encode()).hexdigest()


def create_ui(agent: Agent, options: UiOptions | None = None) -> Flask:
    opts = options or UiOptions()
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    allowed_hosts = {f"127.0.0.1:{opts.port}", f"localhost:{opts.port}"}
    photo_cache: dict[int, tuple[str, bytes]] = {}

    @app.before_request
    def lockdown() -> ResponseReturnValue | None:
        if request.host not in allowed_hosts:
            return Response("Forbidden host", status=403, mimetype="text/plain")
        if opts.seb_config_key:
            sent = request.headers.get(SEB_HEADER, "")
            expected = seb_hash(request.url, opts.seb_config_key)
            if not hmac.compare_digest(sent.lower(), expected):
                return Response(SEB_REFUSED, status=403, mimetype="text/html; charset=utf-8")
        return None

    @app.after_request
    def headers(resp: Response) -> Response:
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'"
        )
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

    def fail(code: str, message: str = "", status: int = 409) -> ResponseReturnValue:
        return jsonify(ok=False, code=code, message=message or code), status

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}

    @app.get("/")
    def index() -> ResponseReturnValue:
        assert app.static_folder is not None
        if not opts.insecure_http:
            return send_from_directory(app.static_folder, "index.html")
        page = (Path(app.static_folder) / "index.html").read_text(encoding="utf-8")
        page = page.replace("<body>", "<body>\n" + INSECURE_BANNER, 1)
        return Response(page, mimetype="text/html; charset=utf-8")

    @app.get("/i18n.js")
    def i18n() -> ResponseReturnValue:
        return Response(page_script(), mimetype="text/javascript; charset=utf-8")

    @app.get("/favicon.ico")
    def favicon() -> ResponseReturnValue:
        return Response(status=204)

    @app.get("/api/state")
    def state() -> ResponseReturnValue:
        snap = agent.snapshot()
        snap["warn_at_s"] = list(opts.warn_at_s)
        return jsonify(snap)

    @app.get("/api/paper")
    def paper() -> ResponseReturnValue:
        doc = agent.paper_json()
        return jsonify(doc) if doc else fail("not_started", status=404)

    @app.get("/api/photo")
    def photo() -> ResponseReturnValue:
        attempt_id = agent.attempt_id
        if attempt_id is not None and attempt_id not in photo_cache:
            got = agent.photo()
            if got is not None:
                photo_cache.clear()
                photo_cache[attempt_id] = got
        if attempt_id in photo_cache:
            media, data = photo_cache[attempt_id]
            return Response(data, mimetype=media)
        return Response(NO_PHOTO_SVG, mimetype="image/svg+xml")

    @app.post("/api/login")
    def login() -> ResponseReturnValue:
        data = body()
        reply = agent.login(str(data.get("ticket", "")), str(data.get("id_number", "")))
        return jsonify(reply), 200 if reply.get("ok") else 409

    @app.post("/api/confirm")
    def confirm() -> ResponseReturnValue:
        try:
            agent.confirm()
        except AgentError as exc:
            return fail(exc.code, exc.message)
        return jsonify(ok=True)

    @app.post("/api/answer")
    def answer() -> ResponseReturnValue:
        data = body()
        labels = data.get("labels")
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            return fail("bad_message", "labels must be a list of strings", 400)
        try:
            return jsonify(agent.answer(str(data.get("item_id", "")), labels))
        except AgentError as exc:
            return fail(exc.code, exc.message)
        except ValueError as exc:  # a label the item does not have
            return fail("bad_message", str(exc), 400)

    @app.post("/api/flag")
    def flag() -> ResponseReturnValue:
        data = body()
        try:
            agent.flag(str(data.get("item_id", "")), bool(data.get("flagged")))
        except AgentError as exc:
            return fail(exc.code, exc.message)
        return jsonify(ok=True)

    @app.post("/api/submit")
    def submit() -> ResponseReturnValue:
        try:
            return jsonify(agent.submit())
        except AgentError as exc:
            return fail(exc.code, exc.message)

    @app.post("/api/message_seen")
    def message_seen() -> ResponseReturnValue:
        at = body().get("at")
        if not isinstance(at, str) or not at:
            return fail("bad_message", "at must be the message's time", 400)
        agent.dismiss_message(at)
        return jsonify(ok=True)

    @app.post("/api/finish")
    def finish() -> ResponseReturnValue:
        try:
            agent.finish()
        except AgentError as exc:
            return fail(exc.code, exc.message)
        return jsonify(ok=True)

    return app


class UiServer:
    """The UI's HTTP server on 127.0.0.1, in a thread."""

    def __init__(self, agent: Agent, options: UiOptions | None = None) -> None:
        self.options = options or UiOptions()
        self.app = create_ui(agent, self.options)
        # Bound here, so that a port in use is an OSError the caller words (``--ui-port``):
        # werkzeug's own bind prints an English hint and exits the process.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.options.port))
            sock.listen(128)
            self.server: BaseWSGIServer = make_server(
                "127.0.0.1", self.options.port, self.app, threaded=True, fd=sock.fileno()
            )
        finally:
            sock.close()  # werkzeug keeps its own duplicate of the socket
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.options.port}/"

    def start(self) -> UiServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
