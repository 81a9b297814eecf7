"""Serving a Socket.IO event leaves no reference cycles behind.

Flask-SocketIO serves every event inside a Flask request context built from the
connection's environ. When that URL matched no route, Flask kept the ``NotFound`` it
raised, whose traceback held the context's frames: about 50 objects of cyclic garbage
per event, which only the cycle collector frees. At 1,000 terminals that made a full
collection every ten seconds or so, each stopping every socket for 200 ms (the answering
bench's p99).
"""

from __future__ import annotations

import base64
import gc
from pathlib import Path

from flask.sessions import SecureCookieSessionInterface

from exam_common import protocol as p
from exam_server import create_app
from exam_server.extensions import socketio
from exam_server.migrate import upgrade
from exam_server.runtime import runtime
from tests.conftest import T0
from tests.factories import make_world
from tests.live import enrol


def hello_enrolled(app, client) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """An enrolled terminal's challenge and hello on ``client`` (what every terminal sends)."""
    db = runtime(app).db
    with db.write() as session:
        seat = make_world(session, start=T0, candidates=1).attempt(0).seat.label
    identity = enrol(db.url, seat, terminal_id="T-1")
    challenge = client.emit("challenge", {}, namespace=p.NAMESPACE, callback=True)
    hello = {
        "protocol": 1,
        "client": "test",
        "terminal_id": "T-1",
        "proof": identity.prove(base64.b64decode(challenge["challenge"])),
    }
    reply = client.emit("hello", hello, namespace=p.NAMESPACE, callback=True)
    assert isinstance(reply, dict)
    return reply


def test_an_event_leaves_no_cyclic_garbage(tmp_path: Path) -> None:
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'centre.db'}", "DATA_DIR": str(tmp_path)}
    )
    upgrade(runtime(app).db)
    client = socketio.test_client(app, namespace=p.NAMESPACE)
    reply = hello_enrolled(app, client)
    assert "server_time" in reply, reply

    gc.collect()
    gc.disable()
    try:
        for _ in range(200):
            client.emit("heartbeat", {}, namespace=p.NAMESPACE, callback=True)
        found = gc.collect()
    finally:
        gc.enable()
    client.disconnect(namespace=p.NAMESPACE)
    runtime(app).db.dispose()
    # None is expected; a handful would be something else. 50 per event was the bug.
    assert found < 20, f"{found} unreachable objects after 200 events"


def test_an_event_does_not_open_the_cookie_session_again(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Flask opens the session at every request context push; Flask-SocketIO replaces it
    at once with the connection's own copy. The copy is made from the cookie at the
    connection's first event; after that, opening the cookie again is wasted work."""
    opened: list[str] = []
    stock = SecureCookieSessionInterface.open_session

    def counting(self, app, request):  # type: ignore[no-untyped-def]
        opened.append(request.path)
        return stock(self, app, request)

    monkeypatch.setattr(SecureCookieSessionInterface, "open_session", counting)
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'centre.db'}", "DATA_DIR": str(tmp_path)}
    )
    upgrade(runtime(app).db)
    client = socketio.test_client(app, namespace=p.NAMESPACE)
    hello_enrolled(app, client)
    at_connect = len(opened)
    for _ in range(50):
        assert client.emit("heartbeat", {}, namespace=p.NAMESPACE, callback=True) is not None
    client.disconnect(namespace=p.NAMESPACE)
    # and an HTTP request still opens its cookie as always
    assert app.test_client().get("/healthz").status_code == 200
    runtime(app).db.dispose()
    assert at_connect >= 1
    assert len(opened) == at_connect + 1, opened
