"""Accounts and access: lockout, CSRF, sessions, and one role never reaching another's
pages, API calls or socket events. In-process app on a ManualClock (no sleeping)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from exam_server.eventlog.models import Event
from exam_server.eventlog.service import verify_chain
from exam_server.extensions import socketio
from tests.console.conftest import PASSWORD, Console, csrf_token, login, post


def test_wrong_passwords_make_that_address_wait_and_never_lock_the_user(
    console: Console,
) -> None:
    """Five wrong passwords for a name from one address make that pair wait (doubling),
    the right password included; the same name from another address logs in at once
    (nobody can lock a user out); after the wait the first address may try again."""
    client = console.client()
    for _ in range(5):
        resp = login(client, "inv1", "wrong password")
        assert resp.status_code == 401
        assert "用户名或密码不正确" in resp.get_data(as_text=True)
    resp = login(client, "inv1", PASSWORD)  # the right password, but this pair must wait
    text = resp.get_data(as_text=True)
    assert resp.status_code == 429 and "请于" in text and "之后再试" in text
    elsewhere = console.app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert login(elsewhere, "inv1", PASSWORD).status_code == 302
    console.clock.advance(timedelta(seconds=31))
    assert login(client, "inv1", PASSWORD).status_code == 302
    with console.db.read() as db:
        kinds = [e.kind for e in db.scalars(select(Event).where(Event.actor == "console:inv1"))]
        assert kinds.count("user.login_failed") == 5 and kinds.count("user.login_throttled") == 1
        assert verify_chain(db).ok


def test_forms_and_requests_without_a_csrf_token_fail(console: Console) -> None:
    client = console.client()
    client.get("/console/login")
    resp = client.post("/console/login", data={"username": "chief", "password": PASSWORD})
    assert resp.status_code == 400 and "刷新页面" in resp.get_data(as_text=True)
    chief = console.login("chief")
    ids = console.ids
    path = f"/console/api/sittings/{ids['sitting']}/rooms/{ids['room1']}/broadcast"
    resp = chief.post(path, json={"text": "请保持安静"})
    assert resp.status_code == 400 and resp.get_json()["code"] == "csrf_failed"
    resp = chief.post(path, json={"text": "请保持安静"}, headers={"X-CSRFToken": "forged"})
    assert resp.status_code == 400
    assert post(chief, path, {"text": "请保持安静"}).get_json()["ok"] is True
    # logout is a state change too
    assert chief.post("/console/logout").status_code == 400


def test_an_invigilator_sees_and_acts_on_their_own_room_only(console: Console) -> None:
    ids = console.ids
    inv1 = console.login("inv1")
    own = f"/console/sittings/{ids['sitting']}/rooms/{ids['room1']}"
    other = f"/console/sittings/{ids['sitting']}/rooms/{ids['room2']}"
    assert inv1.get(own).status_code == 200
    assert inv1.get(other).status_code == 403
    assert (
        inv1.get(f"/console/api/sittings/{ids['sitting']}/rooms/{ids['room2']}").status_code == 403
    )
    assert inv1.get(f"/console/photos/{ids['attempt6']}").status_code == 403
    assert inv1.get(f"/console/photos/{ids['attempt1']}").status_code == 200
    assert inv1.get(f"{other}/record.pdf").status_code == 403
    # actions on another room's candidate or room
    resp = post(inv1, f"/console/api/attempts/{ids['attempt6']}/absent", {"reason": "x"})
    assert resp.status_code == 403 and resp.get_json()["code"] == "not_your_room"
    resp = post(
        inv1, f"/console/api/sittings/{ids['sitting']}/rooms/{ids['room2']}/pause", {"reason": "x"}
    )
    assert resp.status_code == 403
    # the chief's pages and centre-wide actions
    assert inv1.get(f"/console/sittings/{ids['sitting']}").status_code == 403
    resp = post(inv1, f"/console/api/sittings/{ids['sitting']}/pause", {"reason": "停电"})
    assert resp.status_code == 403 and resp.get_json()["code"] == "forbidden_role"
    # home lists only the own room
    home = inv1.get("/console/").get_data(as_text=True)
    assert f"rooms/{ids['room1']}" in home and f"rooms/{ids['room2']}" not in home


def test_the_admin_sees_the_overview_but_no_room_and_no_action(console: Console) -> None:
    ids = console.ids
    admin = console.login("admin")
    page = admin.get(f"/console/sittings/{ids['sitting']}").get_data(as_text=True)
    assert "未配置" in page  # no sync link set up in this centre: said honestly
    assert admin.get(f"/console/sittings/{ids['sitting']}/rooms/{ids['room1']}").status_code == 403
    resp = post(admin, f"/console/api/attempts/{ids['attempt1']}/checkin", {"photo_matches": True})
    assert resp.status_code == 403
    chief = console.login("chief")
    assert chief.get(f"/console/sittings/{ids['sitting']}/rooms/{ids['room2']}").status_code == 200


def test_pages_need_a_login_and_sessions_expire(console: Console) -> None:
    ids = console.ids
    anon = console.client()
    resp = anon.get(f"/console/sittings/{ids['sitting']}/rooms/{ids['room1']}")
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    assert anon.get(f"/console/api/sittings/{ids['sitting']}/overview").status_code == 401
    chief = console.login("chief")
    assert chief.get("/console/").status_code == 200
    console.clock.advance(timedelta(hours=2, seconds=1))  # idle longer than allowed
    assert chief.get("/console/").status_code == 302
    chief = console.login("chief")
    for _ in range(5):  # active all day: the absolute limit (10 h) still ends the session
        console.clock.advance(timedelta(minutes=110))
        assert chief.get("/console/").status_code == 200
    console.clock.advance(timedelta(minutes=51))
    assert chief.get("/console/").status_code == 302


def test_logout_ends_the_session_on_the_server(console: Console) -> None:
    chief = console.login("chief")
    cookie = chief.get_cookie("exam_console")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"
    token = csrf_token(chief, "/console/")
    assert chief.post("/console/logout", data={"csrf_token": token}).status_code == 302
    replay = console.client()
    replay.set_cookie("exam_console", cookie.value)  # a copied cookie is dead too
    assert replay.get("/console/").status_code == 302


def test_socket_events_check_the_login_and_the_room(console: Console) -> None:
    ids = console.ids
    anon = socketio.test_client(
        console.app, namespace="/proctor", flask_test_client=console.client()
    )
    assert not anon.is_connected("/proctor")
    inv1 = console.login("inv1")
    sock = socketio.test_client(console.app, namespace="/proctor", flask_test_client=inv1)
    assert sock.is_connected("/proctor")
    reply = sock.emit(
        "join",
        {"sitting_id": ids["sitting"], "room_id": ids["room2"]},
        namespace="/proctor",
        callback=True,
    )
    assert reply["ok"] is False and reply["code"] == "not_your_room"
    reply = sock.emit("join", {"sitting_id": ids["sitting"]}, namespace="/proctor", callback=True)
    assert reply["code"] == "forbidden_role"
    reply = sock.emit(
        "join",
        {"sitting_id": ids["sitting"], "room_id": ids["room1"]},
        namespace="/proctor",
        callback=True,
    )
    assert reply["ok"] and len(reply["tiles"]) == 5
    assert {t["attempt_id"] for t in reply["tiles"]} == {ids[f"attempt{i}"] for i in range(1, 6)}
    reply = sock.emit("join", {"sitting_id": "x"}, namespace="/proctor", callback=True)
    assert reply["code"] == "bad_message"
    # After logout the same socket's next join is refused.
    inv1.post("/console/logout", data={"csrf_token": csrf_token(inv1, "/console/")})
    reply = sock.emit(
        "join",
        {"sitting_id": ids["sitting"], "room_id": ids["room1"]},
        namespace="/proctor",
        callback=True,
    )
    assert reply["code"] == "login_required"
    # A page of another site cannot open the socket with our cookie.
    chief = console.login("chief")
    foreign = socketio.test_client(
        console.app,
        namespace="/proctor",
        flask_test_client=chief,
        headers={"Origin": "http://evil.example"},
    )
    assert not foreign.is_connected("/proctor")
