"""Serving the centre: one process, or several workers sharing a port.

Terminals speak Socket.IO over WebSocket only, so a connection never moves between
processes once opened and no sticky load balancer is needed: with ``--reuse-port``
each worker binds the same port (SO_REUSEPORT) and the kernel spreads new connections
across them. Workers share the database (PostgreSQL) and a Redis message queue, through
which an emit from any process reaches a client connected to any other. Exactly one
scheduler runs: ``exam-server scheduler``, started by :func:`run_workers`.
"""

from __future__ import annotations

import errno
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

# the plain-HTTP mark is the terminal's too: one text, in the shared ground
from exam_common.insecure import INSECURE_MARK, insecure_logging  # noqa: F401 - re-exported
from exam_server.config import Config


def listen(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """The listening socket; an address a person got wrong (a port in use, a port below
    1024, an address not of this machine) is one line saying what to do, not a traceback."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(bind_failure(host, port, exc)) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def bind_failure(host: str, port: int, exc: OSError) -> str:
    """What to say when ``host:port`` cannot be listened on."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"端口 {port} 已被占用（{host}:{port}），可能已有一个服务器在运行：请先停止它，"
            f"或用 --port 换一个端口 / port {port} is in use: stop what runs there or use --port"
        )
    if exc.errno == errno.EACCES:
        return (
            f"没有权限监听端口 {port}（1024 以下的端口需要管理员权限）：请用 --port 5000 等端口 "
            f"/ no permission to listen on port {port}: use a port above 1024"
        )
    if exc.errno in (errno.EADDRNOTAVAIL, socket.EAI_NONAME) or isinstance(exc, socket.gaierror):
        return (
            f"地址 {host} 不是本机的地址：请用 --host 0.0.0.0（所有网卡）或本机的 IP "
            f"/ {host} is not an address of this machine: use --host 0.0.0.0 or one of its own"
        )
    return f"无法监听 {host}:{port}：{exc.strerror or exc} / cannot listen on {host}:{port}"


class DataDirInUse(click.ClickException):
    """Another server process holds this data directory."""


def hold_data_dir(data_dir: str) -> Any:
    """Lock ``<data_dir>/server.lock`` for as long as this process lives (the returned
    file must be kept open): two servers on one data directory would both run the
    scheduler and write the same database. The lock goes with the process, even on kill -9."""
    import fcntl

    path = os.path.join(data_dir, "server.lock")
    # held open (flock) for the life of the process; its content only says which pid holds it
    handle = open(path, "a+")  # noqa: SIM115  # not-durable: the data folder's lock
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read().strip() or "?"
        handle.close()
        raise DataDirInUse(
            f"数据目录 {data_dir} 正被另一个考点服务器（pid {pid}）使用：请先停止它"
            f"（kill {pid}），或用另一个 --data-dir / the data directory {data_dir} is in use "
            f"by another server (pid {pid})"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def data_dir_holder(data_dir: str) -> str | None:
    """The pid of the server holding ``data_dir`` (as text), or None when none does."""
    import fcntl

    path = os.path.join(data_dir, "server.lock")
    try:
        handle = open(path)  # noqa: SIM115
    except OSError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "?"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


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

    class CentreWSGIServer(WSGIServer):
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
