"""The candidate's stall line (``#stall``) in real Chromium: a change the server keeps
refusing shows under the top bar with the server's reason and clears once it lands.

The terminal runs in this process (its agent and its UI server, as ``exam-client run``
starts them) with a stall threshold of a second and a half instead of a minute; the
server is a real one whose database refuses one item's answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import text

from exam_client.agent import Agent, AgentConfig
from exam_client.journal import MemoryJournal
from exam_client.ui import UiOptions, UiServer
from tests.client.conftest import Sitting, wait_true
from tests.client.test_client_browser import browser  # noqa: F401 - the Chromium fixture
from tests.conftest import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def wait_for(pred: Callable[[], object], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def test_the_stall_line_shows_the_reason_and_clears_when_the_change_lands(
    make_sitting: Callable[..., Sitting],
    browser,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    s = make_sitting(starts_in=-2, duration=300, candidates=1, rules_s=(120, 120, 0))
    with s.db.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_q003 BEFORE INSERT ON answer WHEN NEW.item_id = 'Q003' "
                "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
            )
        )
    agent = Agent(
        AgentConfig(
            server=s.server.url,
            identity=s.server.enrol(s.seats[0]),
            stall_s=1.5,
            retry_s=0.2,
            heartbeat_s=0.5,
            preload=False,
        ),
        MemoryJournal("T-STALL-UI"),
    ).start()
    ui = UiServer(agent, UiOptions(port=free_port())).start()
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        wait_for(lambda: agent.online, 20, "the agent connects")
        page = ctx.new_page()
        page.goto(ui.url)
        page.wait_for_selector("#screen-login:not([hidden])")
        ticket, id_number = s.candidate(0)
        page.fill("#ticket", ticket)
        page.fill("#id-number", id_number)
        page.click("#login-button")
        page.wait_for_selector("#screen-confirm:not([hidden])")
        page.click("#confirm-button")
        page.wait_for_selector("#screen-paper:not([hidden])")
        assert page.evaluate("document.getElementById('stall').hidden") is True
        paper = agent.paper_json()
        assert paper is not None
        shown = {q["item_id"]: q["options"][0]["label"] for q in paper["questions"]}
        agent.answer("Q001", [shown["Q001"]])
        agent.answer("Q003", [shown["Q003"]])  # the one the database refuses
        wait_true(page, "!document.getElementById('stall').hidden", timeout=20)
        line = page.inner_text("#stall")
        assert "有 1 条答案已超过 1 分钟未能保存到考点服务器" in line, line
        assert "服务器故障" in line and "请举手告知监考老师" in line, line  # server's reason
        assert page.get_attribute("#stall", "role") == "alert"
        # In English too.
        page.click("#lang")
        wait_true(page, "document.getElementById('stall').textContent.includes('1 of your')")
        assert "raise your hand" in page.inner_text("#stall")
        page.click("#lang")
        # Repaired: the change lands and the line goes.
        with s.db.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_q003"))
        wait_true(page, "document.getElementById('stall').hidden", timeout=20)
        assert agent.pending_count == 0
    finally:
        ctx.close()
        ui.stop()
        agent.stop()
