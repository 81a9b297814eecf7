"""The chief examiner's and the centre admin's day, whole, through `make demo`'s own
command (``exam-server demo``) in real Chromium: a real central beside the centre, the
package pulled through exam-sync, a room of simulated terminals, the key released by
central at the start, the chief's overview following it (keys, backups, results re-scored
at central), the room record printed with its counts, and the admin's `exam-sync status`
and `exam-central results` saying the same. The demo's timing is compressed (``--tempo``):
the first sitting starts a minute after the demo, lasts 40 s, with 12 s windows."""

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
                + ["--tempo", "60,40,12"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=_env(),
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.3)
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


def _until(page: Any, url: str, selector: str, text: str, timeout: float) -> str:
    """Reload ``url`` until ``selector`` says ``text`` (the overview's sync block is drawn
    by the server); returns what it said."""
    deadline = time.monotonic() + timeout
    said = ""
    while time.monotonic() < deadline:
        page.goto(url)
        said = page.inner_text(selector)
        if text in said:
            return said
        time.sleep(2)
    raise AssertionError(f"{selector} never said {text!r} within {timeout}s; last:\n{said}")


def test_the_chief_and_the_admin_through_a_demo_day(demo: Demo, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    printed = demo.log.read_text()
    assert f"省中心 / central: http://127.0.0.1:{demo.central_port}" in printed
    sitting, room, _, _ = demo.first_sitting()
    roster = json.loads((demo.data / "roster.json").read_text())
    # 20 of the 26 come; the simulated room logs in, answers and submits.
    sim = subprocess.Popen(
        [sys.executable, "-m", "exam_client.cli", "simulate", "--server", demo.url]
        + ["--roster", str(demo.data / "roster.json"), "--terminals", "20"]
        + ["--enrol-codes", str(demo.data / "centre" / "enrol-codes.json"), "--submit"]
        + ["--pace", "2", "--duration", "130", "--report", str(tmp_path / "sim.json")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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
            before = _until(
                chief, overview, "#sync", f"省中心 http://127.0.0.1:{demo.central_port}", 20
            )
            assert "试卷密钥 开考时" in before or "试卷密钥 已下达" in before
            # The start: central releases the key, the centre's sync fetches it.
            _until(chief, overview, "#sync", "试卷密钥 已下达", 120)
            assert "已上传" in chief.inner_text("#backups")
            # The end: answer key from central, scored, results pushed and re-scored there.
            done = _until(chief, overview, "#sync", "省中心复核一致", 150)
            assert "答案密钥 已下达，已评分" in done
            assert not chief_failed, chief_failed

            # The invigilator prints the room record: counts filled, all in Chinese.
            inv, inv_failed = _log_in(browser, demo.url, "inv01")
            resp = inv.request.get(f"{demo.url}/console/sittings/{sitting}/rooms/{room}/record.pdf")
            assert resp.ok
            pdf = tmp_path / "record.pdf"
            pdf.write_bytes(resp.body())
            record = subprocess.run(
                ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
            ).stdout
            assert "20 / 6" in record and "服务器自动记录" in record, record
            assert "server" not in record, record
            assert not inv_failed, inv_failed
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
