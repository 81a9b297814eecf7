"""`make demo`'s two steps on a fresh folder: the server answers /healthz and shows the sittings."""

from __future__ import annotations

import json
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
    pkg = tmp_path / "central"
    subprocess.run(
        [sys.executable, "-m", "central.cli", "demo-package", "--out", str(pkg)],
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exam_server.cli",
                "demo",
                "--package-dir",
                str(pkg),
                "--data-dir",
                str(tmp_path / "data"),
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 40
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
        # A candidate from the printed roster can log in at their seat before the start.
        assert "--insecure-http" in text and "INSECURE" in text  # says so on every log line
        first = json.loads((pkg / "roster.json").read_text())[0]
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
        proc.wait(10)
