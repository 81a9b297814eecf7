"""One time zone for the centre: a centre far from China (TIME_ZONE=Europe/London in its
centre.toml) sees its own times in a candidate's refusal, in the lost-time reason the log
and the room record keep, and on every command line (enrolment codes and terminals, a
restored backup's time): never China time, never UTC with a "Z"."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from exam_server.config import write_file
from exam_server.console.models import GapStatus, TerminalGap
from exam_server.eventlog.models import Event
from exam_server.sittings.engine import Refusal, RuleError
from exam_server.terminals.models import TerminalEnrolment
from tests.conftest import T0
from tests.console.conftest import START, Console, post
from tests.console.test_console_actions import candidate_login

LONDON = ZoneInfo("Europe/London")
CHINA = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def london(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The console fixture's data folder, configured for London before the app starts."""
    for var in [v for v in os.environ if v.startswith("EXAM_")]:
        monkeypatch.delenv(var)
    data = tmp_path / "data"
    data.mkdir()
    write_file(data, {"TIME_ZONE": "Europe/London"})
    yield data


def hm(at: datetime, zone: ZoneInfo, seconds: bool = False) -> str:
    return at.astimezone(zone).strftime("%H:%M:%S" if seconds else "%H:%M")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXAM_")}
    proc = subprocess.run(
        [sys.executable, "-m", "exam_server.cli", *args],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_every_time_is_in_the_configured_zone(
    london: Path, console: Console, tmp_path: Path
) -> None:
    from exam_server.runtime import runtime

    assert runtime(console.app).config.TIME_ZONE == "Europe/London"
    # 1. A refusal the candidate reads: "（{at} 起）" in the centre's time.
    from exam_server.sittings.namespace import _edge

    opens = START - timedelta(minutes=30)

    @_edge
    def refused(self: object, data: object = None) -> None:
        raise RuleError(
            Refusal.ENTRY_NOT_OPEN, params={"entry": timedelta(minutes=30), "at": opens}
        )

    with console.app.app_context():
        reply = refused(None)
    assert reply["code"] == "entry_not_open"
    assert f"（{hm(opens, LONDON)} 起）" in reply["message"], reply["message"]
    assert hm(opens, CHINA) not in reply["message"]

    # 2. The lost-time reason in the log (and so in the room record).
    console.clock.set(START + timedelta(minutes=1))
    a1 = candidate_login(console, 1, "01-01")
    gone, back = START + timedelta(minutes=5), START + timedelta(minutes=8, seconds=20)
    with console.db.write() as db:
        gap = TerminalGap(
            attempt_id=a1,
            seat_label="01-01",
            terminal_id="T1",
            started_at=gone,
            ended_at=back,
            status=GapStatus.PROPOSED,
            lost_s=200,
            proposed_s=240,
        )
        db.add(gap)
        db.flush()
        gap_id = gap.id
    console.clock.set(START + timedelta(minutes=9))
    inv1 = console.login("inv1")
    assert post(inv1, f"/console/api/gaps/{gap_id}/accept", {}).get_json()["ok"]
    with console.db.read() as db:
        reasons = [e.reason for e in db.scalars(select(Event)) if "终端失联" in e.reason]
    expected = f"{hm(gone, LONDON, True)}–{hm(back, LONDON, True)}"
    assert reasons and all(expected in r for r in reasons), reasons

    # 3. Command lines: enrolment codes and the enrolled terminals, in London time.
    db_url = str(runtime(console.app).config.DATABASE_URL)
    enrolled = datetime(2026, 6, 1, 7, 30, tzinfo=LONDON)  # 06:30 UTC, 14:30 in China
    with console.db.write() as db:
        from exam_server.centres.models import Seat

        seat = db.scalars(select(Seat)).first()
        assert seat is not None
        db.add(
            TerminalEnrolment(
                terminal_id="T-0123456789abcdef",
                public_key="ab" * 32,
                seat_id=seat.id,
                enrolled_at=enrolled,
                enrolled_by="admin:cli",
            )
        )
    common = ["--database", db_url, "--data-dir", str(london)]
    listed = cli("terminals", "list", *common).stdout
    assert "2026-06-01 07:30 by admin:cli" in listed and "Z by" not in listed, listed
    assert "Europe/London" in listed
    codes = cli("terminals", "codes", "--room", "01", "--valid-hours", "2", *common).stdout
    assert "Z)" not in codes and "Europe/London" in codes, codes

    # 4. A restored backup names its time in the centre's zone; restore reads centre.toml
    # (the target database is the file's database_url, not the default).
    from exam_server.backups.service import write_backup
    from exam_server.config import Config

    cfg = Config.from_mapping({"DATABASE_URL": db_url, "DATA_DIR": str(london)})
    taken = T0 + timedelta(hours=6)  # 07:00 UTC, 08:00 in London (summer), 15:00 in China
    snap = write_backup(cfg, taken, centre="0101", sitting=None, key=Ed25519PrivateKey.generate())
    target = tmp_path / "restored" / "centre.db"
    write_file(london, {"DATABASE_URL": f"sqlite:///{target}"})
    out = cli("restore", str(snap), "--data-dir", str(london)).stdout
    assert target.exists(), out
    assert f"{taken.astimezone(LONDON):%Y-%m-%d %H:%M:%S}（Europe/London）" in out, out
