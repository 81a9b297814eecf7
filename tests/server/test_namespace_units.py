"""The candidate namespace's edge cases that a live test cannot time reliably."""

from __future__ import annotations

from pathlib import Path

import pytest

from exam_server.sittings import namespace as ns


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
