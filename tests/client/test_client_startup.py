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


def test_a_ui_port_in_use_is_one_line_with_the_fix(
    make_sitting: Callable[..., Sitting], clients: Callable[..., ClientProcess]
) -> None:
    """It printed the raw ``[Errno 98] Address already in use`` and not what to do."""
    import socket

    term = _enrolled_then_server_gone(make_sitting, clients)
    # another program's port (not the stopped terminal's own, which may linger in
    # TIME_WAIT and refuse this test's bind as well)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "exam_client.cli", "run"]
            + ["--data-dir", str(term.data_dir), "--ui-port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "Errno" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert f"考生界面端口 {port} 已被占用" in line and "--ui-port" in line, line
    assert "is in use" in line and "已启动" not in proc.stdout


class _OtherCentre(http.server.BaseHTTPRequestHandler):
    """An exam server, but another centre's."""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = b'{"ok": true, "server_time": "2026-06-01T01:00:00+00:00", "centre": "9999"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[http.server.BaseHTTPRequestHandler], tls: object = None):  # type: ignore[no-untyped-def]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)  # type: ignore[attr-defined]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def test_another_centres_server_is_refused() -> None:
    import click

    from exam_client.cli import check_server

    httpd = _serve(_OtherCentre)
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        with pytest.raises(click.ClickException) as caught:
            check_server(url, "0101", None)
        said = caught.value.message
        assert f"{url} 是考点 9999 的服务器，本机绑定的是考点 0101" in said, said
        assert "--server" in said and "serves centre 9999" in said
        assert check_server(url, "9999", None) is None  # its own centre: all is well
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_certificate_from_another_ca_is_refused(tmp_path: Path) -> None:
    """The terminal trusts its centre's CA; a server whose certificate another CA signed
    (a wrong address, or a centre that changed its CA) is refused before it starts."""
    import click

    from exam_client.cli import check_server
    from exam_server.tls import ensure_tls, now_utc, server_context

    ours = ensure_tls(tmp_path / "ours", centre="0101", now=now_utc())
    theirs = ensure_tls(tmp_path / "theirs", centre="0101", now=now_utc())
    httpd = _serve(_OtherCentre, server_context(theirs))
    url = f"https://127.0.0.1:{httpd.server_address[1]}"
    try:
        with pytest.raises(click.ClickException) as caught:
            check_server(url, "0101", ours.ca_cert)
        said = caught.value.message
        assert "不是本机绑定时信任的考点 CA 签发的" in said and "another CA" in said, said
        # The same server checked against its own CA gets past the certificate.
        with pytest.raises(click.ClickException, match="是考点 9999 的服务器"):
            check_server(url, "0101", theirs.ca_cert)
    finally:
        httpd.shutdown()
        httpd.server_close()
