"""Console fixtures: a centre with two rooms, its accounts, and an app on a ManualClock.

The database is built and migrated once per session (argon2 hashing is deliberately
slow), then copied per test, so every test starts from the same state cheaply.
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from exam_server import create_app
from exam_server.accounts import service as accounts
from exam_server.accounts.models import Role
from exam_server.clock import ManualClock
from exam_server.db import Database
from exam_server.migrate import upgrade
from tests.conftest import T0
from tests.factories import make_world

PASSWORD = "correct horse 42"
START = T0 + timedelta(minutes=30)  # the sitting starts half an hour after T0


def png_photo(colour: str = "#4a7bd0") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (60, 80), colour).save(buf, "PNG")
    return buf.getvalue()


def seed(db: Database) -> dict[str, int]:
    """Two rooms (01: candidates 1-5, 02: 6-8), one 60-minute sitting, four accounts."""
    with db.write() as session:
        world = make_world(session, start=START, candidates=8, rooms=2, rows=2, cols=3, spare=1)
        world.candidates[0].photo = png_photo()
        users = {}
        for name, role in (
            ("admin", Role.ADMIN),
            ("chief", Role.CHIEF),
            ("inv1", Role.INVIGILATOR),
            ("inv2", Role.INVIGILATOR),
        ):
            users[name] = accounts.create_user(
                session,
                T0,
                username=name,
                display_name=f"{name}老师",
                role=role,
                password=PASSWORD,
                by="test",
            )
        sitting = world.sittings[0]
        accounts.assign_room(session, T0, users["inv1"], world.rooms[0], sitting.id, by="test")
        accounts.assign_room(session, T0, users["inv2"], world.rooms[1], None, by="test")
        return {
            "sitting": sitting.id,
            "room1": world.rooms[0].id,
            "room2": world.rooms[1].id,
            **{f"attempt{i + 1}": world.attempt(i).id for i in range(8)},
        }


@pytest.fixture(scope="session")
def console_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("console") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    ids = seed(db)
    db.dispose()
    return path, ids


@dataclass
class Console:
    app: Flask
    clock: ManualClock
    ids: dict[str, int]
    db: Database

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def login(self, username: str, password: str = PASSWORD) -> FlaskClient:
        client = self.app.test_client()
        resp = login(client, username, password)
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return client


def csrf_token(client: FlaskClient, path: str = "/console/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def login(client: FlaskClient, username: str, password: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client)
    return client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": token},
    )


def post(client: FlaskClient, path: str, body: dict | None = None):  # type: ignore[no-untyped-def]
    """A JSON POST as the page's scripts send it (with the CSRF header)."""
    token = csrf_token(client, "/console/")
    return client.post(path, json=body or {}, headers={"X-CSRFToken": token})


@pytest.fixture
def console(console_template: tuple[Path, dict[str, int]], tmp_path: Path) -> Iterator[Console]:
    template, ids = console_template
    path = tmp_path / "centre.db"
    shutil.copy(template, path)
    clock = ManualClock(T0)
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{path}", "DATA_DIR": str(tmp_path / "data"), "TESTING": True},
        clock=clock,
    )
    from exam_server.runtime import runtime

    hub = app.extensions["console_hub"]
    hub.autostart = False  # tests drain the hub themselves
    yield Console(app, clock, ids, runtime(app).db)
    hub.stop()
    runtime(app).db.dispose()
