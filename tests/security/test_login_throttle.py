"""Login throttling (issue 17): 300 ID numbers for one ticket in 0.45 s; console lockout
that tells which names exist and lets anyone lock the chief out; ``aaaaaaaa`` accepted.
In process: the service on the console's database, the console's own API and pages; and
the attack itself through a live server, a real terminal and the console's live page."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from exam_server.accounts import service as accounts
from exam_server.accounts.models import Role, User
from exam_server.sittings import service
from exam_server.sittings.models import Attempt
from exam_server.sittings.service import LoginLimits, ServiceError
from exam_server.throttle.models import LoginThrottle
from tests.conftest import T0
from tests.console.conftest import PASSWORD, Console, login, post
from tests.factories import id_number_for
from tests.live import Terminal
from tests.security.conftest import Centre, live_console, wait_for


def _login(
    console: Console, ticket: str, id_number: str, terminal: str, seat: str = "01-01"
) -> str:
    """One candidate login at a terminal of room 01 (committed, as the namespace does)."""
    code = "ok"
    with console.db.write() as session:
        try:
            service.login(
                session,
                console.clock.now(),
                ticket=ticket,
                id_number=id_number,
                terminal_id=terminal,
                seat_label=seat,
                limits=LoginLimits(ticket=5, terminal=10),
                terminal_room_id=console.ids["room1"],
            )
        except ServiceError as exc:
            code = exc.code
    return code


def ticket_of(console: Console, attempt: str) -> str:
    with console.db.read() as session:
        row = session.get(Attempt, console.ids[attempt])
        assert row is not None
        return row.candidate.ticket


def test_guessing_id_numbers_for_a_ticket_locks_it_until_the_invigilator_unlocks(
    console: Console,
) -> None:
    console.clock.set(T0 + timedelta(minutes=20))  # entry is open
    ticket = ticket_of(console, "attempt1")
    guesses = [_login(console, ticket, f"41010119800101{n:03d}9", "T-1") for n in range(7)]
    assert guesses == ["bad_credentials"] * 4 + ["login_locked"] * 3
    # Locked means locked: the right ID number waits for the invigilator too.
    assert _login(console, ticket, id_number_for(1), "T-1") == "login_locked"
    inv1 = console.login("inv1")
    room = f"/console/api/sittings/{console.ids['sitting']}/rooms/{console.ids['room1']}"
    locks = inv1.get(room).get_json()["locks"]
    assert [(x["scope"], x["failures"]) for x in locks] == [("ticket", 5)]
    # Another room's invigilator may not unlock it; this room's, with a reason, does.
    inv2 = console.login("inv2")
    assert (
        post(inv2, f"/console/api/locks/{locks[0]['id']}/unlock", {"reason": "x"}).status_code
        == 403
    )
    resp = post(inv1, f"/console/api/locks/{locks[0]['id']}/unlock", {"reason": "核对身份证"})
    assert resp.status_code == 200, resp.get_json()
    assert inv1.get(room).get_json()["locks"] == []
    assert _login(console, ticket, id_number_for(1), "T-1") == "ok"


def test_a_terminal_trying_many_tickets_is_locked(console: Console) -> None:
    console.clock.set(T0 + timedelta(minutes=20))
    tickets = [ticket_of(console, f"attempt{n}") for n in range(1, 6)]
    codes = [_login(console, tickets[n % 5], "410101198001019999", "T-2") for n in range(11)]
    assert codes[:9] == ["bad_credentials"] * 9 and codes[9] == "terminal_locked"
    # The terminal stays locked for everyone, the tickets (two wrong each) do not.
    assert _login(console, tickets[1], id_number_for(2), "T-2") == "terminal_locked"
    assert _login(console, tickets[1], id_number_for(2), "T-3", seat="01-02") == "ok"


def _timed_login(console: Console, name: str, password: str, address: str) -> tuple[int, float]:
    client = console.app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    client.get("/console/login")
    began = time.perf_counter()
    status = login(client, name, password).status_code
    return status, time.perf_counter() - began


def test_console_login_answers_unknown_and_known_names_the_same(console: Console) -> None:
    """The same statuses, at the same counts, for a name that exists and one that does
    not; and the same time (a dummy argon2 hash for unknown names): no oracle."""
    known = [_timed_login(console, "inv1", "wrong-password-1", "10.0.0.1")[0] for _ in range(7)]
    unknown = [_timed_login(console, "nobody", "wrong-password-1", "10.0.0.2")[0] for _ in range(7)]
    assert known == unknown == [401] * 5 + [429] * 2
    # Timing, interleaved (so that the machine's load falls on both alike), each from an
    # address of its own (so that no wait comes in): a lock used to answer ~4x faster.
    k, u = [], []
    for n in range(9):
        k.append(_timed_login(console, "inv2", "wrong-password-1", f"10.1.0.{n}")[1])
        u.append(_timed_login(console, "nobody2", "wrong-password-1", f"10.2.0.{n}")[1])
    ratio = statistics.median(k) / statistics.median(u)
    assert 0.5 < ratio < 2, (k, u)


def test_nobody_on_the_lan_can_lock_the_chief_out(console: Console) -> None:
    """Twenty wrong passwords for ``chief`` from one machine (its source waits), and five
    from five others: the chief at their own PC logs in at once."""
    statuses = [_timed_login(console, "chief", f"guess-{n}", "10.0.0.66")[0] for n in range(20)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    for a in range(5):
        _timed_login(console, "chief", "guess", f"10.0.1.{a}")
    status, _ = _timed_login(console, "chief", PASSWORD, "10.0.9.9")
    assert status == 302


def test_common_and_guessable_passwords_are_refused(console: Console) -> None:
    with console.db.write() as session:
        user = session.scalar(select(User).where(User.username == "inv1"))
        assert user is not None
        for password in ("aaaaaaaa", "password1", "12345678", "qwertyuiop", "P@ssw0rd2024"):
            with pytest.raises(accounts.AccountError) as refused:
                accounts.create_user(
                    session,
                    T0,
                    username="newchief",
                    display_name="新主考",
                    role=Role.CHIEF,
                    password=password,
                    by="test",
                )
            assert refused.value.code in ("common_password", "weak_password"), password
            with pytest.raises(accounts.AccountError):
                accounts.set_password(session, T0, user, password, by="test")
        with pytest.raises(accounts.AccountError):  # the user's own name is no password
            accounts.set_password(session, T0, user, "inv1inv1inv1", by="test")
        accounts.set_password(session, T0, user, "maple lantern 1987 river", by="test")


def test_a_terminal_guessing_id_numbers_over_the_socket_is_locked_and_the_invigilator_unlocks(
    centre: Callable[..., Centre],
) -> None:
    """The issue's attack through a live server and a real Socket.IO terminal: wrong ID
    numbers for one ticket until the ticket locks. The lock is committed although every
    login was refused (it outlives a server restart), the room's console page is pushed
    the alert at once, and the chief unlocks it on the console, with a reason (none: 400
    naming the field); then the right ID number logs in."""
    import socketio

    c = centre(tls=False)
    ticket, right = c.candidate(0)
    with c.db.read() as session:
        attempt = session.get(Attempt, c.attempt_ids[0])
        assert attempt is not None
        sitting_id, room_id = attempt.sitting_id, attempt.seat.room_id
    http, token = live_console(c, "chief1", Role.CHIEF)
    # The room's live map, as the console page opens it (its socket, its cookie).
    page = socketio.Client(reconnection=False, http_session=http)
    alerts: list[Any] = []
    page.on("room_state", alerts.append, namespace="/proctor")
    page.connect(c.server.url, namespaces=["/proctor"], transports=["websocket"], wait_timeout=10)
    joined = page.call(
        "join", {"sitting_id": sitting_id, "room_id": room_id}, namespace="/proctor", timeout=10
    )
    assert joined.get("ok", True) is not False, joined
    term = Terminal(c.server.url, terminal_id="T-guess", seat=c.seats[0])
    try:
        assert term.hello()["ok"]
        codes = [term.login(ticket, f"41010119800101{n:03d}9")["code"] for n in range(7)]
        assert codes == ["bad_credentials"] * 4 + ["login_locked"] * 3, codes
        assert term.login(ticket, right)["code"] == "login_locked"  # the right one waits too
        wait_for(lambda: alerts, 5, "the alert on the console page")
        assert alerts[0] == {"sitting_id": sitting_id, "room_id": room_id}
    finally:
        term.close()
        page.disconnect()
    with c.db.read() as session:  # committed, though every login was refused
        (lock,) = session.scalars(
            select(LoginThrottle).where(LoginThrottle.locked_at.is_not(None))
        ).all()
        assert (lock.scope, lock.key, lock.failures) == ("ticket", ticket, 5)
        lock_id = lock.id
    c.server.stop()
    c.server.start()
    term = Terminal(c.server.url, terminal_id="T-guess", seat=c.seats[0], identity=term.identity)
    try:
        assert term.hello()["ok"]
        assert term.login(ticket, right)["code"] == "login_locked"  # it outlived the restart
        room = f"{c.server.url}/console/api/sittings/{sitting_id}/rooms/{room_id}"
        locks = http.get(room, timeout=10).json()["locks"]
        assert [(x["id"], x["scope"]) for x in locks] == [(lock_id, "ticket")]
        unlock = f"{c.server.url}/console/api/locks/{lock_id}/unlock"
        headers = {"X-CSRFToken": token}
        for body in ({}, {"reason": ""}, {"reason": "   "}):
            refused = http.post(unlock, json=body, headers=headers, timeout=10)
            assert refused.status_code == 400, refused.text
            assert refused.json()["field"] == "reason"
        assert term.login(ticket, right)["code"] == "login_locked"  # still locked
        done = http.post(unlock, json={"reason": "核对身份证，本人"}, headers=headers, timeout=10)
        assert done.status_code == 200, done.text
        assert http.get(room, timeout=10).json()["locks"] == []
        assert term.login(ticket, right)["ok"]
    finally:
        term.close()
