"""The attacks of issue 17, one test each: a real centre server (TLS unless a test is
about plain HTTP), real terminals (raw Socket.IO and the real agent), the console in
process, central in a thread. Fixtures keep it cheap: one migrated template database
per session, copied per test; a server's CA is made in milliseconds at its start."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from exam_server.db import Database
from exam_server.migrate import upgrade
from tests.console.conftest import console, console_template  # noqa: F401 - shared fixtures
from tests.factories import id_number_for, make_world
from tests.live import LiveServer


@dataclass
class Centre:
    db: Database
    server: LiveServer
    start: datetime
    seats: list[str]
    spare: list[str]
    attempt_ids: list[int]
    tickets: list[str]

    def candidate(self, n: int) -> tuple[str, str]:
        return self.tickets[n], id_number_for(n + 1)


@pytest.fixture(scope="session")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("security") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


@pytest.fixture
def centre(empty_db: Path, tmp_path: Path) -> Iterator[Callable[..., Centre]]:
    """``centre(tls=True, starts_in=2)``: a live centre with three candidates."""
    servers: list[LiveServer] = []
    pg: list[str] = []

    def make(
        *,
        tls: bool = True,
        starts_in: float = 2,
        candidates: int = 3,
        workers: bool = False,
        **env: str,
    ) -> Centre:
        """``workers``: PostgreSQL, two Socket.IO workers and Redis as their queue."""
        if workers:
            from tests.conftest import REDIS_URL, make_pg_database, port_open, require

            require(port_open("127.0.0.1", 6379), "Redis on 127.0.0.1:6379", "redis-server")
            db = Database(make_pg_database())
            upgrade(db)
            pg.append(db.url)
            env = {"EXAM_MESSAGE_QUEUE": REDIS_URL, **env}
        else:
            path = tmp_path / f"centre-{len(servers)}.db"
            shutil.copy(empty_db, path)
            db = Database(f"sqlite:///{path}")
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=starts_in)
        with db.write() as session:
            world = make_world(
                session,
                start=start,
                duration=timedelta(minutes=20),
                candidates=candidates,
                rules_s=(600, 600, 5),
            )
            seats = [world.attempt(i).seat.label for i in range(candidates)]
            spare = [s.label for s in world.rooms[0].seats if s.is_spare]
            ids = [world.attempt(i).id for i in range(candidates)]
            tickets = [c.ticket for c in world.candidates]
        server = LiveServer(
            db.url,
            tmp_path / f"server-{len(servers)}",
            tls=tls,
            extra_env=env or None,
            extra_args=["--workers", "2"] if workers else None,
        ).start()
        servers.append(server)
        return Centre(db, server, start, seats, spare, ids, tickets)

    yield make
    for s in servers:
        s.stop()
    if pg:
        from tests.conftest import drop_pg_database

        for url in pg:
            drop_pg_database(url)


def wait_for(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


CONSOLE_PASSWORD = "maple lantern 1987 river"


def live_console(c: Centre, username: str, role: Any) -> tuple[Any, str]:
    """A console account of ``role`` made in the live centre's database, signed in over
    HTTP as a browser is: the ``requests`` session (its cookie) and the page's CSRF token."""
    import re

    import requests

    from exam_server.accounts import service as accounts

    with c.db.write() as session:
        accounts.create_user(
            session,
            datetime.now(UTC),
            username=username,
            display_name=username,
            role=role,
            password=CONSOLE_PASSWORD,
            by="tests",
        )
    http = requests.Session()
    if c.server.ca_path is not None:
        http.verify = str(c.server.ca_path)
    page = http.get(f"{c.server.url}/console/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    resp = http.post(
        f"{c.server.url}/console/login",
        data={"username": username, "password": CONSOLE_PASSWORD, "csrf_token": token.group(1)},
        timeout=10,
        allow_redirects=False,
    )
    assert resp.status_code == 302, resp.text[:300]
    home = http.get(f"{c.server.url}/console/", timeout=10).text
    meta = re.search(r'name="csrf-token" content="([^"]+)"', home)
    assert meta is not None
    return http, meta.group(1)
