"""The chief examiner's and the centre admin's day, whole, through `make demo`'s own
command (``exam-server demo``) in real Chromium: a real central beside the centre, the
package pulled through exam-sync, a room of simulated terminals, the key released by
central at the start. The chief broadcasts to the centre, then during the sitting opens
room 001, grants a minute of extra time to a candidate and pauses and resumes the room
(each click confirmed on screen); at the end sees the results (20 submitted, 6 absent,
re-scored at central) and prints the room record holding all of it. The admin (the
demo's printed ``admin`` account) sees the link to central, package, keys, backups and
results read only, cannot open a room, and on the terminals page makes a one-time code
for a replacement PC and revokes the broken one's enrolment; `exam-sync status` and
`exam-central results` say the same. The demo's timing is compressed (``--tempo``):
the first sitting starts 90 s after the demo begins (setting up central and the centre
took over 60 s on a loaded 2-core machine, and the room then found late entry closed),
lasts 40 s, with 12 s windows."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import free_port, require
from tests.console.test_console_browser import ARGS, CHROMIUM, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "demo-2026-exam"  # the demo's printed accounts


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("EXAM_")}


class Demo:
    def __init__(self, tmp: Path) -> None:
        self.data = tmp / "data"
        self.port, self.central_port = free_port(), free_port()
        self.log = tmp / "demo.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Demo:
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "exam_server.cli", "demo", "--data-dir", str(self.data)]
                + ["--port", str(self.port), "--central-port", str(self.central_port)]
                + ["--tempo", "90,40,12"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=_env(),
                start_new_session=True,
            )
        # The demo builds central and the centre with a dozen commands: a minute on a busy
        # 2-core machine.
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.3)
        self.stop()  # the fixture's finally never sees a demo that did not start
        raise AssertionError(f"the demo did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)

    def first_sitting(self) -> tuple[int, int, str, str]:
        """(sitting id, room id, start, end) of the first sitting, from the centre's database."""
        with sqlite3.connect(self.data / "centre" / "centre.db") as db:
            sid, start, end = db.execute(
                'SELECT id, start, "end" FROM sitting ORDER BY start LIMIT 1'
            ).fetchone()
            (room,) = db.execute("SELECT id FROM room ORDER BY code LIMIT 1").fetchone()
        return sid, room, start, end


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    require(Path(CHROMIUM).exists(), "Chromium", "apt-get install chromium fonts-wqy-microhei")
    require(
        (ROOT / "node_modules" / "socket.io-client").exists(),
        "socket.io-client from npm",
        "run `npm install` in the project folder (make does it)",
    )
    d = Demo(tmp_path).start()
    try:
        yield d
    finally:
        d.stop()


def _log_in(browser: Any, url: str, username: str) -> tuple[Any, list[str]]:
    page = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN").new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{url}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/console/")
    return page, failed


FIRST = "DEMO-ZYDD-L4"  # the first sitting, 职业道德, the one the simulated room sits


def _line(page: Any, code: str = FIRST) -> str:
    """The overview's sync line of one sitting (the later sittings, with nobody in them,
    close and are re-checked on their own)."""
    lines = page.locator("#sync li").all_inner_texts()
    return next((line for line in lines if code in line), "")


def _until(page: Any, url: str, text: str, timeout: float, code: str | None = FIRST) -> str:
    """Reload ``url`` until the sync block (drawn by the server) says ``text`` on the
    line of sitting ``code`` (or anywhere: None); returns that line (or the block)."""
    deadline = time.monotonic() + timeout
    said = ""
    while time.monotonic() < deadline:
        page.goto(url)
        said = _line(page, code) if code else page.inner_text("#sync")
        if text in said:
            return said
        time.sleep(2)
    raise AssertionError(f"#sync never said {text!r} within {timeout}s; last:\n{said}")


def _confirm(page: Any, fields: dict[str, str] | None = None) -> str:
    """Fill the open dialog and confirm, as a person does; the dialog must close and leave
    its 已完成：… line, which is returned."""
    for name, value in (fields or {}).items():
        page.fill(f"#dialog [name={name}]", value)
    page.evaluate("() => { const n = document.getElementById('notice'); if (n) n.remove(); }")
    page.click("#dialog-ok")
    page.wait_for_function(
        "!document.querySelector('#dialog').open"
        " || document.querySelector('#dialog-error').textContent.trim() !== ''",
        timeout=10_000,
    )
    assert not page.locator("#dialog").evaluate("d => d.open"), page.inner_text("#dialog-error")
    page.wait_for_selector("#notice:not([hidden])", timeout=10_000)
    notice: str = page.inner_text("#notice")
    assert notice.startswith("已完成："), notice
    return notice


def _pdf_text(page: Any, url: str, tmp_path: Path) -> str:
    resp = page.request.get(url)
    assert resp.ok, resp.status
    pdf = tmp_path / "record.pdf"
    pdf.write_bytes(resp.body())
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


BROADCAST = "请核对屏幕上的姓名和准考证号"


def _chief_in_the_room(chief: Any, demo: Demo, sitting: int, room: int) -> None:
    """During the sitting the chief opens room 001 from the overview, grants a candidate
    whose terminal froze a minute, and pauses and resumes the room."""
    chief.click(f"#rooms tr[data-room='{room}'] a.button")
    chief.wait_for_url(f"{demo.url}/console/sittings/{sitting}/rooms/{room}")
    try:
        chief.wait_for_selector(".tile[data-state=answering]", timeout=30_000)
    except Exception as exc:
        states = chief.evaluate(
            "() => [...document.querySelectorAll('.tile')].map((t) => t.dataset.state)"
        )
        raise AssertionError(f"nobody answering in room 001: {states}") from exc
    seat = chief.locator(".tile[data-state=answering]").first.get_attribute("id")
    assert seat
    chief.click(f"#{seat}")
    chief.click("#panel button[data-action=extra]:not([disabled])")
    assert "延长时间" in _confirm(chief, {"minutes": "1", "reason": "终端死机，重启"})
    chief.wait_for_function(f"document.querySelector('#{seat}').innerText.includes('+1′')")
    chief.click("#pause")
    assert "暂停本考场" in _confirm(chief, {"reason": "空调故障"})
    chief.wait_for_function("document.querySelector('#banner').innerText.includes('本考场暂停中')")
    chief.wait_for_selector(".tile[data-state=paused]", timeout=10_000)
    chief.click("#pause")
    assert "恢复本考场" in _confirm(chief)
    chief.wait_for_function("document.querySelector('#banner').hidden")
    chief.wait_for_function("!document.querySelector('.tile[data-state=paused]')")


def _admin_at_the_console(browser: Any, demo: Demo, sitting: int, room: int) -> None:
    """The centre admin runs the system, not the exam: the overview's link to central,
    package, keys, backups and results, read only; the terminals' enrolment: a one-time
    code for a replacement PC, and the old PC's enrolment revoked."""
    admin, failed = _log_in(browser, demo.url, "admin")
    home = admin.inner_text("main")
    assert "考点管理员查看系统状态" in home and "进入考场" not in home, home
    admin.locator("a:has-text('主考总览')").first.click()
    admin.wait_for_url(f"{demo.url}/console/sittings/{sitting}")
    sync = admin.inner_text("#sync")
    assert f"省中心 http://127.0.0.1:{demo.central_port}" in sync and "考试包：已导入 1 个" in sync
    line = _line(admin)
    for said in (
        "试卷密钥 已下达",
        "答案密钥 已下达，已评分",
        "成绩 已上传",
        "省中心复核一致",
    ):
        assert said in line, (said, sync)
    assert "已上传" in admin.inner_text("#backups")
    # Read only: no broadcast, no pause, no way into a room.
    assert admin.locator("#broadcast, #pause").count() == 0
    admin.wait_for_selector(f"#rooms tr[data-room='{room}']")
    assert admin.locator("#rooms a.button").count() == 0
    refused = admin.goto(f"{demo.url}/console/sittings/{sitting}/rooms/{room}")
    assert refused is not None and refused.status == 403
    failed.remove(f"403 {demo.url}/console/sittings/{sitting}/rooms/{room}")

    admin.goto(f"{demo.url}/console/")
    admin.click("#terminals-link")
    admin.wait_for_url(f"{demo.url}/console/terminals")
    enrolled = admin.locator("tr[data-seat]:has(button[data-revoke])")
    assert enrolled.count() == 20, admin.inner_text("main")  # the simulated room's PCs
    free = admin.locator("tr[data-seat]:not(:has(button[data-revoke]))").first
    free_seat = free.get_attribute("data-seat")
    free.locator("button[data-code]").click()
    admin.wait_for_selector("#enrol-code")
    assert len(admin.inner_text("#enrol-code").replace("-", "")) == 12
    assert "生成绑定码" in _confirm(admin) and free_seat in admin.inner_text("#notice")
    old = enrolled.first.get_attribute("data-seat")
    enrolled.first.locator("button[data-revoke]").click()
    admin.fill("#dialog [name=reason]", "终端故障，换用备用机")
    admin.click("#dialog-ok")
    row = admin.locator(f"tr[data-seat='{old}']")
    admin.wait_for_function(
        f"document.querySelector(\"tr[data-seat='{old}']\").innerText.includes('未绑定')",
        timeout=10_000,
    )
    assert row.locator("button[data-revoke]").count() == 0
    assert not failed, failed
    admin.context.close()


def test_the_chief_and_the_admin_through_a_demo_day(demo: Demo, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    printed = demo.log.read_text()
    assert f"省中心 / central: http://127.0.0.1:{demo.central_port}" in printed
    for account in ("主考 chief: chief", "考点管理员 centre admin: admin"):
        assert f"{account} / {PASSWORD}" in printed, printed
    sitting, room, _, _ = demo.first_sitting()
    roster = json.loads((demo.data / "roster.json").read_text())
    # 20 of the 26 come; the simulated room logs in, answers and submits.
    sim = subprocess.Popen(
        [sys.executable, "-m", "exam_client.cli", "simulate", "--server", demo.url]
        + ["--roster", str(demo.data / "roster.json"), "--terminals", "20"]
        + ["--enrol-codes", str(demo.data / "centre" / "enrol-codes.json"), "--submit"]
        + ["--pace", "2", "--duration", "130", "--report", str(tmp_path / "sim.json")],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "sim.log", "wb"),  # noqa: SIM115 - the child's
        env=_env(),
    )
    overview = f"{demo.url}/console/sittings/{sitting}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            chief, chief_failed = _log_in(browser, demo.url, "chief")
            page_text = chief.inner_text("main")
            assert "职业道德" in page_text and "主考总览" in page_text
            # Before the start: central named, the key due at the start.
            _until(chief, overview, f"省中心 http://127.0.0.1:{demo.central_port}", 20, None)
            before = _line(chief)
            assert "试卷密钥 开考时" in before or "试卷密钥 已下达" in before, before
            # The chief tells every screen in the centre.
            chief.click("#broadcast")
            assert "发送通知" in _confirm(chief, {"text": BROADCAST})
            # The start: central releases the key, the centre's sync fetches it.
            _until(chief, overview, "试卷密钥 已下达", 120)
            assert "已上传" in chief.inner_text("#backups")
            _chief_in_the_room(chief, demo, sitting, room)
            # The end: answer key from central, scored, results pushed and re-scored there.
            # (The minute of extra time keeps the sitting open a minute longer.)
            done = _until(chief, overview, "省中心复核一致", 240)
            assert "答案密钥 已下达，已评分" in done
            # The results at the end: every one of the 20 submitted, the 6 absent.
            chief.wait_for_selector(f"#rooms tr[data-room='{room}'] td[data-count=submitted]")
            row = f"#rooms tr[data-room='{room}']"
            assert chief.inner_text(f"{row} td[data-count=submitted]") == "20"
            assert chief.inner_text(f"{row} td[data-count=absent]") == "6"
            assert chief.inner_text(f"{row} td[data-count=answering]") == "0"
            chief.wait_for_selector("#chart svg")
            assert (
                chief.locator("#chart svg polyline").count() == 3
            )  # logged in, answered, submitted
            # The room record: counts filled, the day's events, all in Chinese.
            chief.goto(f"{demo.url}/console/sittings/{sitting}/rooms/{room}")
            href = chief.get_attribute("#record", "href")
            record = _pdf_text(chief, f"{demo.url}{href}", tmp_path)
            for said in ("20 / 6", "服务器自动记录", BROADCAST, "空调故障", "终端死机，重启"):
                assert said in record, (said, record)
            assert "server" not in record, record
            assert not chief_failed, chief_failed

            _admin_at_the_console(browser, demo, sitting, room)
            browser.close()
    finally:
        sim.terminate()
        sim.wait(30)

    # The admin's tools say the same, from the data folder alone.
    status = subprocess.run(
        [sys.executable, "-m", "exam_server.sync.cli", "status"]
        + ["--data-dir", str(demo.data / "centre")],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    first = next(line for line in status.stdout.splitlines() if "DEMO-ZYDD-L4" in line)
    assert "成绩 已上传" in first and "省中心复核一致" in first, status.stdout
    results = subprocess.run(
        [sys.executable, "-m", "central.cli", "results", "--database"]
        + [f"sqlite:///{(demo.data / 'central' / 'central.db').resolve()}"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert results.returncode == 0, results.stdout + results.stderr
    assert "场次 DEMO-ZYDD-L4: 26 人，复核一致" in results.stdout, results.stdout
    assert len(roster) == 26
