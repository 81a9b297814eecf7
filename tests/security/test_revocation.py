"""A revoked terminal, or one whose seat was enrolled again, is cut off at once (issue 17,
audit): its open Socket.IO connection is told and closed, its next ``hello`` is refused,
and the candidate's attempt is not touched. Through a live server and real clients, by
each way a revocation comes: ``exam-server terminals revoke`` (another process: the
server's revocation watcher), the console's revoke and ``exam-client enrol`` of the seat
(the revoking process itself, at once: the watcher is slowed down to prove it)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exam_common import protocol as p
from exam_server.accounts.models import Role
from exam_server.sittings import service
from exam_server.sittings.engine import AttemptState
from exam_server.sittings.models import Attempt
from exam_server.terminals import service as terminals
from tests.live import Terminal
from tests.security.conftest import Centre, live_console, wait_for

pytestmark = pytest.mark.slow


def _logged_in(c: Centre, terminal_id: str) -> tuple[Terminal, int]:
    """A terminal at the first seat, its candidate logged in, started, one answer saved."""
    term = Terminal(c.server.url, terminal_id=terminal_id, seat=c.seats[0])
    term.sio.on("terminal_revoked", term._recorder("terminal_revoked"), namespace=p.NAMESPACE)
    assert term.hello()["ok"]
    login = term.login(*c.candidate(0))
    assert login["ok"], login
    attempt_id = login["attempt_id"]
    wait_for(lambda: datetime.now(UTC) >= c.start, 10, "the start")
    item = login["items"][0]["item_id"]
    saved = wait_for(
        lambda: (r := term.save(attempt_id, 1, item, ["A"]))["ok"] and r, 10, "a saved answer"
    )
    assert saved["seq"] == 1
    return term, attempt_id


def _cut_off(c: Centre, term: Terminal, attempt_id: int, timeout: float) -> None:
    """``term`` was told and disconnected within ``timeout``; its identity opens nothing
    any more; the attempt is as it was (in progress, its answer kept)."""
    began = time.monotonic()
    wait_for(lambda: not term.sio.connected, timeout, "the revoked terminal disconnected")
    assert time.monotonic() - began < timeout
    assert term.pushes and term.pushes[-1][0] == "terminal_revoked"
    assert term.pushes[-1][1]["code"] == "not_enrolled"
    again = Terminal(
        c.server.url, terminal_id=term.terminal_id, seat=c.seats[0], identity=term.identity
    )
    try:
        assert again.hello()["code"] == "not_enrolled"
        assert again.login(*c.candidate(0))["code"] == "not_enrolled"
        assert again.save(attempt_id, 2, "x", ["B"])["ok"] is False
    finally:
        again.close()
    with c.db.read() as session:
        attempt = session.get(Attempt, attempt_id)
        assert attempt is not None and attempt.state is AttemptState.IN_PROGRESS
        assert attempt.last_seq == 1
        assert service.current_answers(session, attempt_id)  # the saved answer is there


MODES = [
    "single",
    # two workers on one port (PostgreSQL, Redis as their queue): the revocation is
    # committed by one process and the connection held by another
    pytest.param("workers", marks=[pytest.mark.postgres, pytest.mark.redis]),
]


@pytest.mark.parametrize("mode", MODES)
def test_revoke_command_cuts_the_connected_terminal_off(
    centre: Callable[..., Centre], mode: str
) -> None:
    """``exam-server terminals revoke`` runs in its own process: the watcher of the
    server process that holds the connection finds the revocation in the database and
    closes the connection within a second."""
    c = centre(tls=False, workers=mode == "workers")
    term, attempt_id = _logged_in(c, "T-cli")
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "exam_server.cli",
                "terminals",
                "revoke",
                c.seats[0],
                "--reason",
                "终端丢失 / terminal lost",
                "--database",
                c.db.url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "revoked" in done.stdout
        _cut_off(c, term, attempt_id, timeout=3)
    finally:
        term.close()
    assert "enrolment revoked, connection closed" in c.server.log()


@pytest.mark.parametrize("mode", MODES)
def test_console_revoke_cuts_the_terminal_off_at_once(
    centre: Callable[..., Centre], mode: str
) -> None:
    """The console's revoke: the process that commits it closes the connection at once
    (one process: its watcher looks only every 30 s here, so the watcher cannot be what
    did it); with two workers the other one's watcher does, within a second, when the
    terminal is connected there."""
    if mode == "workers":
        c = centre(tls=False, workers=True)
    else:
        c = centre(tls=False, EXAM_REVOCATION_CHECK_S="30")
    term, attempt_id = _logged_in(c, "T-console")
    try:
        http, token = live_console(c, "admin1", Role.ADMIN)
        with c.db.read() as session:
            (enrolment_id,) = [
                e.id for e in terminals.enrolments(session) if e.seat.label == c.seats[0]
            ]
        url = f"{c.server.url}/console/api/enrolments/{enrolment_id}/revoke"
        empty = http.post(url, json={"reason": " "}, headers={"X-CSRFToken": token}, timeout=10)
        assert empty.status_code == 400 and term.sio.connected
        resp = http.post(
            url, json={"reason": "终端被调换"}, headers={"X-CSRFToken": token}, timeout=10
        )
        assert resp.status_code == 200, resp.text
        _cut_off(c, term, attempt_id, timeout=2)
    finally:
        term.close()


def test_enrolling_the_seat_again_cuts_the_old_terminal_off(
    centre: Callable[..., Centre], tmp_path: Path
) -> None:
    """``exam-client enrol`` of a new PC at the seat (its CLI, over HTTP): the old PC's
    open connection is closed at once, and the new one is the seat's terminal."""
    from exam_client.identity import load

    c = centre(tls=False, EXAM_REVOCATION_CHECK_S="30")
    term, attempt_id = _logged_in(c, "T-old")
    try:
        with c.db.write() as session:
            (code,) = terminals.issue_codes(
                session,
                datetime.now(UTC),
                terminals.seats_for(session, labels=[c.seats[0]]),
                by="tests",
                valid=timedelta(hours=1),
            )
        data = tmp_path / "new-pc"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "exam_client.cli",
                "enrol",
                "--server",
                c.server.url,
                "--code",
                code.code,
                "--data-dir",
                str(data),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert c.seats[0] in done.stdout
        _cut_off(c, term, attempt_id, timeout=2)
    finally:
        term.close()
    identity = load(data)
    assert identity is not None and identity.seat == c.seats[0]
    new = Terminal(
        c.server.url, terminal_id=identity.terminal_id, seat=c.seats[0], identity=identity
    )
    try:
        assert new.hello()["ok"]
    finally:
        new.close()
