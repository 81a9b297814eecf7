"""The console's small faults the issue found, each in real Chromium against a real server:
a 404 logged on every page, a glyph no installed font has (⏳ showed as a box on the
chief's overview), and actions that gave no visible confirmation."""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from exam_server.accounts import service as accounts
from exam_server.accounts.models import Role
from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.sync import service as sync
from tests.conftest import require
from tests.console.test_console_browser import ARGS, CHROMIUM, ROOT
from tests.factories import CENTRAL_PUBLIC_PEM, id_number_for, make_world, ticket_for
from tests.live import LiveServer, Terminal

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "correct horse 42"


@functools.cache
def has_glyph(char: str) -> bool:
    """Some installed font has ``char`` (what Chromium falls back to; none: a box)."""
    out = subprocess.run(
        ["fc-list", f":charset={ord(char):x}", "family"], capture_output=True, text=True
    ).stdout
    return bool(out.strip())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, int]]]:
    require(Path(CHROMIUM).exists(), "Chromium", "apt-get install chromium fonts-wqy-microhei")
    require(
        (ROOT / "node_modules" / "socket.io-client").exists(),
        "socket.io-client from npm",
        "run `npm install` in the project folder (make does it)",
    )
    require(
        subprocess.run(["which", "fc-list"], capture_output=True).returncode == 0,
        "fc-list",
        "apt-get install fontconfig",
    )
    tmp = tmp_path_factory.mktemp("console-faults")
    db = Database(f"sqlite:///{tmp / 'centre.db'}")
    upgrade(db)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=20)
    with db.write() as session:
        world = make_world(session, start=start, candidates=3, rules_s=(1800, 1800, 1800))
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
        # The chief's overview shows backups and sync only once the link is set up.
        sync.setup(
            session, start, centre="001", url="", central_public_key=CENTRAL_PUBLIC_PEM.encode()
        )
        sitting = world.sittings[0]
        accounts.assign_room(session, start, users["inv1"], world.rooms[0], sitting.id, by="test")
        ids = {
            "sitting": sitting.id,
            "room": world.rooms[0].id,
            "seats": [world.attempt(i).seat.number for i in range(3)],
            "labels": [world.attempt(i).seat.label for i in range(3)],
        }
    db.dispose()
    live = LiveServer(f"sqlite:///{tmp / 'centre.db'}", tmp / "data").start()
    try:
        yield live, ids
    finally:
        live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def log_in(browser: Any, url: str, username: str) -> tuple[Any, list[str]]:
    page = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN").new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: failed.append(m.text) if m.type == "error" else None)
    page.goto(f"{url}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/console/")
    return page, failed


def test_no_console_page_logs_an_error_or_shows_a_missing_glyph(server, browser) -> None:  # type: ignore[no-untyped-def]
    live, ids = server
    for username, paths in (
        ("chief", ["/console/", f"/console/sittings/{ids['sitting']}", "/console/terminals"]),
        ("inv1", ["/console/", f"/console/sittings/{ids['sitting']}/rooms/{ids['room']}"]),
    ):
        page, failed = log_in(browser, live.url, username)
        for path in paths:
            page.goto(live.url + path)
            page.wait_for_load_state("networkidle")
            text = page.inner_text("body")
            missing = sorted({c for c in text if ord(c) > 0x7F and not has_glyph(c)})
            assert not missing, f"{path}: no installed font has {missing}"
            if "/rooms/" not in path and path.count("/") == 3:  # the chief's overview
                assert "备份" in text and "待上传" in text, text
        assert not failed, failed  # e.g. "404 .../favicon.ico" on every page
        page.context.close()


def done(page: Any, fields: dict[str, str] | None = None) -> str:
    """Fill the open dialog, confirm, and return the confirmation line it leaves: the
    dialog must close and 已完成：… must show (an action without one fails here)."""
    for name, value in (fields or {}).items():
        page.fill(f"#dialog [name={name}]", value)
    page.evaluate("() => { const n = document.getElementById('notice'); if (n) n.remove(); }")
    page.click("#dialog-ok")
    page.wait_for_function(
        "!document.querySelector('#dialog').open"
        " || document.querySelector('#dialog-error').textContent.trim() !== ''",
        timeout=5000,
    )
    assert not page.locator("#dialog").evaluate("d => d.open"), page.inner_text("#dialog-error")
    page.wait_for_selector("#notice:not([hidden])", timeout=5000)
    return page.inner_text("#notice")


def on_seat(page: Any, seat: int, action: str, fields: dict[str, str] | None = None) -> str:
    page.locator(f"#seat-{seat}").click()
    page.click(f"#panel button[data-action={action}]:not([disabled])")
    return done(page, fields)


def test_every_action_says_it_was_done(server, browser) -> None:  # type: ignore[no-untyped-def]
    """Each console action that changes something leaves a line saying what was done
    (the issue: violation and extra time gave no visible sign), on the room page, the
    chief's overview and the terminals page."""
    live, ids = server
    seats = ids["seats"]
    # The second candidate's terminal logs in (entry opens 30 min before the start).
    term = Terminal(live.url, terminal_id="T-2", seat=ids["labels"][1])
    try:
        assert term.hello()["ok"]
        assert term.login(ticket_for(2), id_number_for(2))["ok"]
        page, failed = log_in(browser, live.url, "inv1")
        page.goto(f"{live.url}/console/sittings/{ids['sitting']}/rooms/{ids['room']}")
        page.wait_for_function(
            f"document.querySelector('#seat-{seats[1]}')?.dataset.state === 'logged_in'",
            timeout=10_000,
        )
        said = [
            ("违纪处理（成绩作废）", on_seat(page, seats[0], "void", {"reason": "携带手机"})),
            ("延长时间", on_seat(page, seats[1], "extra", {"minutes": "5", "reason": "终端死机"})),
            ("授权换座/重新登录", on_seat(page, seats[1], "relogin", {"reason": "显示器故障"})),
            ("核验签到", on_seat(page, seats[2], "checkin")),
        ]
        page.click("#broadcast")
        said.append(("发送通知", done(page, {"text": "请检查准考证号"})))
        page.click("#pause")
        said.append(("暂停本考场", done(page, {"reason": "停电"})))
        page.wait_for_function("document.querySelector('#pause').textContent === '恢复本考场'")
        page.click("#pause")
        said.append(("恢复本考场", done(page)))
        assert not failed, failed
        page.context.close()

        chief, failed = log_in(browser, live.url, "chief")
        chief.goto(f"{live.url}/console/sittings/{ids['sitting']}")
        chief.wait_for_selector("#rooms tr[data-room]")
        chief.click("#broadcast")
        said.append(("发送通知", done(chief, {"text": "考试即将开始"})))
        chief.click("#pause")
        said.append(("暂停全考点", done(chief, {"reason": "全楼停电"})))
        chief.wait_for_function("document.querySelector('#pause').textContent === '恢复全考点'")
        chief.click("#pause")
        said.append(("恢复全考点", done(chief)))
        chief.goto(f"{live.url}/console/terminals")
        chief.click(f"tr[data-seat='{ids['labels'][2]}'] button[data-code]")
        chief.wait_for_selector("#enrol-code")
        said.append(("生成绑定码", done(chief)))
        assert not failed, failed
        chief.context.close()
    finally:
        term.sio.disconnect()
    assert len(said) == 11
    for label, notice in said:
        assert notice.startswith("已完成：") and label in notice, (label, notice)
