"""The candidate namespace's edge cases that a live test cannot time reliably."""

from __future__ import annotations

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
