"""Real servers and real Socket.IO clients for integration tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
import socketio

from exam_client import protocol as p
from tests.conftest import free_port


class LiveServer:
    """``exam-server run`` in a child process, on its own port, killable at will."""

    def __init__(
        self,
        db_url: str,
        data_dir: Path,
        *,
        extra_env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.extra_args = extra_args or []
        self.db_url = db_url
        self.data_dir = data_dir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {**os.environ, "EXAM_DOWNTIME_RECORD_S": "2", **(extra_env or {})}
        self.log_path = data_dir / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> LiveServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exam_server.cli",
                "run",
                "--port",
                str(self.port),
                "--database",
                self.db_url,
                "--data-dir",
                str(self.data_dir),
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,  # its own process group: kill() takes the workers too
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer /healthz within {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        """kill -9 of the server and every process it started: no shutdown code runs."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Terminal:
    """A bare Socket.IO terminal speaking the protocol (no journal: that is the agent's job)."""

    def __init__(
        self,
        url: str,
        *,
        terminal_id: str,
        seat: str | None,
        protocol: int = p.PROTOCOL_VERSION,
        transports: tuple[str, ...] = ("websocket",),
    ) -> None:
        self.pushes: list[tuple[str, Any]] = []
        self.sio = socketio.Client(reconnection=False)
        for event in ("sitting_started", "attempt_submitted", "paused", "resumed", "broadcast"):
            self.sio.on(event, self._recorder(event), namespace=p.NAMESPACE)
        self.sio.connect(
            url, namespaces=[p.NAMESPACE], transports=list(transports), wait_timeout=10
        )
        self.terminal_id, self.seat, self.protocol = terminal_id, seat, protocol

    def _recorder(self, event: str):  # type: ignore[no-untyped-def]
        def record(data: Any) -> None:
            self.pushes.append((event, data))

        return record

    def call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        reply = self.sio.call(event, data, namespace=p.NAMESPACE, timeout=20)
        assert isinstance(reply, dict)
        return reply

    def hello(self) -> dict[str, Any]:
        return self.call(
            "hello",
            {
                "protocol": self.protocol,
                "client": "tests",
                "terminal_id": self.terminal_id,
                "seat": self.seat,
            },
        )

    def login(self, ticket: str, id_number: str) -> dict[str, Any]:
        return self.call("login", {"ticket": ticket, "id_number": id_number})

    def save(self, attempt_id: int, seq: int, item: str, response: list[str]) -> dict[str, Any]:
        return self.call(
            "save", {"attempt_id": attempt_id, "seq": seq, "item_id": item, "response": response}
        )

    def submit(self, attempt_id: int, last_seq: int) -> dict[str, Any]:
        return self.call("submit", {"attempt_id": attempt_id, "last_seq": last_seq})

    def wait_push(self, event: str, timeout: float = 20) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, data in self.pushes:
                if name == event:
                    return data
            time.sleep(0.05)
        raise AssertionError(f"no {event} push within {timeout}s; got {self.pushes}")

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead link
            self.sio.disconnect()
