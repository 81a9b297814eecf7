"""Secrets at rest (issue 17): ``centre.db`` 0644 with released keys in plaintext, the
terminal journal 0644 with the candidate's ID number, the demo's central key and secrets
0644. Now: data folders 0700, databases and journals 0600, released keys sealed under the
centre secret, no ID number on the terminal."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from exam_server.plans.models import Sitting
from question_bank.package import derive_sitting_key
from tests.client.conftest import ClientProcess, clients  # noqa: F401 - the fixture
from tests.factories import RELEASE_SECRET
from tests.security.conftest import Centre

pytestmark = pytest.mark.slow


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_centre_keeps_its_files_private_and_no_released_key_in_plaintext(
    centre: Callable[..., Centre],
) -> None:
    c = centre(tls=True, starts_in=-1)  # started: the sitting's key is in the database
    data = c.server.data_dir
    db_file = Path(c.db.url.removeprefix("sqlite:///"))
    assert mode(data) == 0o700
    assert mode(data / "tls") == 0o700
    for f in (data / "tls" / "ca.key", data / "tls" / "server.key", data / "secret_key"):
        assert mode(f) == 0o600, f
    for f in (db_file, Path(f"{db_file}-wal"), db_file.with_name(db_file.stem + ".scheduler.db")):
        if f.exists():
            assert mode(f) == 0o600, f
    with c.db.read() as session:
        sitting = session.query(Sitting).one()
        code = sitting.code
        assert sitting.sitting_key is not None
    wal = Path(f"{db_file}-wal")
    raw = db_file.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert derive_sitting_key(RELEASE_SECRET, code) not in raw  # only its sealed form


def test_the_terminal_keeps_no_id_number_and_its_files_private(
    centre: Callable[..., Centre],
    clients: Callable[..., ClientProcess],  # noqa: F811
) -> None:
    """A candidate logs in, answers, the agent is killed and restarted (it resumes with a
    token, not the ID number): the ID number is nowhere in the terminal's folder, whose
    files (journal, key) only its owner can read."""
    c = centre(tls=True, starts_in=-1)
    term = clients(c.server.url, c.seats[0], "T")
    term.wait_for(lambda s: s["online"])
    ticket, id_number = c.candidate(0)
    assert term.post("/api/login", {"ticket": ticket, "id_number": id_number})["ok"]
    term.post("/api/confirm")
    term.wait_for(lambda s: s["screen"] == "paper")
    q = term.paper()["questions"][0]
    assert term.post(
        "/api/answer", {"item_id": q["item_id"], "labels": [q["options"][0]["label"]]}
    )["ok"]
    term.wait_for(lambda s: s["pending"] == 0)
    term.kill()
    term.start()
    term.wait_for(lambda s: s["screen"] == "paper" and s["attempt_id"] is not None)
    folder = term.data_dir
    assert mode(folder) == 0o700
    for name in ("journal.db", "terminal.key", "enrolment.json"):
        assert mode(folder / name) == 0o600, name
    for f in folder.rglob("*"):
        if f.is_file():
            assert id_number.encode() not in f.read_bytes(), f


def test_the_demo_keeps_central_key_and_secrets_private(tmp_path: Path) -> None:
    out = tmp_path / "central"
    subprocess.run(
        [sys.executable, "-m", "central.cli", "demo-package", "--out", str(out)],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert mode(out / "central.key") == 0o600
    assert mode(out / "secrets.json") == 0o600
