"""Serving central's API in production: gunicorn, several worker processes.

Central is the one service every centre of a province calls in the same second (the keys
at the start, the results at the end, backups all day), so it runs on a production WSGI
server with several workers, and can run on several machines behind a load balancer.
That works because a worker keeps nothing another worker needs: every piece of state the
protocol depends on lives in central's database, which all workers share:

* the nonces of signed requests (``seen_nonce``, unique per centre: a replay sent to
  another worker, or another machine, is refused the same way);
* partial uploads and their chunks (``upload``, ``upload_chunk``), so a chunk may go to
  any worker and an upload resumes wherever the next request lands;
* the keys' release times and first fetches, result packages and backups (stored once,
  by content: unique per centre and SHA-256).

What a worker does keep is read-only and the same in every process: its configuration,
its own connection pool, and the shipped tables of subjects and trades
(``question_bank.catalogue``). Each worker builds its app (and its connection pool)
after the fork, so no database connection is ever shared between processes.

werkzeug's development server (``exam-central run --dev``) is for the demo and a trial
on one machine only.
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.app.base import BaseApplication

from central.config import CentralConfig


def default_workers() -> int:
    """Gunicorn's rule of thumb: two workers per core, plus one."""
    return 2 * (os.cpu_count() or 1) + 1


class CentralServer(BaseApplication):
    """``central.app:create_app`` under gunicorn, configured from the command line."""

    def __init__(self, config: CentralConfig, options: dict[str, Any]) -> None:
        self.central_config = config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Called in each worker after the fork (no preload): each its own engine and pool.
        from central.app import create_app

        return create_app(self.central_config)


def serve(
    config: CentralConfig,
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    timeout: int,
    access_log: str | None,
) -> None:
    """Run gunicorn in the foreground until SIGTERM/SIGINT (graceful) or SIGQUIT."""
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        # Threads let a worker wait on the database for one request while serving
        # another; the work per request is short (a signature, a row or two).
        "worker_class": "gthread" if threads > 1 else "sync",
        "threads": threads,
        # A worker stuck this long is killed and replaced by the master; the upload it
        # was taking resumes from the last committed chunk.
        "timeout": timeout,
        "graceful_timeout": 30,
        "keepalive": 5,
        "proc_name": "exam-central",
        "accesslog": access_log,
        "errorlog": "-",
        "loglevel": "info",
        # Behind a TLS-terminating proxy or load balancer on another machine the real
        # client address comes in X-Forwarded-For; central does not use it for anything
        # but the log, and trusts it only from the addresses given here.
        "forwarded_allow_ips": os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        # gunicorn's control socket (gunicornc) lives at one path per user by default:
        # two centrals on one machine (a trial beside production, tests) would fight
        # over it, and central needs none (signals do: TERM, HUP, TTIN/TTOU).
        "control_socket_disable": True,
    }
    CentralServer(config, options).run()
