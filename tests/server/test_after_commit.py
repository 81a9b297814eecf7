"""The unit of work's after-commit hook (exam_server/db.py, ``after_commit``): what others
must hear of a change (pushes, the live map, the scheduler) is told once it has committed,
in order, and never when it rolls back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from exam_server.db import Database, after_commit
from exam_server.migrate import upgrade
from exam_server.system.models import ServerState


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(database)
    return database


def stored(db: Database) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(ServerState.key)))


def test_told_after_the_commit_in_order(db: Database) -> None:
    told: list[tuple[str, list[str]]] = []
    with db.write() as s:
        s.add(ServerState(key="k1", value=""))
        after_commit(s, lambda: told.append(("first", stored(db))))
        after_commit(s, lambda: told.append(("second", stored(db))))
        assert told == []  # nothing before the commit
    assert told == [("first", ["k1"]), ("second", ["k1"])]  # the change is visible to them


def test_never_told_when_it_rolls_back(db: Database) -> None:
    told: list[str] = []
    with pytest.raises(RuntimeError), db.write() as s:
        s.add(ServerState(key="k1", value=""))
        after_commit(s, lambda: told.append("pushed"))
        raise RuntimeError("refused")
    assert told == [] and stored(db) == []
    with db.write() as s:  # the next unit starts clean: nothing left over
        s.add(ServerState(key="k2", value=""))
    assert told == []


def test_a_failed_notice_is_logged_and_the_others_still_run(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    told: list[str] = []

    def broken() -> None:
        raise ConnectionError("socket gone")

    with db.write() as s:
        s.add(ServerState(key="k1", value=""))
        after_commit(s, broken)
        after_commit(s, lambda: told.append("second"))
    assert told == ["second"] and stored(db) == ["k1"]
    assert "after-commit work" in caplog.text and "socket gone" in caplog.text


def test_transact_tells_after_its_commit_too(db: Database) -> None:
    told: list[list[str]] = []

    def unit(s) -> int:  # type: ignore[no-untyped-def]
        s.add(ServerState(key="k1", value=""))
        after_commit(s, lambda: told.append(stored(db)))
        return 7

    assert db.transact(unit) == 7
    assert told == [["k1"]]
