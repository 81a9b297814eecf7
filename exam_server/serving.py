"""Serving the centre: one process, or several workers sharing a port.

Terminals speak Socket.IO over WebSocket only, so a connection never moves between
processes once opened and no sticky load balancer is needed: with ``--reuse-port``
each worker binds the same port (SO_REUSEPORT) and the kernel spreads new connections
across them. Workers share the database (PostgreSQL) and a Redis message queue, through
which an emit from any process reaches a client connected to any other. Exactly one
scheduler runs: ``exam-server scheduler``, started by :func:`run_workers`.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from typing import Any

import click

from exam_server.config import Config


def listen(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def tune_gc(cfg: Config) -> None:
    """Before serving: what exists now (modules, the app, the schema: ~160,000 objects) is
    collected once and frozen, so no later full collection walks it again; and the young
    generation is collected less often (``EXAM_GC_YOUNG_THRESHOLD``), so objects that live
    for one request die young instead of being promoted into the old generation."""
    gc.collect()
    gc.freeze()
    if cfg.GC_YOUNG_THRESHOLD > 0:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(cfg.GC_YOUNG_THRESHOLD, older, oldest)


INSECURE_MARK = "[明文HTTP 未加密 / INSECURE plain HTTP]"


class _InsecureMark(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "_insecure_marked", False):
            record.msg = f"{INSECURE_MARK} {record.msg}"
            record._insecure_marked = True
        return True


def insecure_logging() -> None:
    """Every log line of this process says that it serves plain HTTP."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO)
    for handler in root.handlers:
        if not any(isinstance(f, _InsecureMark) for f in handler.filters):
            handler.addFilter(_InsecureMark())


def serve_app(
    app: Any, cfg: Config, sock: socket.socket, *, ssl_context: ssl.SSLContext | None = None
) -> None:
    """Block serving ``app`` on ``sock`` in the configured concurrency mode, over TLS when
    ``ssl_context`` is given."""
    tune_gc(cfg)
    if cfg.ASYNC_MODE == "gevent":
        kwargs: dict[str, Any] = {"ssl_context": ssl_context} if ssl_context else {}
        _gevent_server_class()(sock, app, log=None, **kwargs).serve_forever()
        return
    # Threading mode: Werkzeug's threaded server, one thread per connection (what
    # Flask-SocketIO's own ``socketio.run`` uses), on our socket so the port can be shared.
    from werkzeug.serving import make_server

    server = make_server(
        sock.getsockname()[0],
        sock.getsockname()[1],
        app,
        threaded=True,
        fd=sock.fileno(),
        ssl_context=ssl_context,
    )
    server.serve_forever()


def _gevent_server_class() -> Any:
    from gevent.pywsgi import WSGIServer

    class CentreWSGIServer(WSGIServer):  # type: ignore[misc]
        """gevent's WSGI server, except that a client failing the TLS handshake (a
        browser that does not trust the centre CA yet, a terminal pinning another CA, a
        port scan) is one warning line in the log, not a traceback on stderr."""

        def wrap_socket_and_handle(self, client_socket: Any, address: Any) -> Any:
            try:
                return super().wrap_socket_and_handle(client_socket, address)
            except (ssl.SSLError, OSError) as exc:
                logging.getLogger("exam_server.serving").warning(
                    "TLS connection from %s failed: %s", address[0] if address else "?", exc
                )
                return None

    return CentreWSGIServer


def run_workers(cfg: Config, host: str, port: int, workers: int, extra_args: list[str]) -> None:
    """Start ``workers`` server processes on one port plus the one scheduler; restart any
    that dies; stop them all on SIGTERM or Ctrl-C."""
    if workers > 1 and cfg.DATABASE_URL.startswith("sqlite"):
        raise click.ClickException(
            "多进程需要 PostgreSQL：SQLite 只允许一个写入进程 / several workers need PostgreSQL "
            "(EXAM_DATABASE_URL=postgresql+psycopg://...)"
        )
    if workers > 1 and not cfg.MESSAGE_QUEUE:
        raise click.ClickException(
            "多进程需要 Redis 消息队列 / several workers need a message queue: "
            "EXAM_MESSAGE_QUEUE=redis://127.0.0.1:6379/0"
        )
    if not cfg.INSECURE_HTTP:
        # The CA and the certificate exist before the workers start: N processes must not
        # each make a CA of their own at the same instant.
        from exam_server.tls import ensure_tls, now_utc

        hosts = [h for h in cfg.TLS_HOSTS.split(",") if h.strip()]
        if host not in ("0.0.0.0", "::", ""):
            hosts.insert(0, host)
        ensure_tls(cfg.DATA_DIR, centre=cfg.CENTRE_CODE, hosts=hosts, now=now_utc())
    env = {
        **os.environ,
        "EXAM_DATABASE_URL": cfg.DATABASE_URL,
        "EXAM_DATA_DIR": cfg.DATA_DIR,
        "EXAM_MESSAGE_QUEUE": cfg.MESSAGE_QUEUE,
        "EXAM_ASYNC_MODE": cfg.ASYNC_MODE,
    }
    base = [sys.executable, "-m", "exam_server.cli"]
    commands = {"scheduler": [*base, "scheduler"]}
    for i in range(workers):
        commands[f"worker-{i + 1}"] = [
            *base,
            "run",
            "--host",
            host,
            "--port",
            str(port),
            "--no-scheduler",
            "--reuse-port",
            *extra_args,
        ]
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(
        f"启动 {workers} 个工作进程和 1 个调度进程 / starting {workers} workers and the scheduler on port {port}"
    )
    try:
        while not stopping:
            for name, cmd in commands.items():
                proc = procs.get(name)
                if proc is None or proc.poll() is not None:
                    if proc is not None:
                        click.echo(
                            f"{name} 已退出 (exit {proc.returncode})，正在重启 / restarting",
                            err=True,
                        )
                    procs[name] = subprocess.Popen(cmd, env=env)
            time.sleep(0.5)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
