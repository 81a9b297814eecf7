"""No TLS (issue 17): the LAN link is TLS by default, the terminal pins the centre's CA and
refuses a rogue server; plain HTTP only behind the explicit flag, which says so."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from exam_client.agent import Agent, AgentConfig
from exam_client.identity import CA_FILE, EnrolError, TerminalIdentity, enrol, pinned_session
from exam_client.journal import MemoryJournal
from exam_server.terminals import service as terminals
from tests.live import Terminal
from tests.security.conftest import Centre, wait_for

pytestmark = pytest.mark.slow


def code_for(c: Centre, seat: str) -> str:
    from datetime import UTC, datetime, timedelta

    with c.db.write() as session:
        (issued,) = terminals.issue_codes(
            session,
            datetime.now(UTC),
            terminals.seats_for(session, labels=[seat]),
            by="tests",
            valid=timedelta(hours=1),
        )
    return issued.code


def test_the_lan_is_tls_end_to_end_and_the_terminal_pins_the_centre_ca(
    centre: Callable[..., Centre], tmp_path: Path
) -> None:
    """A TLS server; a terminal enrols with the CA's fingerprint (HTTP over TLS, the
    real path), then the real agent connects over WSS verified against that CA only,
    logs a candidate in, opens the paper at the start and has its answer acknowledged."""
    c = centre(tls=True, starts_in=4)
    assert c.server.url.startswith("https://")
    fingerprint = c.server.log().split("fingerprint: ")[1].split()[0]
    identity, ca = enrol(
        c.server.url,
        code_for(c, c.seats[0]),
        terminal_id="T-tls-1",
        fingerprint=fingerprint,
        ca_path=tmp_path / CA_FILE,
    )
    assert ca is not None and identity.ca_path == tmp_path / CA_FILE
    assert identity.seat == c.seats[0]
    # Nothing but the pinned CA is trusted: the system's list does not know this server.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{c.server.url}/healthz", timeout=5)
    agent = Agent(AgentConfig(server=c.server.url, identity=identity), MemoryJournal()).start()
    try:
        wait_for(lambda: agent.online, 20, "the agent connects over TLS")
        ticket, id_number = c.candidate(0)
        reply = agent.login(ticket, id_number)
        assert reply["ok"], reply
        agent.confirm()
        paper = wait_for(agent.paper_json, 20, "the paper opens")
        first = paper["questions"][0]
        assert agent.answer(first["item_id"], [first["options"][0]["label"]])["ok"]
        wait_for(lambda: agent.stats.acknowledged == 1, 10, "the answer acknowledged")
    finally:
        agent.stop()
    log = c.server.log()
    assert "MonkeyPatchWarning" not in log  # gevent patched before anything imported ssl
    assert "INSECURE" not in log


def test_a_rogue_server_is_refused_by_the_terminal(
    centre: Callable[..., Centre], tmp_path: Path
) -> None:
    """A rogue server on the LAN (its own CA, the centre's seats and candidates) gets
    nothing from a terminal: enrolment refuses its certificate before sending anything,
    and an enrolled terminal pointed at it never connects (the TLS handshake fails)."""
    real = centre(tls=True)
    rogue = centre(tls=True)
    real_fp = real.server.log().split("fingerprint: ")[1].split()[0]
    rogue_fp = rogue.server.log().split("fingerprint: ")[1].split()[0]
    assert real_fp != rogue_fp
    with pytest.raises(EnrolError) as refused:
        enrol(
            rogue.server.url,
            code_for(rogue, rogue.seats[0]),
            terminal_id="T-victim",
            fingerprint=real_fp,
            ca_path=tmp_path / "rogue-ca.pem",
        )
    assert refused.value.code == "wrong_ca"
    identity, _ = enrol(
        real.server.url,
        code_for(real, real.seats[0]),
        terminal_id="T-victim",
        fingerprint=real_fp,
        ca_path=tmp_path / CA_FILE,
    )
    agent = Agent(AgentConfig(server=rogue.server.url, identity=identity), MemoryJournal())
    agent.start()
    try:
        wait_for(lambda: "TLS connection from" in rogue.server.log(), 20, "a refused handshake")
        assert not agent.online and agent.stats.connects == 0
    finally:
        agent.stop()
    with pytest.raises(requests.exceptions.SSLError):
        pinned_session(identity.ca_path).get(f"{rogue.server.url}/healthz", timeout=5)


def test_plain_http_only_behind_the_flag_and_it_says_so(
    centre: Callable[..., Centre], tmp_path: Path
) -> None:
    """``--insecure-http``: every console page shows the warning and every log line
    carries the mark; over TLS neither, and the console's cookie is Secure."""
    plain = centre(tls=False)
    page = requests.get(f"{plain.server.url}/console/login", timeout=5).text
    assert 'id="insecure-http"' in page and "明文 HTTP" in page
    # A terminal that claims another seat than its enrolled one is logged (a warning).
    identity = plain.server.enrol(plain.seats[0], terminal_id="T-plain")
    term = Terminal(plain.server.url, terminal_id="T-plain", seat=plain.seats[1], identity=identity)
    assert term.hello()["seat"] == plain.seats[0]
    term.close()
    log = wait_for(lambda: "enrolled at" in plain.server.log() and plain.server.log(), 10, "")
    lines = [x for x in log.splitlines() if re.match(r"^\d{4}-\d\d-\d\d ", x)]
    assert lines and all("INSECURE plain HTTP" in x for x in lines), lines
    assert "WARNING: INSECURE plain HTTP" in log  # and the start says so too
    tls = centre(tls=True)
    session = tls.server.http()
    login = session.get(f"{tls.server.url}/console/login", timeout=5)
    assert 'id="insecure-http"' not in login.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert token is not None
    resp = session.post(
        f"{tls.server.url}/console/login",
        data={"username": "x", "password": "y", "csrf_token": token.group(1)},
        timeout=10,
    )
    cookie = resp.headers.get("Set-Cookie", "") or login.headers.get("Set-Cookie", "")
    assert "exam_console=" in cookie and "Secure" in cookie
    # The plain port does not speak TLS, and the TLS port does not speak plain HTTP.
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(tls.server.url.replace("https://", "http://") + "/healthz", timeout=5)


def test_the_server_certificate_is_renewed_under_the_same_ca(tmp_path: Path) -> None:
    """A new address (or a certificate near its end) gets a new server certificate from
    the same CA at startup: the terminals, which pinned the CA, need nothing."""
    from datetime import UTC, datetime, timedelta

    from exam_common.pki import ca_fingerprint
    from exam_server.tls import ensure_tls, server_cert_expires, server_hosts

    now = datetime.now(UTC)
    files = ensure_tls(tmp_path, centre="001", hosts=["10.9.8.7"], now=now)
    fp, cert = files.fingerprint(), files.server_cert.read_bytes()
    assert "10.9.8.7" in server_hosts(files)
    assert (files.ca_key.stat().st_mode & 0o777) == 0o600
    assert (files.server_key.stat().st_mode & 0o777) == 0o600
    ensure_tls(tmp_path, centre="001", hosts=["10.9.8.7"], now=now)
    assert files.server_cert.read_bytes() == cert  # nothing to do
    ensure_tls(tmp_path, centre="001", hosts=["10.9.8.6"], now=now)
    assert {"10.9.8.7", "10.9.8.6"} <= set(server_hosts(files))
    later = server_cert_expires(files) - timedelta(days=10)
    ensure_tls(tmp_path, centre="001", now=later)
    assert server_cert_expires(files) > later + timedelta(days=300)
    assert ca_fingerprint(files.ca_cert.read_bytes()) == fp  # the same CA throughout


def _exam_server(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exam_server.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _fingerprint(data_dir: Path) -> str:
    shown = _exam_server("tls", "show", "--data-dir", data_dir)
    assert shown.returncode == 0, shown.stderr
    found = re.search(r"CA fingerprint: (\S+)", shown.stdout)
    assert found is not None, shown.stdout
    return found.group(1)


def _online(c: Centre, identity: TerminalIdentity) -> bool:
    """The real agent with this pinned identity: does it get in (hello and all)?"""
    agent = Agent(AgentConfig(server=c.server.url, identity=identity), MemoryJournal()).start()
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and not agent.online:
            time.sleep(0.1)
        return agent.online
    finally:
        agent.stop()


def test_tls_commands_and_what_a_terminal_sees_after_each(
    centre: Callable[..., Centre], tmp_path: Path
) -> None:
    """``exam-server tls setup``, ``show``, ``rotate-server`` and ``rotate-ca`` as the
    admin runs them (docs/operations.md): after rotate-server the enrolled terminal, which
    pinned the CA, still gets in; after rotate-ca it is refused until it enrols again with
    the new fingerprint (the old fingerprint is refused at enrolment)."""
    fresh = tmp_path / "fresh"
    none = _exam_server("tls", "show", "--data-dir", fresh)
    assert none.returncode != 0 and "tls setup" in none.stderr
    made = _exam_server("tls", "setup", "--host", "10.9.8.7", "--data-dir", fresh)
    assert made.returncode == 0, made.stderr
    first = _fingerprint(fresh)
    assert first in made.stdout
    for name in ("ca.key", "server.key"):
        assert ((fresh / "tls" / name).stat().st_mode & 0o777) == 0o600
    assert "10.9.8.7" in _exam_server("tls", "show", "--data-dir", fresh).stdout
    again = _exam_server("tls", "setup", "--data-dir", fresh)
    assert again.returncode == 0 and _fingerprint(fresh) == first  # kept, not remade

    c = centre(tls=True)
    data = c.server.data_dir
    fp = _fingerprint(data)
    identity, _ = enrol(
        c.server.url,
        code_for(c, c.seats[0]),
        terminal_id="T-rotate",
        fingerprint=fp,
        ca_path=tmp_path / "pc" / CA_FILE,
    )
    assert _online(c, identity)

    cert = (data / "tls" / "server.pem").read_bytes()
    rotated = _exam_server("tls", "rotate-server", "--host", "10.9.8.6", "--data-dir", data)
    assert rotated.returncode == 0, rotated.stderr
    assert (data / "tls" / "server.pem").read_bytes() != cert
    assert _fingerprint(data) == fp
    assert "10.9.8.6" in _exam_server("tls", "show", "--data-dir", data).stdout
    c.server.stop()
    c.server.start()
    assert _online(c, identity)  # same CA: the terminal needs nothing

    refused = _exam_server("tls", "rotate-ca", "--data-dir", data)
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert _fingerprint(data) == fp
    new_ca = _exam_server("tls", "rotate-ca", "--yes", "--data-dir", data)
    assert new_ca.returncode == 0, new_ca.stderr
    new_fp = _fingerprint(data)
    assert new_fp != fp and new_fp in new_ca.stdout
    c.server.stop()
    c.server.start()
    assert not _online(c, identity)  # it pinned the old CA: nothing from this server
    with pytest.raises(requests.exceptions.SSLError):
        pinned_session(identity.ca_path).get(f"{c.server.url}/healthz", timeout=5)
    with pytest.raises(EnrolError) as stale:  # the old fingerprint no longer enrols
        enrol(
            c.server.url,
            code_for(c, c.seats[0]),
            terminal_id="T-rotate",
            fingerprint=fp,
            ca_path=tmp_path / "pc2" / CA_FILE,
        )
    assert stale.value.code == "wrong_ca"
    renewed, _ = enrol(
        c.server.url,
        code_for(c, c.seats[0]),
        terminal_id="T-rotate",
        fingerprint=new_fp,
        ca_path=tmp_path / "pc3" / CA_FILE,
    )
    assert _online(c, renewed)


def _client(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exam_client.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _run_terminal(data: Path, *args: str) -> tuple[str, str]:
    """``exam-client run`` for a few seconds: its candidate page, and its log."""
    from tests.conftest import free_port

    port = free_port()
    log = data.parent / f"{data.name}-run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "exam_client.cli", "run", "--data-dir", str(data)]
            + ["--ui-port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        page = wait_for(
            lambda: _get(f"http://127.0.0.1:{port}/"), 20, "the terminal's candidate page"
        )
        time.sleep(2)  # the agent connects and logs
    finally:
        proc.terminate()
        proc.wait(15)
    return page, log.read_text(errors="replace")


def _get(url: str) -> str | None:
    try:
        resp = requests.get(url, timeout=2)
    except requests.RequestException:
        return None
    return resp.text if resp.status_code == 200 else None


def test_a_terminal_enrolled_over_tls_refuses_plain_http_and_plain_http_says_so(
    centre: Callable[..., Centre], tmp_path: Path
) -> None:
    from tests.conftest import free_port

    """``exam-client run --server http://…`` of a terminal that pinned the centre CA is
    refused in one line (zh and en) unless ``--insecure-http`` is given; over TLS its
    candidate page and log are plain; a terminal on plain HTTP has the red banner on its
    candidate page and the mark on every log line, as the server has."""
    tls = centre(tls=True)
    pc = tmp_path / "pc-tls"
    enrolled = _client(
        "enrol",
        "--server",
        tls.server.url,
        "--code",
        code_for(tls, tls.seats[0]),
        "--ca-fingerprint",
        _fingerprint(tls.server.data_dir),
        "--data-dir",
        pc,
    )
    assert enrolled.returncode == 0, enrolled.stderr
    plain_url = tls.server.url.replace("https://", "http://")
    refused = _client("run", "--server", plain_url, "--data-dir", pc, "--ui-port", str(free_port()))
    assert refused.returncode != 0
    (line,) = refused.stderr.strip().splitlines()
    assert "明文 HTTP" in line and "refuses plain HTTP" in line and "--insecure-http" in line
    page, log = _run_terminal(pc)
    assert 'id="insecure-http"' not in page and "INSECURE" not in log
    page, log = _run_terminal(pc, "--server", plain_url, "--insecure-http")
    assert 'id="insecure-http"' in page  # the flag given: it runs, and says so

    plain = centre(tls=False)
    pc2 = tmp_path / "pc-plain"
    code = code_for(plain, plain.seats[1])
    enrolled = _client("enrol", "--server", plain.server.url, "--code", code, "--data-dir", pc2)
    assert enrolled.returncode == 0, enrolled.stderr
    page, log = _run_terminal(pc2)
    assert 'id="insecure-http"' in page and "明文 HTTP" in page and "plain HTTP" in page
    lines = [x for x in log.splitlines() if re.match(r"^\d{4}-\d\d-\d\d ", x)]
    assert lines and all("INSECURE plain HTTP" in x for x in lines), lines
