"""`make demo`'s two steps on a fresh folder: the server answers /healthz and shows the sittings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from exam_client.identity import enrol
from tests.conftest import free_port
from tests.live import Terminal

pytestmark = pytest.mark.slow


def test_demo_starts_a_server_with_the_seeded_sittings(tmp_path: Path) -> None:
    """`make demo` is `exam-server demo`: it builds central's package with central's own
    command, seeds the centre, writes its centre.toml and serves; a second `make demo`
    while it runs touches nothing, and a stopped demo is deleted only when asked."""
    pkg = tmp_path / "data" / "central"
    port, central_port = free_port(), free_port()
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exam_server.cli",
                "demo",
                "--data-dir",
                str(tmp_path / "data"),
                "--port",
                str(port),
                "--central-port",
                str(central_port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # the demo seeds central and the centre before it serves: well under a minute on
        # a quiet machine, up to three on a loaded CI machine (seen at load average 11)
        deadline = time.monotonic() + 180
        health = None
        while time.monotonic() < deadline:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.2)
        assert health is not None and health.status_code == 200, log.read_text()
        assert health.json()["scheduler"] == "running"
        text = log.read_text()
        assert "DEMO-ZYDD-L4" in text and "职业道德" in text and "快速模式" in text
        # the mode line says the sittings' own length and windows (the quick mode's 3 min)
        assert "快速模式：每科 6 分钟，开考前 3 分钟可登录，开考 3 分钟后不得入场" in text
        # Where each part is, and the one time zone, said once.
        centre = tmp_path / "data" / "centre"
        assert f"考点数据目录 / centre data: {centre}" in text
        assert text.count("所有时间均为考点时区 Asia/Shanghai") == 1
        assert f"exam-sync status --data-dir {centre}" in text
        # The console's three accounts, the centre admin's among them, printed and real.
        for account in ("主考 chief: chief", "监考 invigilator, room 001: inv01"):
            assert f"{account} / demo-2026-exam" in text, text
        assert "考点管理员 centre admin: admin / demo-2026-exam" in text, text
        console = requests.Session()
        form = console.get(f"http://127.0.0.1:{port}/console/login", timeout=10).text
        token = re.search(r'name="csrf-token" content="([^"]+)"', form)
        assert token, form[:300]
        home = console.post(
            f"http://127.0.0.1:{port}/console/login",
            data={"username": "admin", "password": "demo-2026-exam", "csrf_token": token[1]},
            timeout=30,
        )
        assert home.url.endswith("/console/") and "考点管理员查看系统状态" in home.text, home.text
        # A second demo on the same folder, while this one runs: refused, nothing touched.
        before = {p: p.stat().st_mtime_ns for p in (centre / "centre.db", pkg / "central.db")}
        again = subprocess.run(
            [sys.executable, "-m", "exam_server.cli", "demo", "--data-dir", str(tmp_path / "data")]
            + ["--port", str(free_port())],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert again.returncode == 1 and "Traceback" not in again.stderr
        assert f"演示正在运行（pid {proc.pid}" in again.stderr and "kill" in again.stderr
        assert "demo centre ready" not in again.stdout
        assert before == {p: p.stat().st_mtime_ns for p in before}
        # The centre's tools find the demo through its folder alone.
        status = subprocess.run(
            [sys.executable, "-m", "exam_server.sync.cli", "status", "--data-dir", str(centre)],
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("EXAM_")},
        )
        assert "考点 0101" in status.stdout and "考试包：已导入 1 个" in status.stdout
        # A real central beside it, on its own port, which the centre reached through
        # exam-sync (package pulled; the keys come from it at the start).
        assert f"省中心 / central: http://127.0.0.1:{central_port}" in text
        assert requests.get(f"http://127.0.0.1:{central_port}/healthz", timeout=5).ok
        assert "省中心 http://127.0.0.1:" in status.stdout
        results = subprocess.run(
            [sys.executable, "-m", "central.cli", "results", "--database"]
            + [f"sqlite:///{pkg / 'central.db'}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert results.returncode == 0 and "尚未收到成绩包" in results.stdout
        # A candidate from the printed roster can log in at their seat before the start.
        assert "--insecure-http" in text and "INSECURE" in text  # says so on every log line
        first = json.loads((tmp_path / "data" / "roster.json").read_text())[0]
        # The terminal enrols at the first candidate's seat with the code the demo printed
        # into its codes file (the real HTTP path), then proves its key at hello.
        codes = json.loads((tmp_path / "data" / "centre" / "enrol-codes.json").read_text())
        identity, _ = enrol(
            f"http://127.0.0.1:{port}",
            codes["codes"][first["seat"]],
            terminal_id="demo-t1",
        )
        assert identity.seat == first["seat"]
        term = Terminal(
            f"http://127.0.0.1:{port}", terminal_id="demo-t1", seat=None, identity=identity
        )
        try:
            assert term.hello()["ok"]
            reply = term.login(first["ticket"], first["id_number"])
            assert reply["ok"], reply
            assert (
                reply["sitting"]["subject"] == "职业道德"
                and reply["paper"]
                and reply["paper_key"] is None
            )
        finally:
            term.close()
    finally:
        proc.terminate()
        proc.wait(20)
    # `kill` of the demo stops its central too (nothing left running on its port).
    with pytest.raises(requests.RequestException):
        requests.get(f"http://127.0.0.1:{central_port}/healthz", timeout=2)


def test_a_stopped_demo_is_deleted_only_when_asked(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "exam_server.cli", "demo", "--data-dir", str(data)]
    cmd += ["--port", str(free_port()), "--seed-only", "--escrow"]
    first = subprocess.run(
        cmd, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL
    )
    assert first.returncode == 0, first.stderr
    db = data / "centre" / "centre.db"
    stamp = db.stat().st_mtime_ns
    asked = subprocess.run(
        cmd, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL
    )
    assert asked.returncode == 1 and "Traceback" not in asked.stderr
    assert "未作任何改动" in asked.stderr and "--reset" in asked.stderr
    assert db.stat().st_mtime_ns == stamp
    reset = subprocess.run(
        [*cmd, "--reset"], capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL
    )
    assert reset.returncode == 0, reset.stderr
    assert db.stat().st_mtime_ns != stamp
