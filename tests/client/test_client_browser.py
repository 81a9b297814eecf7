"""The candidate's screen in real Chromium (Playwright) against real processes.

Two candidates in one short sitting, each at their own terminal (``exam-client run``)
with their own browser page:

* login: a mistyped ticket is caught by the province's rule before the server; then the
  confirmation (name, trade, level, subject), the rules and the countdown;
* the paper opens at the start; answers by mouse and keyboard, a flag, the grid;
* the early-submit refusal (button disabled with the time it unlocks; the agent refuses);
* the server killed (-9) and restarted while the candidates go on answering: the
  connection indicator says so, nothing is lost;
* the time warnings (thresholds in seconds for a short sitting);
* candidate 1 submits after confirming the list of unanswered items and sees the receipt;
  candidate 2 is submitted by the server at the end and the screen says so.

And the screens of a real paper (the demo's package, built by central from the sample
bank) for the docs (``make screenshots`` refreshes docs/img/candidate-confirm.png and
docs/img/candidate-paper.png; a test run writes them to a temporary folder).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from exam_server.sittings import service
from tests.client.conftest import ClientProcess, Sitting, wait_true
from tests.conftest import png, require

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser() -> Iterator[object]:
    require(
        Path(CHROMIUM).exists(),
        "Chromium at /usr/bin/chromium",
        "apt-get install chromium fonts-wqy-microhei",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


def login(page, ticket: str, id_number: str) -> None:  # type: ignore[no-untyped-def]
    page.fill("#ticket", ticket)
    page.fill("#id-number", id_number)
    page.click("#login-button")


def test_candidate_from_login_to_receipt_in_chromium(
    make_sitting: Callable[..., Sitting],
    clients: Callable[..., ClientProcess],
    browser,  # type: ignore[no-untyped-def]
) -> None:
    s = make_sitting(starts_in=18, duration=42, candidates=2, rules_s=(120, 30, 14))
    t1 = clients(s.server.url, s.seats[0], "one", warn_at="30,15")
    t2 = clients(s.server.url, s.seats[1], "two", warn_at="30,15")
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    p1, p2 = ctx.new_page(), ctx.new_page()
    p1.goto(t1.url)
    p2.goto(t2.url)
    p1.wait_for_selector("#screen-login:not([hidden])")
    assert p1.evaluate("document.characterSet") == "UTF-8"
    assert "考生登录" in p1.inner_text("#screen-login")
    # English on request, Chinese again; larger type.
    p1.click("#lang")
    assert "Candidate login" in p1.inner_text("#screen-login")
    p1.click("#lang")
    assert "考生登录" in p1.inner_text("#screen-login")
    size = p1.evaluate("getComputedStyle(document.documentElement).fontSize")
    p1.click("#font-up")
    larger = p1.evaluate("getComputedStyle(document.documentElement).fontSize")
    assert float(larger.removesuffix("px")) > float(size.removesuffix("px"))
    p1.click("#font-down")
    assert p1.evaluate("getComputedStyle(document.documentElement).fontSize") == size

    # The page checks the characters and the length by the rule the server gave (here
    # the numbers central makes: 12 digits); the agent checks the whole rule, check
    # digit included, so a mistyped digit never reaches the server.
    ticket, id_number = s.candidate(0)
    p1.wait_for_selector("#ticket[maxlength='12']")
    login(p1, ticket[:11] + "A", id_number)
    assert "只能包含数字：第 12 位是“A”" in p1.inner_text("#login-error")
    wrong = ticket[:5] + str((int(ticket[5]) + 1) % 10) + ticket[6:]
    login(p1, wrong, id_number)
    p1.wait_for_selector("#login-error:has-text('校验')")
    assert "校验不通过" in p1.inner_text("#login-error")
    assert t1.state()["screen"] == "login"
    login(p1, ticket, id_number)
    p1.wait_for_selector("#screen-confirm:not([hidden])")
    text = p1.inner_text("#screen-confirm")
    assert "考生1" in text and "电工" in text and "四级" in text and "职业道德" in text
    p1.click("#confirm-button")
    p1.wait_for_selector("#screen-waiting:not([hidden])")
    assert "应考人员须知" in p1.inner_text("#screen-waiting")
    assert ":" in p1.inner_text("#countdown")

    login(p2, *s.candidate(1))
    p2.wait_for_selector("#screen-confirm:not([hidden])")
    p2.click("#confirm-button")

    # The start: the paper opens by itself on both screens.
    p1.wait_for_selector("#screen-paper:not([hidden])", timeout=20_000)
    p2.wait_for_selector("#screen-paper:not([hidden])", timeout=20_000)
    assert "第 1 题 / 共 10 题" in p1.inner_text("#q-number")

    # Mouse and keyboard: A-H picks, arrows move, F flags.
    p1.click("#q-options .opt >> nth=1")
    p1.keyboard.press("ArrowRight")
    p1.keyboard.press("c")
    p1.keyboard.press("ArrowRight")
    p1.keyboard.press("a")
    p1.keyboard.press("f")  # a choice item with four options: F flags
    p1.keyboard.press("ArrowRight")
    t1.wait_for(lambda x: len(x["answers"]) == 3 and x["pending"] == 0, timeout=10)
    # The page redraws from the agent's state on its next poll: wait for that, then count.
    wait_true(
        p1,
        "document.querySelectorAll('#grid button.answered').length === 3"
        " && document.querySelector('#grid button.flagged') !== null",
    )
    assert t1.state()["flags"] and p1.locator("#grid button.flagged").count() == 1
    assert p1.locator("#grid button.answered").count() == 3
    assert "3/10" in p1.inner_text("#progress")

    # Too early to submit: the button is disabled and says when it unlocks; the agent refuses.
    assert p1.is_disabled("#submit-button")
    assert "后可交卷" in p1.inner_text("#submit-hint")
    early = p1.evaluate("fetch('/api/submit', {method: 'POST'}).then(r => r.json())")
    assert early["code"] == "submit_too_early"
    assert early["message"] == "还未到可以交卷的时间 / it is too early to submit"  # not the code

    # The server dies; candidates keep answering; the indicator says what is happening.
    s.server.kill()
    p1.wait_for_selector("#conn.offline")
    assert "网络中断" in p1.inner_text("#conn")
    for page in (p1, p2):
        for _ in range(3):
            page.keyboard.press("ArrowRight")
            page.click("#q-options .opt >> nth=0")
    time.sleep(3)
    assert t1.state()["pending"] > 0 and "待上传" in p1.inner_text("#conn")
    s.server.start()
    p1.wait_for_selector("#conn:not(.offline)")
    t1.wait_for(lambda x: x["online"] and x["pending"] == 0, timeout=20)
    t2.wait_for(lambda x: x["online"] and x["pending"] == 0, timeout=20)
    with s.db.read() as session:
        assert len(service.current_answers(session, s.attempt_ids[0])) == 6
        assert len(service.current_answers(session, s.attempt_ids[1])) == 3

    # The first warning (30 s before the end in this short sitting).
    p1.wait_for_selector("#banner:not([hidden])", timeout=30_000)
    assert "距考试结束还有 30 秒" in p1.inner_text("#banner")
    p1.click("#banner-ok")

    # Candidate 1 submits: the confirmation lists what is unanswered; then the receipt.
    p1.wait_for_selector("#submit-button:not([disabled])", timeout=20_000)
    p1.click("#submit-button")
    assert "还有 4 题未作答" in p1.inner_text("#modal")
    p1.click("#modal-ok")
    p1.wait_for_selector("#screen-submitted:not([hidden])")
    receipt = p1.inner_text("#receipt")
    assert receipt == t1.state()["submitted"]["receipt"] and len(receipt) == 9
    assert "您已交卷" in p1.inner_text("#screen-submitted")

    # Candidate 2 answers on and sees the 15 s warning, then the server's submission.
    p2.wait_for_selector("#banner-text:has-text('15 秒')", timeout=30_000)
    p2.wait_for_selector("#screen-submitted:not([hidden])", timeout=30_000)
    assert "系统已自动交卷" in p2.inner_text("#screen-submitted")
    assert len(p2.inner_text("#receipt")) == 9
    with s.db.read() as session:
        from exam_server.sittings.models import Attempt

        a1 = session.get(Attempt, s.attempt_ids[0])
        a2 = session.get(Attempt, s.attempt_ids[1])
        assert a1 is not None and a2 is not None
        assert a1.submitted_by == "candidate" and a1.receipt == receipt
        assert a2.submitted_by == "deadline" and a2.receipt == p2.inner_text("#receipt")
    ctx.close()


def test_screens_of_a_real_paper_for_the_docs(
    tmp_path: Path,
    clients: Callable[..., ClientProcess],
    browser,  # type: ignore[no-untyped-def]
    shots: Path,
) -> None:
    """A real paper (the demo's package, built by central from the sample bank) on the
    candidate's screens: the registered photo on the confirmation, the paper with answers,
    a flag and the question grid. ``make screenshots`` keeps the pictures for the docs."""
    from tests.client.test_client_interop import centre_with_demo_package

    server, roster = centre_with_demo_package(tmp_path, starts_in_s=9)
    try:
        cand = roster[0]
        term = clients(server.url, cand["seat"], "demo")
        ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        page = ctx.new_page()
        page.goto(term.url)
        page.wait_for_selector("#screen-login:not([hidden])")
        login(page, cand["ticket"], cand["id_number"])
        page.wait_for_selector("#screen-confirm:not([hidden])")
        assert cand["name"] in page.inner_text("#screen-confirm")
        # the registered photo, fetched from the server through the agent
        wait_true(
            page,
            "document.querySelector('#photo').complete"
            " && document.querySelector('#photo').naturalWidth > 0",
            timeout=10,
        )
        page.screenshot(path=str(shots / "candidate-confirm.png"))
        png(shots / "candidate-confirm.png")
        page.click("#confirm-button")
        page.wait_for_selector("#screen-paper:not([hidden])", timeout=20_000)
        page.click("#q-options .opt >> nth=1")
        page.keyboard.press("ArrowRight")
        page.click("#q-options .opt >> nth=0")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("f")
        page.keyboard.press("ArrowRight")
        page.click("#q-options .opt >> nth=2")
        page.keyboard.press("ArrowRight")
        term.wait_for(lambda x: len(x["answers"]) == 3 and x["pending"] == 0)
        page.wait_for_selector("#grid button.flagged")
        page.wait_for_selector("#conn:not(:has-text('待上传'))")
        assert page.locator("#grid button.answered").count() == 3
        assert page.locator("#grid button.flagged").count() == 1
        assert page.locator("#q-options .opt").count() >= 2  # the real paper's options
        page.screenshot(path=str(shots / "candidate-paper.png"))
        png(shots / "candidate-paper.png")
        ctx.close()
    finally:
        server.stop()
