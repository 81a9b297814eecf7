"""`exam-client run` says plainly when the server is not there or is not a centre server,
and the candidate's login page makes no promise about answers before there are any."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.client.conftest import ClientProcess, Sitting
from tests.client.test_client_browser import browser  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow


class _NotAnExamServer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.send_response(404)
        self.end_headers()
        self.wfile.write(b"<html>nothing here</html>")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def other_web_server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotAnExamServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _enrolled_then_server_gone(
    make_sitting: Callable[..., Sitting], clients: Callable[..., ClientProcess]
) -> ClientProcess:
    s = make_sitting(starts_in=600, duration=60, candidates=1)
    term = clients(s.server.url, s.seats[0], "t")  # enrols at the live server
    term.stop()
    s.server.stop()
    return term


def test_a_wrong_url_is_refused_in_one_line(
    make_sitting: Callable[..., Sitting],
    clients: Callable[..., ClientProcess],
    other_web_server: str,
) -> None:
    term = _enrolled_then_server_gone(make_sitting, clients)
    proc = subprocess.run(
        [sys.executable, "-m", "exam_client.cli", "run", "--server", other_web_server]
        + ["--data-dir", str(term.data_dir), "--ui-port", str(term.port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{other_web_server} 不是考点服务器（/healthz 返回 HTTP 404）" in proc.stderr
    assert "已启动" not in proc.stdout  # no comfort before the refusal


def test_an_unreachable_server_is_said_and_the_login_page_promises_nothing(
    make_sitting: Callable[..., Sitting],
    clients: Callable[..., ClientProcess],
    browser,  # noqa: F811
) -> None:
    term = _enrolled_then_server_gone(make_sitting, clients)
    term.start()  # a terminal restarted during an outage still starts (its journal serves)
    log = term.log()
    assert "警告：无法连接考点服务器" in log and "no candidate can log in" in log
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(term.url)
    page.wait_for_selector("#screen-login:not([hidden])")
    page.wait_for_selector("#conn.offline")
    conn = page.inner_text("#conn")
    # The fault the issue found: "答案已保存在本机" on a login page, before any answer exists.
    assert "答案已保存在本机" not in conn
    assert "暂时无法连接考点服务器" in conn
    page.click("#lang")
    assert "cannot be reached" in page.inner_text("#conn")
    assert Path(term.data_dir, "journal.db").exists()
