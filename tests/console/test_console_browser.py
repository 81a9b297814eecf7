"""The console in real Chromium against a real server with a room of terminals.

A room of 28 seats: 20 candidates are driven by ``exam-client simulate`` (the real
terminal agent, headless: they log in, answer at a pace and submit), four by bare
protocol clients from :mod:`tests.live` so the test controls exactly when one logs in,
saves, drops off and submits. The sitting's windows are seconds long (late entry 12 s,
submission from 5 s), standing in for the notices' 30 minutes: "admit at start + 31 min"
becomes "admit after start + 12 s". Alerts are configured shorter too (amber 12 s, red
14 s; the agent heartbeats every 10 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from exam_common import protocol as p
from exam_server.accounts import service as accounts
from exam_server.accounts.models import Role
from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.terminals import service as terminals
from exam_server.terminals.cli import codes_document
from exam_server.tls import tls_files
from tests.conftest import png, require
from tests.factories import id_number_for, make_world, ticket_for
from tests.live import LiveServer, Terminal

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse 42"
NAMES = [
    "王伟",
    "李芳",
    "张娜",
    "刘敏",
    "陈静",
    "杨丽",
    "黄强",
    "赵磊",
    "吴军",
    "周洋",
    "徐勇",
    "孙艳",
    "马杰",
    "朱娟",
    "胡涛",
    "郭明",
    "何超",
    "高秀英",
    "林霞",
    "罗平",
    "梁刚",
    "宋桂英",
    "郑建华",
    "谢玉兰",
    "韩志强",
    "唐海燕",
    "冯晓东",
    "于春梅",
    "董立新",
    "萧雅",
]
ROOT = Path(__file__).resolve().parents[2]


def photo(i: int) -> bytes:
    import io

    img = Image.new("RGB", (90, 120), (220, 228, 240))
    d = ImageDraw.Draw(img)
    shade = (60 + 7 * i % 120, 80, 120)
    d.ellipse((25, 18, 65, 62), fill=shade)
    d.rounded_rectangle((12, 66, 78, 120), radius=18, fill=shade)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@dataclass
class Live:
    server: LiveServer
    start: datetime
    ids: dict[str, Any]
    roster: Path
    tmp: Path

    def at(self, seconds: float) -> None:
        """Sleep until start + ``seconds`` (real time: a real server keeps real time)."""
        delay = (self.start + timedelta(seconds=seconds) - datetime.now(UTC)).total_seconds()
        if delay > 0:
            time.sleep(delay)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    require(
        Path(CHROMIUM).exists(),
        "Chromium at /usr/bin/chromium",
        "apt-get install chromium fonts-wqy-microhei",
    )
    require(
        (ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js").exists(),
        "socket.io-client from npm",
        "run `npm install` in the project folder (make does it)",
    )
    tmp = tmp_path_factory.mktemp("console-browser")
    db = Database(f"sqlite:///{tmp / 'centre.db'}")
    upgrade(db)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=22)
    with db.write() as session:
        world = make_world(
            session,
            start=start,
            duration=timedelta(seconds=150),
            candidates=30,
            rooms=2,
            rows=5,
            cols=6,
            spare=2,
            rules_s=(120, 12, 5),
        )
        for i, cand in enumerate(world.candidates):
            cand.name = NAMES[i % len(NAMES)]
            cand.photo = photo(i)
        users = {
            name: accounts.create_user(
                session,
                start,
                username=name,
                display_name=display,
                role=role,
                password=PASSWORD,
                by="test",
            )
            for name, display, role in (
                ("inv1", "李老师", Role.INVIGILATOR),
                ("chief", "王主考", Role.CHIEF),
            )
        }
        sitting = world.sittings[0]
        accounts.assign_room(session, start, users["inv1"], world.rooms[0], sitting.id, by="test")
        ids = {
            "sitting": sitting.id,
            "room1": world.rooms[0].id,
            "room2": world.rooms[1].id,
            "attempts": {i + 1: world.attempt(i).id for i in range(30)},
            "seats": {i + 1: world.attempt(i).seat.label for i in range(30)},
        }
    db.dispose()
    roster = tmp / "roster.json"
    roster.write_text(
        json.dumps(
            [
                {"ticket": ticket_for(n), "id_number": id_number_for(n), "seat": ids["seats"][n]}
                for n in range(1, 21)
            ]
        )
    )
    # The simulated room enrols its terminals with the admin's bulk codes.
    with db.write() as session:
        issued = terminals.issue_codes(
            session,
            start,
            terminals.seats_for(session, labels=[ids["seats"][n] for n in range(1, 21)]),
            by="tests",
            valid=timedelta(hours=1),
        )
    db.dispose()
    # TLS, as on the day: the browser reaches the console over https and wss.
    server = LiveServer(
        f"sqlite:///{tmp / 'centre.db'}",
        tmp / "data",
        tls=True,
        extra_env={
            "EXAM_CONSOLE_AMBER_S": "12",
            "EXAM_CONSOLE_RED_S": "14",
            "EXAM_CONSOLE_LOST_TIME_MIN_S": "1",
            "EXAM_CONSOLE_NOT_ARRIVED_S": "6",
        },
    ).start()
    codes = tmp / "codes.json"
    codes.write_text(json.dumps(codes_document(issued, tls_files(tmp / "data").fingerprint())))
    try:
        yield Live(server, start, ids, roster, tmp)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(live: Live) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def log_in(browser: Any, live: Live, username: str) -> Any:
    # The invigilators' browsers trust the centre's CA (docs/operations.md); Playwright
    # cannot add a CA to Debian's Chromium, so the test accepts the centre's certificate.
    context = browser.new_context(
        viewport={"width": 1500, "height": 1000}, locale="zh-CN", ignore_https_errors=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(f"{live.server.url}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.server.url}/console/")
    return page


def tile(page: Any, seat: int) -> Any:
    return page.locator(f"#seat-{seat}")


def shows(page: Any, js: str, arg: Any = None) -> None:
    """Wait until the page shows it, pushed by the server (the page never reloads). How
    fast a change reaches the map is a figure for bench/bench_console_refresh.py, not a
    threshold here: a loaded test machine must not fail a correct page."""
    page.wait_for_function(js, arg=arg, timeout=10_000)


def state_is(seat: int, state: str) -> str:
    return f"document.querySelector('#seat-{seat}')?.dataset.state === '{state}'"


def act(page: Any, seat: int, action: str, fields: dict[str, str] | None = None) -> str:
    """Click the tile, the action, fill the dialog, confirm; returns the dialog's error."""
    tile(page, seat).click()
    page.click(f"#panel button[data-action={action}]")
    for name, value in (fields or {}).items():
        page.fill(f"#dialog [name={name}]", value)
    page.click("#dialog-ok")
    # the dialog closes when the server took the action, or stays with the refusal
    page.wait_for_function(
        "!document.querySelector('#dialog').open"
        " || document.querySelector('#dialog-error').textContent.trim() !== ''",
        timeout=5000,
    )
    if page.locator("#dialog").evaluate("d => d.open"):
        error = page.locator("#dialog-error").inner_text()
        page.click("#dialog-cancel")
        return error
    return ""


def test_the_room_map_is_live_and_every_action_works_or_is_refused(
    live: Live, browser: Any, shots: Path
) -> None:
    ids = live.ids
    page = log_in(browser, live, "inv1")
    page.goto(f"{live.server.url}/console/sittings/{ids['sitting']}/rooms/{ids['room1']}")
    page.wait_for_selector("#seat-28[data-state=not_arrived]")
    page.wait_for_selector("#live.on")
    assert page.locator(".tile[data-state=not_arrived]").count() == 28
    assert page.locator("[data-count=expected] b").inner_text() == "28"

    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exam_client.cli",
            "simulate",
            "--server",
            live.server.url,
            "--roster",
            str(live.roster),
            "--enrol-codes",
            str(live.tmp / "codes.json"),
            "--pace",
            "2.5",
            "--submit",
            "--duration",
            # until start + 18 s, when this test is done with the room
            str((live.start - datetime.now(UTC)).total_seconds() + 18),
            "--drain",
            "5",
            "--report",
            str(live.tmp / "sim.json"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(live.tmp / "sim.log", "wb"),  # noqa: SIM115
        env={**os.environ},
    )
    terminals: list[Terminal] = []
    try:
        # A login reaches the map.
        a = Terminal(live.server.url, terminal_id="T-23", seat=ids["seats"][23])
        b = Terminal(live.server.url, terminal_id="T-24", seat=ids["seats"][24])
        terminals += [a, b]
        a.hello(), b.hello()
        la = a.login(ticket_for(23), id_number_for(23))
        assert la["ok"], la
        shows(page, state_is(23, "logged_in"))
        assert b.login(ticket_for(24), id_number_for(24))["ok"]
        shows(page, state_is(24, "logged_in"))
        # the simulated room logs in too
        page.wait_for_function(
            "document.querySelectorAll('.tile[data-state=logged_in]').length >= 22", timeout=15000
        )

        # Progress: a save shows.
        live.at(0.6)
        saved = a.save(la["attempt_id"], 1, "Q001", ["A"])
        assert saved["ok"], (saved, live.server.log()[-3000:])
        shows(page, "document.querySelector('#seat-23')?.dataset.answered === '1'")
        # A terminal whose changes the server keeps refusing reports it in its heartbeat:
        # the seat turns red with the reason, and back when it is reported over.
        stall = {"count": 2, "since_s": 75.0, "code": "server_error"}
        beat = {"attempt_id": la["attempt_id"], "answered": 1}
        assert a.call("heartbeat", beat | {"stalled": stall})["ok"]
        shows(page, "document.querySelector('#seat-23')?.dataset.alert === 'red'")
        assert "stall" in (tile(page, 23).get_attribute("data-flags") or "")
        assert "2 条答案 1 分钟未能存入服务器：服务器故障" in tile(page, 23).inner_text()
        # Saves that get no reply at all (a lossy link that still shows as connected).
        assert a.call("heartbeat", beat | {"stalled": stall | {"code": "no_reply"}})["ok"]
        shows(page, "document.querySelector('#seat-23')?.innerText.includes('服务器无回复')")
        assert tile(page, 23).get_attribute("data-alert") == "red"
        assert a.call("heartbeat", beat)["ok"]
        shows(page, "document.querySelector('#seat-23')?.dataset.alert === ''")
        # A disconnect shows (the tile says 断线 and turns amber).
        b.close()
        # (amber at once; red if it was already silent past 14 s: this bare client sends
        # no heartbeats, unlike the real agent)
        shows(page, "document.querySelector('#seat-24')?.innerText.includes('断线')")
        assert tile(page, 24).get_attribute("data-alert") in ("amber", "red")
        assert "断线" in tile(page, 24).inner_text()

        # Actions through the page: check-in, absent, extra time, violation.
        assert act(page, 27, "checkin", {}) == ""
        shows(page, "document.querySelector('#seat-27')?.dataset.flags.includes('checkin')")
        assert act(page, 28, "absent", {"reason": "未到场"}) == ""
        shows(page, state_is(28, "absent"))
        assert act(page, 3, "extra", {"minutes": "5", "reason": "终端死机重启"}) == ""
        shows(page, "document.querySelector('#seat-3')?.dataset.flags.includes('extra')")
        assert act(page, 4, "void", {"reason": "携带手机"}) == ""
        shows(page, state_is(4, "voided"))
        # Refused by the rules: a reason is required (checked before sending too).
        assert "原因" in act(page, 5, "void", {"reason": ""})

        # The candidate submits (allowed from start + 5 s): submitted.
        live.at(5.5)
        sub = a.submit(la["attempt_id"], 1)
        assert sub["ok"], sub
        shows(page, state_is(23, "submitted"))

        # Back after ~7 s away: the server proposes the lost time; one click credits it.
        live.at(8)
        b = Terminal(live.server.url, terminal_id="T-24", seat=ids["seats"][24])
        terminals.append(b)
        b.hello()
        assert b.login(ticket_for(24), id_number_for(24))["ok"]
        page.wait_for_selector("#seat-24 .gap", timeout=2000)
        tile(page, 24).click()
        page.click("#panel button[data-decision=accept]")
        page.click("#dialog-ok")
        shows(page, "document.querySelector('#seat-24')?.dataset.flags.includes('extra')")

        # Not logged in well after the start (here 6 s; 15 min in real sittings): highlighted.
        page.wait_for_selector("#seat-25.late", timeout=2000)
        assert "开考后仍未登录" in tile(page, 25).inner_text()

        # Broadcast reaches the room's screens.
        page.click("#broadcast")
        page.fill("#dialog [name=text]", "请考生注意：距离考试结束还有 2 分钟")
        page.click("#dialog-ok")
        push = p.parse(p.Broadcast, b.wait_push("broadcast", timeout=3))
        assert push.text.startswith("请考生注意") and push.sender == "监考"
        # The console's own banner and notice do not bring the broadcast back on a reload
        # (the issue: "the broadcast banner returns on every reload").
        page.reload()
        page.wait_for_selector("#seat-24")
        page.wait_for_timeout(1500)
        assert "请考生注意" not in page.inner_text("body")
        assert page.is_hidden("#banner") or "请考生注意" not in page.inner_text("#banner")

        # Admitting a late candidate after the late-entry window (start + 12 s here,
        # 30 min in the notices) is refused, with the rule's words.
        live.at(12.5)
        error = act(page, 26, "admit", {"reason": "交通堵塞"})
        assert "开考已超过规定时间" in error

        # An invigilator acting on another room is refused by the server.
        other = ids["attempts"][29]
        reply = page.evaluate(
            "(id) => post(`/console/api/attempts/${id}/absent`, {reason: 'x'})", other
        )
        assert reply["code"] == "not_your_room"
        assert (
            page.request.get(
                f"{live.server.url}/console/sittings/{ids['sitting']}/rooms/{ids['room2']}"
            ).status
            == 403
        )

        # Silent past the red threshold: red, with the sound.
        page.click("#sound")
        b.close()
        page.wait_for_function(
            "document.querySelector('#seat-24')?.dataset.alert === 'red' && window.__beeps > 0",
            timeout=17000,
        )
        live.at(17)
        tile(page, 7).click()
        tile(page, 12).hover()
        page.wait_for_timeout(600)
        page.screenshot(path=str(shots / "console-room.png"), full_page=True)
        png(shots / "console-room.png")
        counts = {
            k: int(page.locator(f"[data-count={k}] b").inner_text())
            for k in ("expected", "present", "submitted", "absent", "voided")
        }
        assert counts["expected"] == 28 and counts["present"] >= 22
        # the one marked by hand, and those the server marked when late entry closed
        assert counts["absent"] == 6 and counts["voided"] == 1 and counts["submitted"] >= 1
        assert not page.errors  # type: ignore[attr-defined]
        # The simulated room ran its course: every terminal logged in, answered and had
        # every change acknowledged; the only refusals are the ones this test caused.
        assert sim.wait(60) == 0, (live.tmp / "sim.log").read_text()[-3000:]
        report = json.loads((live.tmp / "sim.json").read_text())
        assert report["logged_in"] == 20 and report["acknowledged"] > 20, report
        assert report["pending_at_end"] == 0 and not report["errors"], report
        assert set(report["refused"]) <= {"attempt_voided"}, report["refused"]
    finally:
        for t in terminals:
            t.close()
        if sim.poll() is None:
            sim.terminate()
            sim.wait(20)


def test_the_chief_sees_every_room_and_pauses_the_centre(
    live: Live, browser: Any, shots: Path
) -> None:
    ids = live.ids
    page = log_in(browser, live, "chief")
    page.goto(f"{live.server.url}/console/sittings/{ids['sitting']}")
    page.wait_for_selector(f"#rooms tr[data-room='{ids['room2']}']")
    # drawn (flat when nobody has answered yet: this test may run alone)
    page.wait_for_selector("#chart svg polyline.s-answered", state="attached")
    assert page.locator("#sync-none").inner_text() == "未配置"
    assert page.locator("#rooms [data-total=expected]").inner_text() == "30"
    watcher = Terminal(live.server.url, terminal_id="T-30", seat=ids["seats"][30])
    try:
        watcher.hello()
        live.at(12.5)  # late entry closed (whichever test ran first)
        late = watcher.login(ticket_for(30), id_number_for(30))
        assert late["code"] == "late_entry_closed", late
        page.click("#pause")
        page.fill("#dialog [name=reason]", "全考点停电")
        page.click("#dialog-ok")
        page.wait_for_selector("#banner:not([hidden])", timeout=3000)
        assert "全考点暂停中" in page.locator("#banner").inner_text()
        # the server stopped the centre's clock, not just the page's banner
        assert open_centre_pauses(live) == ["全考点停电"]
        page.wait_for_timeout(1200)  # the chart redraws every 15 s; give the counts a tick
        page.screenshot(path=str(shots / "console-centre.png"), full_page=True)
        png(shots / "console-centre.png")
        page.click("#pause")
        page.click("#dialog-ok")
        page.wait_for_function("document.querySelector('#banner').hidden", timeout=3000)
        assert open_centre_pauses(live) == []
    finally:
        watcher.close()


def open_centre_pauses(live: Live) -> list[str]:
    """The reasons of the centre-wide pauses the server holds open now."""
    from sqlalchemy import select

    from exam_server.plans.models import Pause

    db = Database(f"sqlite:///{live.tmp / 'centre.db'}")
    try:
        with db.read() as session:
            return list(
                session.scalars(
                    select(Pause.reason).where(Pause.room_id.is_(None), Pause.ended_at.is_(None))
                )
            )
    finally:
        db.dispose()


def test_a_login_lock_alerts_the_room_and_the_invigilator_unlocks_it(
    live: Live, browser: Any
) -> None:
    """Five wrong ID numbers for a ticket lock it: the room's map shows the lock at once
    (with a beep); the invigilator unlocks it with a reason; the terminals page makes a
    one-time enrolment code with the CA fingerprint."""
    ids = live.ids
    page = log_in(browser, live, "inv1")
    page.goto(f"{live.server.url}/console/sittings/{ids['sitting']}/rooms/{ids['room1']}")
    page.wait_for_selector("#seat-1[data-state]")
    assert page.locator("#locks").is_hidden()
    guesser = Terminal(live.server.url, terminal_id="T-27", seat=ids["seats"][27])
    try:
        guesser.hello()
        codes = [guesser.login(ticket_for(27), "41010119800101999X")["code"] for _ in range(5)]
        assert codes == ["bad_credentials"] * 4 + ["login_locked"]
        page.wait_for_selector("#locks:not([hidden]) button[data-unlock]", timeout=3000)
        assert ticket_for(27) in page.locator("#locks").inner_text()
        page.click("#locks button[data-unlock]")
        page.fill("#dialog [name=reason]", "核对身份证和照片，本人")
        page.click("#dialog-ok")
        page.wait_for_function("document.querySelector('#locks').hidden", timeout=3000)
        assert guesser.login(ticket_for(27), id_number_for(27))["code"] != "login_locked"
    finally:
        guesser.close()
    page.goto(f"{live.server.url}/console/terminals")
    row = page.locator(f"tr[data-seat='{ids['seats'][27]}']")
    assert "T-27" in row.inner_text()
    row.locator("button[data-code]").click()
    page.wait_for_selector("#enrol-code")
    assert len(page.locator("#enrol-code").inner_text().replace("-", "")) == 12
    assert tls_files(live.tmp / "data").fingerprint()[:9] in page.locator("#dialog").inner_text()
    assert not page.errors  # type: ignore[attr-defined]
