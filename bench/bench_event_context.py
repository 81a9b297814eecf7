"""The Flask request context Flask-SocketIO builds around every Socket.IO event.

Flask opens the cookie session at each push; Flask-SocketIO then replaces it with the
connection's own copy. The centre's session interface (``exam_server.SocketIOSessions``)
skips that opening once the copy exists. Measured: microseconds per push and pop of an
event's context, for a terminal's connection (no cookie) and a console's (a signed
session cookie); the baseline, in the same run, is Flask's own cookie session interface.

    .venv/bin/python bench/bench_event_context.py
"""

from __future__ import annotations

import argparse
import tempfile
import time

from common import machine, print_table
from flask.sessions import SecureCookieSessionInterface
from werkzeug.test import EnvironBuilder

from exam_server import create_app


def per_push_us(app, environ, rounds: int) -> float:  # type: ignore[no-untyped-def]
    def once() -> None:
        with app.request_context(environ):
            pass

    once()
    t0 = time.perf_counter()
    for _ in range(rounds):
        once()
    return (time.perf_counter() - t0) / rounds * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=20000)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="bench-ctx-") as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/c.db", "DATA_DIR": tmp})
        ours = app.session_interface
        stock = SecureCookieSessionInterface()
        cookie = stock.get_signing_serializer(app).dumps({"user_id": 3, "csrf_token": "x" * 40})
        rows = []
        for who, headers in (
            ("terminal (no cookie)", {}),
            ("console (session cookie)", {"Cookie": f"session={cookie}"}),
        ):
            environ = EnvironBuilder(
                path="/socket.io/", query_string="EIO=4&transport=websocket", headers=headers
            ).get_environ()
            environ["flask.app"] = app
            environ["saved_session"] = {}  # the connection's copy, made at its first event
            app.session_interface = stock
            base = per_push_us(app, environ, args.rounds)
            app.session_interface = ours
            now = per_push_us(app, environ, args.rounds)
            rows.append(
                {
                    "connection": who,
                    "Flask's sessions us": round(base, 1),
                    "centre's sessions us": round(now, 1),
                    "ratio": round(now / base, 2),
                }
            )
    print_table("an event's request context, push and pop", rows)


if __name__ == "__main__":
    main()
