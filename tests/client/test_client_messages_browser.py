"""A message from the invigilator or the chief examiner stays on the candidate's screen
until the candidate dismisses it, then never comes back: across page reloads, a new browser
(the kiosk's throw-away profile) and a restart of the agent. The real page and UI server,
an agent on a journal on disk, given the pushes directly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exam_client.agent import Agent, AgentConfig
from exam_client.journal import SqliteJournal
from exam_client.ui import UiOptions, UiServer
from exam_common import protocol as p
from tests.client.test_client_browser import browser  # noqa: F401 - the fixture
from tests.client.test_client_units import IDENTITY
from tests.conftest import free_port

pytestmark = pytest.mark.slow

AT = datetime(2026, 6, 1, 1, 20, tzinfo=UTC)


class Terminal:
    """An agent and its UI server on one journal and one port, restartable."""

    def __init__(self, journal: Path, port: int) -> None:
        self.journal_path, self.port = journal, port
        self.agent: Agent | None = None
        self.ui: UiServer | None = None

    def start(self) -> Agent:
        self.agent = Agent(
            AgentConfig(server="http://127.0.0.1:1", seat="01-01", identity=IDENTITY),
            SqliteJournal(self.journal_path),
        )
        # A candidate's attempt (the page shows messages only then), on the simplest
        # screen that needs no paper: the sitting closed at this seat.
        self.agent.attempt_id = 41
        self.agent.closed = {"code": "sitting_closed", "message": "本场考试已结束"}
        self.ui = UiServer(self.agent, UiOptions(port=self.port)).start()
        return self.agent

    def stop(self) -> None:
        if self.ui is not None:
            self.ui.stop()
        if self.agent is not None:
            self.agent.journal.close()
        self.ui = self.agent = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(tmp_path / "journal.db", free_port())
    term.start()
    yield term
    term.stop()


def _send(agent: Agent, text: str, sender: str, at: datetime) -> None:
    agent._on_broadcast(
        p.dump(p.Broadcast(sitting_id=1, room_id=3, text=text, sender=sender, at=at))
    )


def _shown(page, text: str) -> None:
    page.wait_for_selector("#banner:not([hidden])", timeout=5000)
    assert text in page.inner_text("#banner-text")


def _stays_away(page) -> None:
    page.wait_for_timeout(1500)  # several polls of the agent's state
    assert page.is_hidden("#banner"), f"came back: {page.inner_text('#banner-text')}"


def test_a_message_stays_until_dismissed_then_never_returns(
    terminal: Terminal,
    browser,  # noqa: F811
) -> None:
    assert terminal.agent is not None
    _send(terminal.agent, "请保持安静", "监考", AT)
    page = browser.new_context(locale="zh-CN").new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(terminal.url)
    _shown(page, "监考老师通知：请保持安静")
    # Reloaded before the candidate read it (the old page counted it as seen once shown,
    # and it was gone for good): it is still there.
    page.reload()
    _shown(page, "请保持安静")
    # A new browser (the kiosk starts each time with an empty profile): still there.
    kiosk = browser.new_context(locale="zh-CN").new_page()
    kiosk.goto(terminal.url)
    _shown(kiosk, "请保持安静")
    kiosk.context.close()
    # The agent restarts before the OK: still there.
    terminal.stop()
    agent = terminal.start()
    page.reload()
    _shown(page, "请保持安静")
    page.click("#banner-ok")
    assert page.is_hidden("#banner")
    for _ in range(2):
        page.reload()
        _stays_away(page)
    # Dismissed is dismissed for every browser and after a restart of the agent.
    fresh = browser.new_context(locale="zh-CN").new_page()
    fresh.goto(terminal.url)
    _stays_away(fresh)
    fresh.context.close()
    terminal.stop()
    agent = terminal.start()
    page.reload()
    _stays_away(page)
    # Two new messages: each shown in turn, oldest first; Enter dismisses one.
    _send(agent, "还有十分钟", "主考", AT + timedelta(minutes=5))
    _send(agent, "请检查姓名", "监考", AT + timedelta(minutes=6))
    _shown(page, "主考通知：还有十分钟")
    page.keyboard.press("Enter")
    _shown(page, "请检查姓名")
    page.reload()
    _shown(page, "请检查姓名")
    page.click("#banner-ok")
    page.reload()
    _stays_away(page)
    assert not errors, errors
