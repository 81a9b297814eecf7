"""The invigilators' actions through the console's API, against the exam rules, on a
ManualClock; the live hub's pushes; lost-time detection; the room record PDF."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta

from sqlalchemy import select

from exam_server.accounts.models import User
from exam_server.candidates.models import Candidate
from exam_server.centres.models import Centre, Room
from exam_server.console.models import CheckIn, GapStatus, TerminalGap
from exam_server.eventlog.models import Event
from exam_server.eventlog.service import verify_chain
from exam_server.extensions import socketio
from exam_server.plans.models import Sitting
from exam_server.sittings import service as sittings
from exam_server.sittings import signals
from exam_server.sittings.engine import AttemptState
from exam_server.sittings.models import Attempt
from tests.console.conftest import START, Console, post
from tests.factories import id_number_for, ticket_for


def candidate_login(console: Console, n: int, seat: str, terminal: str = "T") -> int:
    with console.db.write() as db:
        result = sittings.login(
            db,
            console.clock.now(),
            ticket=ticket_for(n),
            id_number=id_number_for(n),
            terminal_id=f"{terminal}{n}",
            seat_label=seat,
        )
        return result.attempt.id


def attempt(console: Console, attempt_id: int) -> Attempt:
    with console.db.read() as db:
        a = db.get(Attempt, attempt_id)
        assert a is not None
        db.expunge(a)
        return a


def api(client, console: Console, attempt_key: str, action: str, body: dict) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    resp = post(client, f"/console/api/attempts/{console.ids[attempt_key]}/{action}", body)
    return resp.status_code, resp.get_json()


def test_check_in_compares_the_photo_and_a_mismatch_needs_a_note(console: Console) -> None:
    inv1 = console.login("inv1")
    assert api(inv1, console, "attempt1", "checkin", {"photo_matches": True}) == (200, {"ok": True})
    status, body = api(inv1, console, "attempt2", "checkin", {"photo_matches": False})
    assert status == 400 and body["code"] == "reason_required" and "原因" in body["message"]
    status, _ = api(
        inv1,
        console,
        "attempt2",
        "checkin",
        {"photo_matches": False, "note": "发型不同，核对身份证后确认本人"},
    )
    assert status == 200
    with console.db.read() as db:
        rows = {c.attempt_id: c for c in db.scalars(select(CheckIn))}
        assert (
            rows[console.ids["attempt1"]].photo_matches
            and rows[console.ids["attempt1"]].by == "inv1"
        )
        assert not rows[console.ids["attempt2"]].photo_matches
        kinds = [e.kind for e in db.scalars(select(Event).where(Event.actor == "inv1"))]
        assert "attempt.checked_in" in kinds and "attempt.photo_mismatch" in kinds


def test_late_admission_only_before_start_plus_30_minutes(console: Console) -> None:
    inv1 = console.login("inv1")
    console.clock.set(START + timedelta(minutes=29))
    status, body = api(inv1, console, "attempt3", "admit", {"reason": "交通延误"})
    assert status == 200, body
    assert attempt(console, console.ids["attempt3"]).admitted_late
    console.clock.set(START + timedelta(minutes=31))
    status, body = api(inv1, console, "attempt4", "admit", {"reason": "交通延误"})
    assert status == 409 and body["code"] == "late_entry_closed"
    assert "开考已超过规定时间" in body["message"]
    assert not attempt(console, console.ids["attempt4"]).admitted_late
    # The one admitted in time may still log in now, after the window closed.
    candidate_login(console, 3, "01-03")
    assert attempt(console, console.ids["attempt3"]).state is AttemptState.IN_PROGRESS


def test_absent_void_extra_time_and_force_submit(console: Console) -> None:
    inv1 = console.login("inv1")
    console.clock.set(START - timedelta(minutes=5))
    candidate_login(console, 1, "01-01")
    status, body = api(inv1, console, "attempt1", "absent", {})
    assert status == 409 and body["code"] == "candidate_present"
    assert api(inv1, console, "attempt2", "absent", {})[0] == 200
    assert attempt(console, console.ids["attempt2"]).state is AttemptState.ABSENT
    # absent, then the candidate turns up within the window: re-admitted
    assert api(inv1, console, "attempt2", "admit", {"reason": "误记缺考"})[0] == 200
    assert attempt(console, console.ids["attempt2"]).state is AttemptState.WAITING

    console.clock.set(START + timedelta(minutes=10))
    with console.db.write() as db:  # the scheduler's sweep at the start
        sittings.sweep(db, console.ids["sitting"], console.clock.now())
    candidate_login(console, 5, "01-05")
    status, body = api(inv1, console, "attempt1", "extra", {"minutes": 5, "reason": ""})
    assert status == 400 and body["code"] == "reason_required"
    status, body = api(inv1, console, "attempt1", "extra", {"minutes": 0, "reason": "死机"})
    assert status == 400 and body["code"] == "bad_extra_time"
    status, body = api(inv1, console, "attempt1", "extra", {"minutes": "abc", "reason": "死机"})
    assert status == 400 and body["code"] == "bad_extra_time"
    status, body = api(inv1, console, "attempt1", "extra", {"minutes": 5, "reason": "终端死机重启"})
    assert status == 200 and body["deadline"].startswith("2026-06-01T02:35")
    assert attempt(console, console.ids["attempt1"]).extra_time_s == 300

    status, body = api(inv1, console, "attempt5", "void", {"reason": ""})
    assert status == 400
    status, _ = api(inv1, console, "attempt5", "void", {"reason": "携带手机作答"})
    assert status == 200 and attempt(console, console.ids["attempt5"]).state is AttemptState.VOIDED
    status, body = api(inv1, console, "attempt5", "submit", {"reason": "x"})
    assert status == 409 and body["code"] == "attempt_voided"

    status, body = api(
        inv1, console, "attempt1", "submit", {"reason": "考生身体不适，要求提前离场"}
    )
    assert status == 200 and body["receipt"]
    a1 = attempt(console, console.ids["attempt1"])
    assert a1.state is AttemptState.SUBMITTED and a1.submitted_by == "inv1"
    status, body = api(inv1, console, "attempt1", "extra", {"minutes": 5, "reason": "x"})
    assert status == 409 and body["code"] == "attempt_submitted"
    status, body = api(inv1, console, "attempt4", "submit", {"reason": "x"})
    assert status == 409  # never logged in: nothing to submit
    status, body = api(inv1, console, "attempt1", "fly", {})
    assert status == 404 and body["code"] == "unknown_action"
    with console.db.read() as db:
        assert verify_chain(db).ok
        voided = db.scalar(select(Event).where(Event.kind == "attempt.voided"))
        assert voided is not None and voided.actor == "inv1" and voided.reason == "携带手机作答"


def test_room_and_centre_pauses_by_role(console: Console) -> None:
    ids = console.ids
    inv1, chief = console.login("inv1"), console.login("chief")
    console.clock.set(START - timedelta(minutes=1))
    candidate_login(console, 1, "01-01")
    candidate_login(console, 6, "02-01")
    console.clock.set(START + timedelta(minutes=5))
    with console.db.write() as db:
        sittings.sweep(db, ids["sitting"], console.clock.now())
    room = f"/console/api/sittings/{ids['sitting']}/rooms/{ids['room1']}"
    assert post(inv1, f"{room}/pause", {}).get_json()["code"] == "reason_required"
    assert post(inv1, f"{room}/pause", {"reason": "本考场停电"}).get_json()["ok"]
    assert post(inv1, f"{room}/pause", {"reason": "again"}).get_json()["code"] == "already_paused"
    assert attempt(console, ids["attempt1"]).state is AttemptState.PAUSED
    assert attempt(console, ids["attempt6"]).state is AttemptState.IN_PROGRESS
    console.clock.advance(timedelta(minutes=4))
    assert post(inv1, f"{room}/resume", {}).get_json()["ok"]
    assert post(inv1, f"{room}/resume", {}).get_json()["code"] == "not_paused"
    assert attempt(console, ids["attempt1"]).state is AttemptState.IN_PROGRESS
    centre = f"/console/api/sittings/{ids['sitting']}"
    assert post(inv1, f"{centre}/pause", {"reason": "x"}).status_code == 403
    assert post(chief, f"{centre}/pause", {"reason": "全考点停电"}).get_json()["ok"]
    assert attempt(console, ids["attempt6"]).state is AttemptState.PAUSED
    overview = chief.get(f"{centre}/overview").get_json()
    assert (
        overview["sitting"]["centre_paused"]
        and overview["sitting"]["centre_pause_reason"] == "全考点停电"
    )
    assert post(chief, f"{centre}/resume", {}).get_json()["ok"]
    snap = inv1.get(room).get_json()
    a1 = next(t for t in snap["tiles"] if t["attempt_id"] == ids["attempt1"])
    assert a1["state"] == "answering"
    # credited: 4 min room pause + the centre pause (0 s on the manual clock)
    assert a1["deadline"].startswith("2026-06-01T02:34")


def test_the_hub_pushes_tiles_and_proposes_lost_time(console: Console) -> None:
    ids = console.ids
    hub = console.app.extensions["console_hub"]
    inv1 = console.login("inv1")
    sock = socketio.test_client(console.app, namespace="/proctor", flask_test_client=inv1)
    snap = sock.emit(
        "join",
        {"sitting_id": ids["sitting"], "room_id": ids["room1"]},
        namespace="/proctor",
        callback=True,
    )
    assert {t["state"] for t in snap["tiles"]} == {"not_arrived"}
    console.clock.set(START + timedelta(minutes=2))
    a1 = candidate_login(console, 1, "01-01")
    now = console.clock.now()
    with console.app.app_context():
        signals.terminal_hello.send(
            "candidate", sid="s1", terminal_id="T1", seat="01-01", clock_offset_s=95.0, at=now
        )
        signals.candidate_logged_in.send(
            "candidate",
            sid="s1",
            attempt_id=a1,
            sitting_id=ids["sitting"],
            room_id=ids["room1"],
            terminal_id="T1",
            seat="01-01",
            first=True,
            at=now,
        )
    hub.drain()
    got = sock.get_received("/proctor")
    tiles_push = [m for m in got if m["name"] == "tiles"]
    presence = [m for m in got if m["name"] == "presence"]
    assert tiles_push and tiles_push[-1]["args"][0]["tiles"][0]["state"] == "answering"
    assert presence[-1]["args"][0]["seats"]["01-01"]["clock_offset_s"] == 95.0
    # The terminal drops for 3 min 20 s, then the candidate logs in again.
    with console.app.app_context():
        signals.terminal_disconnected.send(
            "candidate",
            sid="s1",
            terminal_id="T1",
            seat="01-01",
            attempt_id=a1,
            at=console.clock.now(),
        )
    hub.drain()
    console.clock.advance(timedelta(minutes=3, seconds=20))
    candidate_login(console, 1, "01-01")
    with console.app.app_context():
        signals.terminal_hello.send(
            "candidate",
            sid="s2",
            terminal_id="T1",
            seat="01-01",
            clock_offset_s=0.0,
            at=console.clock.now(),
        )
        signals.candidate_logged_in.send(
            "candidate",
            sid="s2",
            attempt_id=a1,
            sitting_id=ids["sitting"],
            room_id=ids["room1"],
            terminal_id="T1",
            seat="01-01",
            first=False,
            at=console.clock.now(),
        )
    hub.drain()
    with console.db.read() as db:
        gap = db.scalar(select(TerminalGap).where(TerminalGap.attempt_id == a1))
        assert gap is not None and gap.status is GapStatus.PROPOSED
        assert gap.lost_s == 200 and gap.proposed_s == 240  # rounded up to whole minutes
        gap_id = gap.id
    tile = [m for m in sock.get_received("/proctor") if m["name"] == "tiles"][-1]["args"][0][
        "tiles"
    ][0]
    assert tile["gaps"][0]["proposed_s"] == 240
    assert hub.seats["01-01"].reconnects == 1
    # one click: accept (here adjusted to 3 minutes)
    resp = post(inv1, f"/console/api/gaps/{gap_id}/accept", {"minutes": 3})
    assert resp.get_json() == {"ok": True, "credited_s": 180}
    assert attempt(console, a1).extra_time_s == 180
    assert post(inv1, f"/console/api/gaps/{gap_id}/dismiss", {}).get_json()["code"] == "gap_decided"


def test_the_room_record_is_filled_from_the_log(console: Console, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ids = console.ids
    inv1 = console.login("inv1")
    console.clock.set(START + timedelta(minutes=1))
    candidate_login(console, 1, "01-01")
    for key, action, body in (
        ("attempt2", "absent", {"reason": "未到场"}),
        ("attempt1", "extra", {"minutes": 6, "reason": "终端死机"}),
        ("attempt1", "void", {"reason": "夹带资料"}),
    ):
        status, reply = api(inv1, console, key, action, body)
        assert status == 200 and reply["ok"], (action, status, reply)
    resp = inv1.get(f"/console/sittings/{ids['sitting']}/rooms/{ids['room1']}/record.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    pdf = tmp_path / "record.pdf"
    pdf.write_bytes(resp.data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    for expected in ("考场情况记录", "考生2", "夹带资料", "终端死机", "inv1老师"):
        assert expected in text, expected


def _record_text(console: Console, client, tmp_path, lang: str = "zh_CN") -> str:  # type: ignore[no-untyped-def]
    ids = console.ids
    path = f"/console/sittings/{ids['sitting']}/rooms/{ids['room1']}/record.pdf"
    resp = client.get(path + ("?lang=en" if lang == "en" else ""))
    assert resp.status_code == 200
    pdf = tmp_path / f"record-{lang}.pdf"
    pdf.write_bytes(resp.data)
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_a_blank_record_is_blank_and_a_chinese_record_is_chinese(
    console: Console, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """The issue's faults: a record printed before the sitting said "26 / 0" present and
    absent (nobody can be absent yet), and the server's absences printed their English half
    and "（server）" inside the Chinese record."""
    inv1 = console.login("inv1")
    console.clock.set(START - timedelta(minutes=10))
    blank = _record_text(console, inv1, tmp_path)
    assert "____ / ____" in blank and " / 0" not in blank
    console.clock.set(START + timedelta(minutes=31))  # late entry closed: absences are final
    with console.db.write() as session:
        sittings.sweep(session, console.ids["sitting"], console.clock.now())
    text = _record_text(console, inv1, tmp_path)
    assert "____ / ____" not in text and "后未登录" in text
    assert "服务器自动记录" in text
    for english in ("not logged in", "server", "late entry"):
        assert english not in text, english


#: Chinese characters and the full-width punctuation a Chinese record uses
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def test_an_english_room_record_is_wholly_english(console: Console, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The issue found "（server）" and English inside the Chinese record; the English
    record must likewise hold no Chinese word but the names the centre registered
    (candidates, centre, room, subject, plan, invigilators): the server's absences, its
    notes, pauses and its signature all in English."""
    ids = console.ids
    inv1 = console.login("inv1")
    inv1.get("/console/lang/en")
    console.clock.set(START + timedelta(minutes=1))
    candidate_login(console, 1, "01-01")
    room = f"/console/api/sittings/{ids['sitting']}/rooms/{ids['room1']}"
    for path, body in (
        (f"/console/api/attempts/{ids['attempt1']}/extra", {"minutes": 6, "reason": "frozen"}),
        (f"/console/api/attempts/{ids['attempt3']}/admit", {"reason": "bus late"}),
        (f"{room}/pause", {"reason": "power cut"}),
        (f"{room}/resume", {}),
        (f"{room}/broadcast", {"text": "Ten minutes left"}),
    ):
        reply = post(inv1, path, body).get_json()
        assert reply["ok"], (path, reply)
    console.clock.set(START + timedelta(minutes=31))  # late entry closed: the server's absences
    with console.db.write() as session:
        sittings.sweep(session, ids["sitting"], console.clock.now())
    text = _record_text(console, inv1, tmp_path, "en")
    for english in ("Room Record", "1. Absent candidates", "frozen", "power cut", "server"):
        assert english in text, (english, text)
    assert "Ten minutes left" in text and "bus late" in text, text
    names = _registered_names(console)
    left = text
    for name in sorted(names, key=len, reverse=True):
        left = left.replace(name, "")
    assert not CJK.findall(left), (sorted(set(CJK.findall(left))), text)
    assert "（server）" not in text and "服务器" not in text, text


def _registered_names(console: Console) -> set[str]:
    """What the centre registered in its own words: names of candidates, the centre, its
    rooms, the sitting's subject and plan, and the console's users."""
    with console.db.read() as db:
        sitting = db.get(Sitting, console.ids["sitting"])
        assert sitting is not None
        names = {sitting.subject, sitting.plan.name}
        names |= set(db.scalars(select(Candidate.name)))
        names |= set(db.scalars(select(Centre.name))) | set(db.scalars(select(Room.name)))
        names |= set(db.scalars(select(User.display_name)))
    return {n for n in names if n}
