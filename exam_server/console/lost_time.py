"""Lost answering time: how much of a terminal's silence fell inside the candidate's
answering window, and what to propose crediting. Pure: no clock, no database."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from exam_server.sittings.engine import Timing, deadline, merge_intervals


def lost_answering_time(gap_start: datetime, gap_end: datetime, timing: Timing) -> timedelta:
    """The part of ``[gap_start, gap_end]`` during which the candidate's clock was
    running: after the start, before their deadline (as known at ``gap_end``), outside
    any pause (a pause already stops their clock, so it is not lost twice)."""
    if gap_end <= gap_start:
        return timedelta(0)
    lo = max(gap_start, timing.start)
    hi = min(gap_end, deadline(timing, gap_end))
    if hi <= lo:
        return timedelta(0)
    lost = hi - lo
    for p_start, p_end in merge_intervals(timing.pauses, gap_end):
        overlap = min(hi, p_end) - max(lo, p_start)
        if overlap > timedelta(0):
            lost -= overlap
    return max(lost, timedelta(0))


def proposal(lost: timedelta, minimum: timedelta) -> timedelta:
    """What to propose: nothing under ``minimum``, else whole minutes rounded up (the
    room record and invigilators count extra time in minutes)."""
    if lost < minimum or lost <= timedelta(0):
        return timedelta(0)
    return timedelta(minutes=math.ceil(lost.total_seconds() / 60))
