"""The candidate namespace's edge cases that a live test cannot time reliably."""

from __future__ import annotations

import sqlite3
from datetime import UTC
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from exam_common import protocol as p
from exam_server.sittings import namespace as ns
from exam_server.sittings import service
from exam_server.sittings.engine import Refusal, RuleError
from exam_server.terminals import service as terminals


def test_a_login_that_outlives_its_connection_is_dropped_quietly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under a login storm a terminal can time out and hang up before its login commits.

    Binding it to its rooms must then fail as `TerminalGone` (answered quietly by the
    handler wrapper) rather than as the KeyError python-socketio raises, which used to be
    logged as a server error hundreds of times at 1,000 terminals.
    """
    space = ns.CandidateNamespace()
    gone = ns.Terminal("sid-gone")
    with pytest.raises(ns.TerminalGone):
        space._bind(gone, attempt_id=7, sitting_id=1, ticket="260100100017")
    assert gone.attempt_id is None and "sid-gone" not in space.terminals

    # Still listed here, but the Socket.IO server has already forgotten the sid.
    racing = space.terminals["sid-racing"] = ns.Terminal("sid-racing")

    def join_room(room: str) -> None:
        raise KeyError("sid-racing")

    monkeypatch.setattr(ns, "join_room", join_room)
    with pytest.raises(ns.TerminalGone):
        space._bind(racing, attempt_id=8, sitting_id=1, ticket="260100100025")
    assert "sid-racing" not in space.terminals

    # A connected terminal is bound to its attempt's and its sitting's rooms.
    joined: list[str] = []
    monkeypatch.setattr(ns, "join_room", joined.append)
    live = space.terminals["sid-live"] = ns.Terminal("sid-live")
    space._bind(live, attempt_id=9, sitting_id=1, ticket="260100100033")
    assert joined == ["attempt:9", "sitting:1"] and live.attempt_id == 9


def test_a_revoked_terminals_connection_is_closed_and_its_events_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event already on its way when the terminal's enrolment is revoked (the race a
    live test cannot time): ``cut_off`` tells the terminal, closes its connection, and
    every event it still sends is refused as ``not_enrolled``; another terminal of the
    same process goes on."""
    from flask import request

    from exam_server.app import create_app
    from exam_server.extensions import socketio
    from exam_server.terminals.service import Identity

    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'centre.db'}", "DATA_DIR": str(tmp_path)}
    )
    space = ns.CandidateNamespace()
    revoked = space.terminals["sid-r"] = ns.Terminal(
        "sid-r", identity=Identity("T-r", 5, "01-01", 1), attempt_id=9
    )
    other = space.terminals["sid-o"] = ns.Terminal(
        "sid-o", identity=Identity("T-o", 6, "01-02", 1), attempt_id=10
    )
    told: list[tuple[str, object]] = []
    closed: list[str] = []
    monkeypatch.setattr(
        socketio, "emit", lambda event, data, to, namespace: told.append((to, data))
    )
    monkeypatch.setattr(socketio.server, "disconnect", lambda sid, **_: closed.append(sid))
    with app.app_context():
        assert space.cut_off({5}) == 1
    assert closed == ["sid-r"] and revoked.revoked and not other.revoked
    assert [(to, d["code"]) for to, d in told] == [("terminal:5", "not_enrolled")]  # type: ignore[index]
    save = {"attempt_id": 9, "seq": 1, "item_id": "Q1", "response": ["A"]}
    with app.test_request_context():
        request.sid = "sid-r"  # type: ignore[attr-defined]
        for handler, data in (
            (space.on_save, save),
            (space.on_submit, {"attempt_id": 9, "last_seq": 1}),
            (space.on_status, {"attempt_id": 9}),
            (space.on_heartbeat, {}),
            (space.on_login, {"ticket": "260100100017", "id_number": "x"}),
            (space.on_preload, {}),
            (space.on_challenge, {}),
        ):
            reply = handler(data)
            assert reply["ok"] is False and reply["code"] == "not_enrolled", (handler, reply)
        request.sid = "sid-o"  # type: ignore[attr-defined]
        assert space.on_challenge({})["ok"] is True


# --- the socket layer's failure mapping: which refusals the terminal re-sends ------------


def _sqlite_error(name: str) -> OperationalError:
    orig = sqlite3.OperationalError(name)
    orig.sqlite_errorcode = getattr(sqlite3, name)  # type: ignore[attr-defined]
    return OperationalError("INSERT INTO answer", {}, orig)


def _name(v: object) -> str:
    if isinstance(v, BaseException):
        code = getattr(v, "code", None)
        code = getattr(code, "value", code)
        return f"{type(v).__name__}:{code or v}"
    return str(v)


@pytest.mark.parametrize(
    ("raised", "code", "retry"),
    [
        # what the terminal sent is wrong: a resend is refused alike
        (p.ProtocolError("bad_message", "seq: not an integer", "seq"), "bad_message", False),
        (RuleError(Refusal.DEADLINE_PASSED), "deadline_passed", False),
        (RuleError(Refusal.ATTEMPT_SUBMITTED), "attempt_submitted", False),
        # the clock stopped by a pause: the same change is accepted once it ends
        (RuleError(Refusal.ATTEMPT_PAUSED), "attempt_paused", True),
        (service.ServiceError("seq_conflict", "seq 3"), "seq_conflict", False),
        (service.ServiceError("server_busy", "locked", retry=True), "server_busy", True),
        (service.ServiceError("answers_pending", retry=True), "answers_pending", True),
        (terminals.TerminalError("not_enrolled"), "not_enrolled", False),
        # nobody left to answer, or the answer writer did not answer in time: re-send
        (ns.TerminalGone(), "server_busy", True),
        (TimeoutError(), "server_busy", True),
        # the database unavailable just now: re-send
        (_sqlite_error("SQLITE_BUSY"), "server_busy", True),
        (_sqlite_error("SQLITE_IOERR_WRITE"), "server_busy", True),
        # a lasting fault, even one SQLite raises as OperationalError: no retry for ever
        (_sqlite_error("SQLITE_ERROR"), "server_error", False),
        (IntegrityError("INSERT INTO answer", {}, Exception("unique")), "server_error", False),
        (KeyError("Q001"), "server_error", False),
    ],
    ids=lambda v: _name(v),
)
def test_the_edge_maps_each_failure_to_retry_or_not(
    monkeypatch: pytest.MonkeyPatch, raised: BaseException, code: str, retry: bool
) -> None:
    monkeypatch.setattr(
        ns, "runtime", lambda: SimpleNamespace(config=SimpleNamespace(LANG="en", tz=UTC))
    )

    @ns._edge
    def handler(self: ns.CandidateNamespace, data: object) -> p.Message:
        raise raised

    reply = handler(ns.CandidateNamespace(), {"seq": 1})
    assert reply["ok"] is False
    assert (reply["code"], reply["retry"]) == (code, retry)
    assert reply["message"] and not reply["message"].startswith("Refused (")


def test_the_edge_dumps_a_handlers_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        ns, "runtime", lambda: SimpleNamespace(config=SimpleNamespace(LANG="zh_CN", tz=UTC))
    )

    @ns._edge
    def handler(self: ns.CandidateNamespace, data: object) -> p.Message:
        return p.ErrorReply(code="not_logged_in", message="请先登录")

    assert handler(ns.CandidateNamespace(), None) == p.dump(
        p.ErrorReply(code="not_logged_in", message="请先登录")
    )
