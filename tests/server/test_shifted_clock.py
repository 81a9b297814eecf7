"""The shifted clock the tests of whole server processes move (exam_server/clock.py).

It must agree with the machine's clock plus the file's seconds, never go back, survive a
bad write, and tell the scheduler when it jumps; the scheduler's timers, set on the
machine's clock, must then be set for the centre's.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exam_common.durable import write_atomic
from exam_server.clock import ManualClock, ShiftedClock, SystemClock, clock_for


def test_without_a_file_it_is_the_machines_clock(tmp_path: Path) -> None:
    clock = ShiftedClock(tmp_path / "clock")
    before = datetime.now(UTC)
    now = clock.now()
    assert before <= now <= datetime.now(UTC)
    assert clock.offset() == timedelta(0)
    assert isinstance(clock_for(""), SystemClock)
    assert isinstance(clock_for(str(tmp_path / "clock")), ShiftedClock)


def test_the_file_moves_it_forward_and_to_wall_undoes_it(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    write_atomic(path, "3600\n")
    clock = ShiftedClock(path)
    assert clock.offset() == timedelta(hours=1)
    ahead = clock.now() - datetime.now(UTC)
    assert timedelta(minutes=59, seconds=59) < ahead <= timedelta(hours=1)
    instant = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert clock.to_wall(instant) == instant - timedelta(hours=1)
    write_atomic(path, "7200.5\n")
    assert clock.offset() == timedelta(seconds=7200.5)


@pytest.mark.parametrize("bad", ["not a number", "nan", "inf", "100"])
def test_back_or_bad_is_refused_and_the_last_offset_kept(
    tmp_path: Path, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "clock"
    write_atomic(path, "3600\n")
    clock = ShiftedClock(path)
    write_atomic(path, bad + "\n")
    assert clock.offset() == timedelta(hours=1)
    assert str(path) in caplog.text and "kept 3600.0" in caplog.text


def test_a_jump_calls_back_once_and_a_rewrite_of_the_same_value_does_not(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    clock = ShiftedClock(path)
    jumped = threading.Event()
    calls: list[timedelta] = []

    def seen() -> None:
        calls.append(clock.offset())
        jumped.set()

    clock.on_jump(seen)
    write_atomic(path, "60\n")
    assert jumped.wait(5), "no callback within 5 s of the jump"
    assert calls == [timedelta(seconds=60)]
    write_atomic(path, "60.0\n")  # a new file, the same time: no jump
    time.sleep(ShiftedClock.POLL_S * 6)
    assert calls == [timedelta(seconds=60)]


def test_the_machine_and_manual_clocks_never_jump() -> None:
    instant = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    for clock in (SystemClock(), ManualClock(instant)):
        assert clock.to_wall(instant) == instant
        clock.on_jump(lambda: pytest.fail("called back"))  # never called: nothing to watch
