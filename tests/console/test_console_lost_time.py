"""Lost answering time (pure): only the part of a silence inside the candidate's running
clock counts, and proposals are whole minutes."""

from __future__ import annotations

from datetime import timedelta

from exam_server.console.lost_time import lost_answering_time, proposal
from exam_server.sittings.engine import Interval, Timing
from tests.conftest import T0

M = timedelta(minutes=1)
TIMING = Timing(start=T0, end=T0 + 60 * M)


def test_silence_inside_the_window_counts_whole() -> None:
    assert lost_answering_time(T0 + 10 * M, T0 + 13 * M, TIMING) == 3 * M


def test_before_the_start_and_after_the_deadline_do_not_count() -> None:
    assert lost_answering_time(T0 - 20 * M, T0 + 2 * M, TIMING) == 2 * M
    assert lost_answering_time(T0 + 58 * M, T0 + 70 * M, TIMING) == 2 * M
    assert lost_answering_time(T0 - 20 * M, T0 - 5 * M, TIMING) == timedelta(0)


def test_a_pause_is_not_lost_twice() -> None:
    paused = Timing(start=T0, end=T0 + 60 * M, pauses=(Interval(T0 + 11 * M, T0 + 12 * M),))
    assert lost_answering_time(T0 + 10 * M, T0 + 14 * M, paused) == 3 * M


def test_extra_time_extends_the_window() -> None:
    extra = Timing(start=T0, end=T0 + 60 * M, extra_time=5 * M)
    assert lost_answering_time(T0 + 58 * M, T0 + 70 * M, extra) == 7 * M


def test_proposals_round_up_to_minutes_and_skip_blips() -> None:
    assert proposal(timedelta(seconds=200), timedelta(seconds=30)) == 4 * M
    assert proposal(timedelta(seconds=20), timedelta(seconds=30)) == timedelta(0)
    assert proposal(timedelta(seconds=60), timedelta(seconds=30)) == M
