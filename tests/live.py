"""Real servers and real Socket.IO clients for integration tests.

A :class:`LiveServer` serves plain HTTP through the explicit ``--insecure-http`` flag
unless it is asked for TLS (``tls=True``), with the tests' centre secret
(:data:`tests.factories.CENTRE_SECRET`). Terminals are enrolled the real way (a one-time
code, a proof signed with the terminal's own key) straight into the server's database,
which is much cheaper than a round trip per terminal: :func:`enrol`.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import socketio
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from exam_client.identity import TerminalIdentity, pinned_session
from exam_common import protocol as p
from exam_common.durable import write_atomic
from exam_common.pki import enrol_proof_message
from tests.conftest import free_port
from tests.factories import CENTRAL_KEY, CENTRAL_PUBLIC_PEM, CENTRE_SECRET

#: the live servers of this process, by URL (terminals find their server's database here)
SERVERS: dict[str, LiveServer] = {}


def enrol(
    db_url: str,
    seat: str,
    *,
    server: str = "",
    terminal_id: str | None = None,
    ca_path: Path | None = None,
    key: Ed25519PrivateKey | None = None,
    central_key: Ed25519PublicKey | None = None,
) -> TerminalIdentity:
    """Enrol a new terminal at ``seat`` through the service (code, proof) in the server's
    database, and return its identity as ``exam-client enrol`` would have saved it (with
    the centre of the seat, as the server answers: `exam-client run` checks it)."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from exam_server.db import Database
    from exam_server.terminals import service

    key = key or Ed25519PrivateKey.generate()
    terminal_id = terminal_id or f"T-{uuid.uuid4().hex[:16]}"
    public = key.public_key().public_bytes_raw().hex()
    now = datetime.now(UTC)
    db = Database(db_url)
    try:
        with db.write() as session:
            seats = service.seats_for(session, labels=[seat])
            (code,) = service.issue_codes(session, now, seats, by="tests", valid=timedelta(hours=1))
            proof = base64.b64encode(
                key.sign(enrol_proof_message(code.code, terminal_id, public))
            ).decode()
            centre = seats[0].room.centre.code
            service.enrol(
                session,
                now,
                code=code.code,
                terminal_id=terminal_id,
                public_key=public,
                proof=proof,
                address="tests",
            )
    finally:
        db.dispose()
    return TerminalIdentity(
        terminal_id=terminal_id,
        key=key,
        server=server,
        seat=seat,
        centre=centre,
        central_key=central_key or CENTRAL_KEY.public_key(),
        ca_path=ca_path,
    )


class LiveServer:
    """``exam-server run`` in a child process, on its own port, killable at will."""

    def __init__(
        self,
        db_url: str,
        data_dir: Path,
        *,
        extra_env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        tls: bool = False,
        central_key: bool = True,
        shifted_clock: bool = False,
        write_secret: bool = True,
    ) -> None:
        self.tls = tls
        #: write the tests' centre secret before the first start (False: the server makes
        #: its own, as in production, where a test checks it survives)
        self.write_secret = write_secret
        #: give the server the tests' central key (factories sign bindings with it);
        #: False where a test sets a centre up with its own central (exam-sync setup)
        self.central_key = central_key
        self.extra_args = (extra_args or []) + ([] if tls else ["--insecure-http"])
        self.db_url = db_url
        self.data_dir = data_dir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {**os.environ, "EXAM_DOWNTIME_RECORD_S": "2", **(extra_env or {})}
        self.log_path = data_dir / f"server-{self.port}.log"
        #: the centre's clock, shifted by a file beside the data folder that :meth:`jump_to`
        #: moves forward (exam_server/clock.py, ShiftedClock): time from the clock, not sleeps
        self.clock_file = data_dir.parent / f"{data_dir.name}.clock" if shifted_clock else None
        if self.clock_file is not None:
            self.env["EXAM_CLOCK_OFFSET_FILE"] = str(self.clock_file)

    def offset(self) -> timedelta:
        """How far the centre's clock is ahead of this machine's."""
        if self.clock_file is None or not self.clock_file.exists():
            return timedelta(0)
        return timedelta(seconds=float(self.clock_file.read_text()))

    def now(self) -> datetime:
        """The centre's time, as the server reads it."""
        return datetime.now(UTC) + self.offset()

    def jump_to(self, instant: datetime) -> None:
        """Move the centre's clock forward to ``instant`` (every process at once)."""
        assert self.clock_file is not None, "LiveServer(shifted_clock=True) to move the clock"
        ahead = (instant - self.now()).total_seconds()
        assert ahead > 0, (
            f"the centre's clock only moves forward ({instant} is {-ahead:.1f} s past)"
        )
        write_atomic(self.clock_file, f"{self.offset().total_seconds() + ahead:.6f}\n")
        if self.proc is not None and self.proc.poll() is None:
            self._wait_heartbeat(instant)

    def _wait_heartbeat(self, instant: datetime, timeout: float = 30) -> None:
        """Until the server's scheduler has taken the jump in (its heartbeat moved with the
        clock), so a kill right after it is not taken for a power cut of the jump's length."""
        from exam_server.clock import as_utc
        from exam_server.db import Database
        from exam_server.system.models import ServerState
        from exam_server.system.service import HEARTBEAT

        db = Database(self.db_url)
        try:
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                with db.read() as session:
                    row = session.get(ServerState, HEARTBEAT)
                    if row is not None and as_utc(row.at) >= instant:
                        return
                time.sleep(0.02)
        finally:
            db.dispose()
        raise AssertionError(
            f"the server did not take the clock jump to {instant} in:\n{self.log()}"
        )

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_path(self) -> Path | None:
        """The centre CA a terminal pins (TLS servers)."""
        return self.data_dir / "tls" / "ca.pem" if self.tls else None

    def http(self) -> requests.Session:
        """requests that trust this server's CA only."""
        return pinned_session(self.ca_path)

    def enrol(self, seat: str, **kw: Any) -> TerminalIdentity:
        """A terminal enrolled at ``seat``, pinning the central key this server has."""
        from question_bank.package import load_public_key

        central = None
        pem = self.env.get("EXAM_CENTRAL_PUBLIC_KEY")
        if pem and Path(pem).exists():
            central = load_public_key(Path(pem).read_bytes())
        elif not self.central_key:  # the central this centre pinned, as the server finds it
            from exam_server.config import Config
            from exam_server.db import Database
            from exam_server.terminals.service import central_public_key_pem

            cfg = Config.from_mapping({"DATABASE_URL": self.db_url, "DATA_DIR": str(self.data_dir)})
            db = Database(self.db_url)
            try:
                with db.read() as session:
                    found = central_public_key_pem(session, cfg)
            finally:
                db.dispose()
            if found:
                central = load_public_key(found.encode())
        return enrol(
            self.db_url, seat, server=self.url, ca_path=self.ca_path, central_key=central, **kw
        )

    def start(self, timeout: float = 30) -> LiveServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secret = self.data_dir / "secret_key"
        if self.write_secret and not secret.exists():
            write_atomic(secret, CENTRE_SECRET)  # durable: some tests cut the power
        if self.central_key and "EXAM_CENTRAL_PUBLIC_KEY" not in self.env:
            pem = self.data_dir / "tests-central.pub"
            pem.write_text(CENTRAL_PUBLIC_PEM)
            self.env["EXAM_CENTRAL_PUBLIC_KEY"] = str(pem)
        SERVERS[self.url] = self
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
                if self.http().get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except OSError:  # not up yet (or its CA not written yet): requests' errors too
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
    """A bare Socket.IO terminal speaking the protocol (no journal: that is the agent's
    job). Enrolled at ``seat`` of the :class:`LiveServer` at ``url`` unless ``identity``
    is given, or ``enrolled`` is False (a terminal the server must refuse)."""

    def __init__(
        self,
        url: str,
        *,
        terminal_id: str,
        seat: str | None,
        protocol: int = p.PROTOCOL_VERSION,
        transports: tuple[str, ...] = ("websocket",),
        identity: TerminalIdentity | None = None,
        enrolled: bool = True,
    ) -> None:
        self.pushes: list[tuple[str, Any]] = []
        server = SERVERS.get(url)
        if identity is None and enrolled and seat and server is not None:
            identity = server.enrol(seat, terminal_id=terminal_id)
        self.identity = identity
        session = pinned_session(server.ca_path if server else None)
        self.sio = socketio.Client(reconnection=False, http_session=session)
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
        """``challenge`` then ``hello`` with the proof (none without an identity)."""
        challenge = self.call("challenge", {})
        proof = (
            self.identity.prove(base64.b64decode(challenge["challenge"]))
            if self.identity is not None and challenge.get("ok")
            else None
        )
        return self.call(
            "hello",
            {
                "protocol": self.protocol,
                "client": "tests",
                "terminal_id": self.terminal_id,
                "seat": self.seat,
                "proof": proof,
            },
        )

    def resume(self, attempt_id: int, token: str, sitting_id: int | None = None) -> dict[str, Any]:
        """``resume``; ``sitting_id``: the sitting the terminal says it was in."""
        return self.call(
            "resume",
            {"attempt_id": attempt_id, "token": token}
            | ({"sitting_id": sitting_id} if sitting_id is not None else {}),
        )

    def login(self, ticket: str, id_number: str, sitting_id: int | None = None) -> dict[str, Any]:
        """``login``; ``sitting_id``: the sitting to log in to (omitted: the one open now)."""
        return self.call(
            "login",
            {"ticket": ticket, "id_number": id_number}
            | ({"sitting_id": sitting_id} if sitting_id is not None else {}),
        )

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
