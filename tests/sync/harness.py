"""Central and a centre as real processes on loopback, and the tools as real commands."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from tests.conftest import free_port

PY = sys.executable


#: how long each command took (seconds): tests size their waits from it on a loaded machine
DURATIONS: list[float] = []


def run(
    args: list[str], env: dict[str, str], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    began = time.monotonic()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=180)
    DURATIONS.append(time.monotonic() - began)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


class Central:
    """``exam-central`` with its own database and data folder; ``run`` as a child process."""

    def __init__(self, db_url: str, folder: Path) -> None:
        self.db_url, self.folder = db_url, folder
        folder.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "EXAM_CENTRAL_DATABASE_URL": db_url,
            "EXAM_CENTRAL_DATA_DIR": str(folder / "data"),
        }
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = folder / "central.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def public_key(self) -> Path:
        return self.folder / "data" / "central.pub"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run([PY, "-m", "central.cli", *args], self.env, check=check)

    def start(
        self, timeout: float = 30, *, serving: tuple[str, ...] = ("--workers", "2")
    ) -> Central:
        """``exam-central run`` as in production (gunicorn, two workers unless ``serving``
        says otherwise), ready when ``/healthz`` answers."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [PY, "-m", "central.cli", "run", "--port", str(self.port), *serving],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            # its own process group: the gunicorn master leads it, so a power cut
            # (tests/faults/lazyfs.py) takes the workers with it
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"central exited:\n{self.log_path.read_text()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"central did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def centre_env(db_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "EXAM_DATABASE_URL": db_url,
        "EXAM_DATA_DIR": str(data_dir),
        **extra,
    }


def sync(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([PY, "-m", "exam_server.sync.cli", *args], env, check=check)


def server_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run([PY, "-m", "exam_server.cli", *args], env)


def lead_time(commands: int, *, floor: float = 15) -> timedelta:
    """Enough time for ``commands`` more commands, judged by the recent ones."""
    recent = DURATIONS[-6:] or [2.0]
    return timedelta(seconds=max(floor, commands * sum(recent) / len(recent) + 5))


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_until(instant: datetime) -> None:
    delay = (instant - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay)
