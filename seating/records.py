"""What happened in a room, and what a candidate scored: typed entries the server fills
from its event log and results, for the room record (考场情况记录) and the score report
(成绩单). Plain data; the documents only print it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from question_bank.scoring import CutoffRule, SubjectResult


@dataclass(frozen=True)
class Absence:
    """缺考: the candidate did not come to the sitting."""

    ticket: str
    note: str = ""


@dataclass(frozen=True)
class Violation:
    """违纪: what happened and what was done (the subject's score is void)."""

    ticket: str
    at: datetime
    description: str
    action: str = ""
    recorded_by: str = ""


@dataclass(frozen=True)
class ExtraTime:
    """延时: individual extra time granted by an invigilator (technical fault)."""

    ticket: str
    at: datetime
    minutes: int
    reason: str
    granted_by: str = ""


@dataclass(frozen=True)
class SeatChange:
    """座位调换: a candidate moved (usually to a spare seat) when their terminal failed."""

    ticket: str
    at: datetime
    from_seat: int
    to_seat: int
    reason: str
    authorised_by: str = ""


@dataclass(frozen=True)
class Pause:
    """暂停: a room or centre pause by the chief examiner; ``end`` None if still paused."""

    start: datetime
    end: datetime | None
    reason: str
    by: str = ""


@dataclass(frozen=True)
class Note:
    """其他情况: anything else the invigilators record."""

    at: datetime
    text: str
    by: str = ""


RoomEvent = Absence | Violation | ExtraTime | SeatChange | Pause | Note


@dataclass(frozen=True)
class RoomRecord:
    """The facts of one room in one sitting, for :func:`seating.documents.room_records`."""

    centre: str
    room: str
    sitting: str
    events: tuple[RoomEvent, ...] = ()
    invigilators: tuple[str, ...] = ()
    #: whether the absences are final (late entry has closed), so that present and absent
    #: can be counted; False prints blanks to fill in by hand (a record printed before)
    counts_final: bool = True


@dataclass(frozen=True)
class ScoreReport:
    """One candidate's results for :func:`seating.documents.score_reports`.

    ``rule`` is the cutoff rule of the candidate's level (and trade); ``results`` one
    :class:`~question_bank.scoring.SubjectResult` per subject (a missing subject prints as
    not yet scored). Pass/fail is worked out by
    :func:`question_bank.scoring.apply_cutoffs`, the same function the server uses.
    """

    ticket: str
    rule: CutoffRule
    results: tuple[SubjectResult, ...]
    issued: date | None = None
