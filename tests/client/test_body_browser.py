"""The candidate's page shows each question as its author wrote it (issue 23), in real
Chromium: the authored QTI items on a paper opened by the terminal's agent and served by
its own UI; text and pictures in the order written, each picture with its alt text,
"以上都不对" in its fixed last place, and a note written after the options below them."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from exam_client.agent import Agent, AgentConfig
from exam_client.journal import MemoryJournal
from exam_client.ui import UiOptions, create_ui
from exam_common import protocol as p
from question_bank.package import encrypt_paper
from tests.client.conftest import wait_true
from tests.client.test_client_units import IDENTITY, TICKET, binding_of, login_ok
from tests.conftest import free_port, require
from tests.factories import DATA_KEY
from tests.question_bank import qti_authored as qa

pytestmark = [pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def page() -> Iterator[object]:
    require(
        Path(CHROMIUM).exists(),
        "Chromium at /usr/bin/chromium",
        "apt-get install chromium fonts-wqy-microhei",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
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
        yield browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        browser.close()


def test_the_body_is_shown_as_written_in_chromium(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    paper = qa.authored_assembly(tmp_path).papers[0].paper()
    agent = Agent(
        AgentConfig(server="http://127.0.0.1:1", seat="01-01", identity=IDENTITY), MemoryJournal()
    )
    ciphertext = encrypt_paper(paper, DATA_KEY)
    ok = login_ok(
        paper=base64.b64encode(ciphertext).decode(),
        binding=binding_of(ciphertext),
        items=tuple(p.ItemRef(**i.to_json()) for i in paper.public_items()),
        answers={},
        last_seq=0,
    )
    agent._take_login(ok, {"ticket": TICKET, "id_number": "x", "stage": "ready"}, 0)
    doc = agent.paper_json()
    assert doc is not None
    number = {q["item_id"].split(".")[0]: q["number"] for q in doc["questions"]}
    after = {q["item_id"].split(".")[0]: q["after"] for q in doc["questions"]}
    assert after["ZD-PART-04"] == [{"text": "（选“照顾熟人，兼顾原则”得一半分。）"}]
    assert not any(v for k, v in after.items() if k != "ZD-PART-04")
    port = free_port()
    server = make_server("127.0.0.1", port, create_ui(agent, UiOptions(port=port)), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#screen-paper:not([hidden]) #q-stem > *", timeout=15000)

        def shown(item: str) -> list[list[object]]:
            page.click(f"#grid button:nth-child({number[item]})")
            wait_true(
                page,
                "n => document.querySelector('#q-number').textContent.includes(String(n))",
                number[item],
            )
            wait_true(
                page, "() => [...document.querySelectorAll('#q-stem img')].every(i => i.complete)"
            )
            return page.eval_on_selector_all(  # type: ignore[no-any-return]
                "#q-stem > *",
                "els => els.map(e => [e.tagName, e.tagName === 'IMG' ? e.alt : e.textContent,"
                " e.tagName === 'IMG' ? e.naturalWidth : 0])",
            )

        body = shown("ZD-MAP-01")
        assert [b[0] for b in body] == ["P", "IMG", "P"]
        assert body[0][1] == "某单位在窗口服务岗位张贴了下面的宣传画， 开展职业道德教育。"
        assert body[1][1] == "宣传画：爱岗敬业、诚实守信、办事公道" and body[1][2] == 1
        assert body[2][1] == "下列属于职业道德基本要求的有（  ）。"
        options = page.eval_on_selector_all("#q-options .txt", "els => els.map(e => e.textContent)")
        assert options[3] == "以上都不对" and len(options) == 4

        pic = shown("ZD-PIC-06")  # the picture first, then the question
        assert [b[0] for b in pic] == ["IMG", "P"]
        assert pic[0][1] == "红色圆圈加斜杠的标志" and pic[0][2] == 40
        assert pic[1][1] == "上图所示标志的含义是（  ）。"

        # what the author wrote after the options is shown below them, not in the stem
        assert page.is_hidden("#q-after")
        part = shown("ZD-PART-04")
        assert [b[1] for b in part] == ["办事公道要求工作人员在处理事务时（  ）。"]
        assert page.is_visible("#q-after")
        below = page.evaluate(
            "() => [document.querySelector('#q-options').getBoundingClientRect().bottom,"
            " document.querySelector('#q-after').getBoundingClientRect().top,"
            " document.querySelector('#q-after').textContent]"
        )
        assert below[1] >= below[0] and below[2] == "（选“照顾熟人，兼顾原则”得一半分。）"

        seq = shown("ZD-SEQ-03")  # several paragraphs of one text keep their lines
        assert page.is_hidden("#q-after")
        assert [b[0] for b in seq] == ["P"]
        assert seq[0][1].split("\n") == [
            "档案室面积为 20 m²，收文后应依次办理。",
            "下列顺序中，最后一项与其他各项的关系是（  ）。",
            "（按选项原有顺序作答）",
        ]
    finally:
        server.shutdown()
