"""The overlap of two sittings' windows on the candidate's screen, in real Chromium: the
next sitting's login opens while this one still runs. A candidate absent from this one
(late entry closed), come for the next at the wrong seat, was told "开考已超过规定时间"
(this sitting's late entry); they must be told to go to the seat on their ticket, and at
that seat they log in to the next sitting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exam_server.db import Database
from exam_server.migrate import upgrade
from tests.client.conftest import ClientProcess, valid_tickets
from tests.client.test_client_browser import browser, login  # noqa: F401 - the fixture
from tests.factories import id_number_for, make_world, rebind
from tests.live import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def overlap(tmp_path: Path) -> Iterator[tuple[LiveServer, list[str], list[str], datetime]]:
    db = Database(f"sqlite:///{tmp_path / 'centre.db'}")
    upgrade(db)
    # Sitting 1 from `start` for 90 s (late entry closes 8 s in); sitting 2 from 60 s after
    # it, its login open from 120 s before: both windows are open from the start. The
    # start is a minute ahead; the test moves the centre's clock to it (jump_to).
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=60)
    with db.write() as session:
        world = make_world(
            session,
            start=start,
            duration=timedelta(seconds=90),
            gap=timedelta(seconds=60),
            sittings=2,
            candidates=2,
            rules_s=(120, 8, 5),
        )
        tickets = valid_tickets(world)
        rebind(world)
        session.flush()
        seats = [world.attempt(i, 1).seat.label for i in range(2)]
    db.dispose()
    server = LiveServer(db.url, tmp_path / "server", shifted_clock=True).start()
    try:
        yield server, tickets, seats, start
    finally:
        server.stop()


def test_in_the_overlap_the_wrong_seat_is_told_so(
    overlap: tuple[LiveServer, list[str], list[str], datetime],
    tmp_path: Path,
    browser,  # noqa: F811
) -> None:
    server, tickets, seats, start = overlap
    started: list[ClientProcess] = []
    try:
        other = ClientProcess(server.url, seats[1], tmp_path / "other").start()
        own = ClientProcess(server.url, seats[0], tmp_path / "own").start()
        started += [other, own]
        # Sitting 1's late entry closes (the scheduler marks them absent): the centre's
        # clock moves there, however long the terminals took to start.
        server.jump_to(start + timedelta(seconds=14))
        page = browser.new_context(locale="zh-CN").new_page()
        page.goto(other.url)
        page.wait_for_selector("#screen-login:not([hidden])")
        login(page, tickets[0], id_number_for(1))
        page.wait_for_selector("#login-error:has-text('座位')", timeout=15_000)
        said = page.inner_text("#login-error")
        assert "请到准考证上的考场和座位登录" in said, said
        assert "开考已超过" not in said
        # At the seat on the ticket: the next sitting.
        page.goto(own.url)
        page.wait_for_selector("#screen-login:not([hidden])")
        login(page, tickets[0], id_number_for(1))
        page.wait_for_selector("#screen-confirm:not([hidden])", timeout=15_000)
        assert "职业能力" in page.inner_text("#screen-confirm")
    finally:
        for c in started:
            c.stop()
