"""Fixtures for the terminal client: a real centre server with a short sitting, real
``exam-client run`` processes, and a small HTTP driver for the candidate UI's endpoints."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from exam_server.db import Database
from exam_server.migrate import upgrade
from seating.tickets import make_ticket
from tests.conftest import free_port
from tests.factories import World, id_number_for, make_world, rebind
from tests.live import SERVERS, LiveServer


@dataclass
class Sitting:
    """A live server with one short sitting and candidates whose tickets are valid."""

    db: Database
    server: LiveServer
    start: datetime
    end: datetime
    tickets: list[str]
    seats: list[str]
    spare_seats: list[str]
    attempt_ids: list[int]
    tmp: Path

    def candidate(self, n: int) -> tuple[str, str]:
        return self.tickets[n], id_number_for(n + 1)

    def wait_until(self, instant: datetime) -> None:
        delay = (instant - datetime.now(UTC)).total_seconds()
        if delay > 0:
            time.sleep(delay)

    def jump_to_end(self) -> None:
        """Move the centre's clock just past the sitting's end (time from the clock, not a
        sleep): the server's scheduler ends the sitting at once."""
        self.server.jump_to(self.end + timedelta(milliseconds=300))


def wait_true(page: Any, expression: str, arg: object = None, timeout: float = 15) -> None:
    """Until ``expression`` is true in ``page``. Polled with ``page.evaluate`` (the browser's
    devtools protocol, which the page's Content-Security-Policy leaves alone), not with
    ``wait_for_function``: in a clean-clone CI run its polling was refused by the
    terminal's ``script-src 'self'`` ("unsafe-eval"), though it passes most runs."""
    end = time.monotonic() + timeout
    while not (page.evaluate(expression, arg) if arg is not None else page.evaluate(expression)):
        if time.monotonic() > end:
            raise AssertionError(f"not true within {timeout} s: {expression}")
        time.sleep(0.05)


def province_tickets(world: World) -> list[str]:
    """Give the factory's candidates numbers as Henan's registration system issues them
    (12 digits, no check digit: the manual's sample 250800610001 and the next ones), and
    keep the plan's rule the province's (``tests.factories.PROVINCE_TICKETS``), so the
    terminal and the server apply that rule and no check digit of ours."""
    from tests.factories import PROVINCE_TICKETS

    world.plan.ticket_rule = PROVINCE_TICKETS.model_dump(mode="json")
    tickets = []
    for n, cand in enumerate(world.candidates, start=1):
        cand.ticket = f"25080061{n:04d}"
        tickets.append(cand.ticket)
    return tickets


def valid_tickets(world: World) -> list[str]:
    """Give the factory's candidates the numbers central makes (``GENERATED``: the year,
    centre, room and seat, and a Damm check digit), and the plan that rule, so that the
    terminal's keyboard check and the server apply a check digit too."""
    from exam_common.tickets import GENERATED

    world.plan.ticket_rule = GENERATED.model_dump(mode="json")
    tickets = []
    for n, cand in enumerate(world.candidates, start=1):
        cand.ticket = make_ticket(2026, "0001", 1, n)
        tickets.append(cand.ticket)
    return tickets


@pytest.fixture
def make_sitting(tmp_path: Path) -> Iterator[Callable[..., Sitting]]:
    servers: list[LiveServer] = []

    def make(
        *,
        starts_in: float = 4,
        duration: float = 40,
        candidates: int = 2,
        rules_s: tuple[int, int, int] = (120, 30, 6),
        key_released: bool = True,
        photo: bytes | None = None,
        tickets: str = "generated",
        sittings: int = 1,
    ) -> Sitting:
        """``tickets``: ``generated`` (central's own numbers, with a check digit) or
        ``province`` (the province's, as Henan issues them: :func:`province_tickets`)."""
        db = Database(f"sqlite:///{tmp_path / 'centre.db'}")
        upgrade(db)
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=starts_in)
        with db.write() as session:
            world = make_world(
                session,
                start=start,
                duration=timedelta(seconds=duration),
                candidates=candidates,
                rules_s=rules_s,
                key_released=key_released,
                sittings=sittings,
            )
            issued = province_tickets(world) if tickets == "province" else valid_tickets(world)
            rebind(world)
            if photo is not None:
                for cand in world.candidates:
                    cand.photo = photo
            session.flush()
            seats = [world.attempt(i).seat.label for i in range(candidates)]
            spare = [s.label for s in world.rooms[0].seats if s.is_spare]
            attempt_ids = [world.attempt(i).id for i in range(candidates)]
        server = LiveServer(db.url, tmp_path / "server", shifted_clock=True).start()
        servers.append(server)
        return Sitting(
            db,
            server,
            start,
            start + timedelta(seconds=duration),
            issued,
            seats,
            spare,
            attempt_ids,
            tmp_path,
        )

    yield make
    for s in servers:
        s.stop()


@dataclass
class ClientProcess:
    """``exam-client run`` in a child process, with its UI's endpoints as methods."""

    server_url: str
    seat: str
    data_dir: Path
    port: int = field(default_factory=free_port)
    warn_at: str = "900,300"
    extra: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    #: where the child's output goes (default: client.log in its data folder)
    log_path: Path | None = None
    #: enrol again at a start that finds the enrolment gone (False: fail instead, where a
    #: test checks the terminal's files survive, as a real terminal would not re-enrol)
    reenrol: bool = True
    #: this folder was enrolled by an earlier start
    enrolled: bool = False

    @property
    def log_file(self) -> Path:
        return self.log_path or self.data_dir / "client.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> ClientProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.enrol()
        log = open(self.log_file, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exam_client.cli",
                "run",
                "--server",
                self.server_url,
                "--ui-port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--warn-at",
                self.warn_at,
                *self.extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"client exited {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/api/state", timeout=1).ok:
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"client UI did not answer:\n{self.log()}")

    def enrol(self) -> None:
        """Enrol this terminal's data folder at its seat (as ``exam-client enrol`` would),
        unless it is already enrolled there."""
        from exam_client import identity as ident
        from exam_client.journal import SqliteJournal

        current = ident.load(self.data_dir)
        if current is not None and current.seat == self.seat:
            self.enrolled = True
            return
        if self.enrolled and not self.reenrol:
            raise AssertionError(
                f"{self.data_dir}: the terminal's enrolment is gone after a restart "
                f"({sorted(p.name for p in self.data_dir.iterdir())}); a real terminal "
                "would have to enrol again"
            )
        journal = SqliteJournal(self.data_dir / "journal.db")
        terminal_id = journal.terminal_id
        journal.close()
        server = SERVERS[self.server_url]
        identity = server.enrol(self.seat, terminal_id=terminal_id)
        if identity.ca_path is not None:
            import shutil

            shutil.copy(identity.ca_path, self.data_dir / ident.CA_FILE)
            identity.ca_path = self.data_dir / ident.CA_FILE
        ident.save(identity, self.data_dir)
        self.enrolled = True

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        path = self.log_file
        return path.read_text(errors="replace") if path.exists() else ""

    def state(self) -> dict[str, Any]:
        return requests.get(self.url + "/api/state", timeout=5).json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return requests.post(self.url + path, json=body or {}, timeout=30).json()

    def paper(self) -> dict[str, Any]:
        return requests.get(self.url + "/api/paper", timeout=5).json()

    def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                last = self.state()
                if pred(last):
                    return last
            time.sleep(0.1)
        raise AssertionError(
            f"condition not met within {timeout}s; last state {last}\n{self.log()}"
        )


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[Callable[..., ClientProcess]]:
    started: list[ClientProcess] = []

    def make(server_url: str, seat: str, name: str = "term", **kw: Any) -> ClientProcess:
        c = ClientProcess(server_url, seat, tmp_path / name, **kw).start()
        started.append(c)
        return c

    yield make
    for c in started:
        c.stop()
