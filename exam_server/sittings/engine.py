"""The sitting engine: the exam notices' rules as pure functions over given instants.

Nothing here reads a clock, a database or a request. Callers pass ``now`` (from the
injected :class:`~exam_server.clock.Clock`) and the facts of one attempt; the engine says
what is allowed and when time runs out. The rules (DESIGN.md section 2):

* terminal login opens ``entry_opens_before`` before start (the notices: 30 min);
* a first login is accepted only while ``now < start + late_entry`` (the notices: 30 min);
* submission is allowed from ``start + earliest_submit`` (the notices: 30 min);
* the sitting ends at a fixed time; individual extra time and pauses (room or centre)
  move one candidate's deadline, late arrival never does;
* after submission nothing more is accepted.

Pauses are credited exactly once: overlapping room and centre pauses are merged, and
only the part of a pause that falls inside the candidate's answering window counts.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta


class Refusal(str, enum.Enum):
    """Machine-readable reasons the engine (and the server's edges) refuse something.

    Every refusal that reaches a candidate or an invigilator carries one of these codes.
    """

    ENTRY_NOT_OPEN = "entry_not_open"
    LATE_ENTRY_CLOSED = "late_entry_closed"
    SUBMIT_TOO_EARLY = "submit_too_early"
    ATTEMPT_SUBMITTED = "attempt_submitted"
    ATTEMPT_ABSENT = "attempt_absent"
    ATTEMPT_VOIDED = "attempt_voided"
    ATTEMPT_PAUSED = "attempt_paused"
    NOT_STARTED = "not_started"
    DEADLINE_PASSED = "deadline_passed"
    ILLEGAL_TRANSITION = "illegal_transition"
    NOT_YOUR_ATTEMPT = "not_your_attempt"


class RuleError(Exception):
    """An action the exam rules forbid. ``code`` says which rule; ``detail`` says why;
    ``params`` are the sitting's own figures a message names (its window, when it opens)."""

    def __init__(
        self, code: Refusal, detail: str = "", params: dict[str, object] | None = None
    ) -> None:
        super().__init__(f"{code.value}: {detail}" if detail else code.value)
        self.code = code
        self.detail = detail
        self.params: dict[str, object] = params or {}


class AttemptState(str, enum.Enum):
    """The lifecycle of one candidate's attempt at one sitting."""

    WAITING = "waiting"  #: seated (perhaps logged in) and waiting for the start
    IN_PROGRESS = "in_progress"  #: answering; the clock runs
    PAUSED = "paused"  #: a room or centre pause is in force; the clock is stopped
    SUBMITTED = "submitted"  #: final; by the candidate, an invigilator or the server at end
    ABSENT = "absent"  #: 缺考: never came; scores nothing
    VOIDED = "voided"  #: 违纪: the subject's score is void


#: Legal transitions. Anything else raises ``RuleError(ILLEGAL_TRANSITION)``.
TRANSITIONS: dict[AttemptState, frozenset[AttemptState]] = {
    AttemptState.WAITING: frozenset(
        {AttemptState.IN_PROGRESS, AttemptState.PAUSED, AttemptState.ABSENT, AttemptState.VOIDED}
    ),
    AttemptState.IN_PROGRESS: frozenset(
        {AttemptState.PAUSED, AttemptState.SUBMITTED, AttemptState.VOIDED}
    ),
    AttemptState.PAUSED: frozenset(
        {AttemptState.IN_PROGRESS, AttemptState.SUBMITTED, AttemptState.VOIDED}
    ),
    # A candidate wrongly marked absent may be re-admitted while late entry is open.
    AttemptState.ABSENT: frozenset({AttemptState.WAITING}),
    # A violation found after submission still voids the subject.
    AttemptState.SUBMITTED: frozenset({AttemptState.VOIDED}),
    AttemptState.VOIDED: frozenset(),
}

FINAL_STATES = frozenset({AttemptState.SUBMITTED, AttemptState.ABSENT, AttemptState.VOIDED})


def transition(current: AttemptState, target: AttemptState) -> AttemptState:
    """Return ``target`` if the state machine allows ``current -> target``, else raise."""
    if target not in TRANSITIONS[current]:
        code = {
            AttemptState.SUBMITTED: Refusal.ATTEMPT_SUBMITTED,
            AttemptState.ABSENT: Refusal.ATTEMPT_ABSENT,
            AttemptState.VOIDED: Refusal.ATTEMPT_VOIDED,
        }.get(current, Refusal.ILLEGAL_TRANSITION)
        raise RuleError(code, f"cannot go from {current.value} to {target.value}")
    return target


@dataclass(frozen=True)
class SittingRules:
    """The per-plan rule parameters (DESIGN.md section 2): each sitting's own, from the
    plan (the notices say 30 minutes each); no default here."""

    entry_opens_before: timedelta
    late_entry: timedelta
    earliest_submit: timedelta

    def __post_init__(self) -> None:
        for name in ("entry_opens_before", "late_entry", "earliest_submit"):
            if getattr(self, name) < timedelta(0):
                raise ValueError(f"{name} must not be negative")

    def scaled(self, factor: float) -> SittingRules:
        """The same rules with every window multiplied (the demo's quick mode)."""
        return SittingRules(
            entry_opens_before=self.entry_opens_before * factor,
            late_entry=self.late_entry * factor,
            earliest_submit=self.earliest_submit * factor,
        )


@dataclass(frozen=True)
class Interval:
    """A pause: ``end`` is None while it is still in force."""

    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise ValueError("a pause cannot end before it starts")


@dataclass(frozen=True)
class Timing:
    """What decides one candidate's clock: the sitting's fixed window plus their credits."""

    start: datetime
    end: datetime
    extra_time: timedelta = timedelta(0)
    pauses: tuple[Interval, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a sitting must end after it starts")
        if self.extra_time < timedelta(0):
            raise ValueError("extra time cannot be negative")


def merge_intervals(pauses: Iterable[Interval], now: datetime) -> list[tuple[datetime, datetime]]:
    """Merge overlapping pauses as known at ``now``: a pause still in force (or one whose
    recorded end lies after ``now``) counts only up to ``now``; later ones not at all."""
    spans = sorted(
        (p.start, now if p.end is None else min(p.end, now)) for p in pauses if p.start <= now
    )
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def deadline(timing: Timing, now: datetime) -> datetime:
    """The instant this candidate's answering ends, as known at ``now``.

    ``end + extra_time``, pushed back by every pause that began before the (growing)
    deadline, each counted from the later of its start and the sitting's start. A pause
    still in force counts up to ``now``, so the deadline keeps moving while it lasts and
    the time left stays frozen.
    """
    result = timing.end + timing.extra_time
    for p_start, p_end in merge_intervals(timing.pauses, now):
        if p_start >= result:
            break
        credited_from = max(p_start, timing.start)
        if p_end > credited_from:
            result += p_end - credited_from
    return result


def is_paused(timing: Timing, now: datetime) -> bool:
    return any(p.start <= now and (p.end is None or now < p.end) for p in timing.pauses)


def time_left(timing: Timing, now: datetime) -> timedelta:
    """Answering time remaining at ``now``; never negative; frozen during a pause."""
    if now < timing.start:
        return deadline(timing, timing.start) - timing.start
    return max(timedelta(0), deadline(timing, now) - now)


def check_login(
    rules: SittingRules, timing: Timing, now: datetime, *, first_login: bool, admitted_late: bool
) -> None:
    """May a candidate log in at a terminal now?

    A first login is refused before the entry window opens and from ``start + late_entry``
    on (an invigilator's late admission does not stretch the window: it can only be
    given before it closes). A candidate who already logged in once (a restarted
    terminal, a seat change) may log in again until their deadline.
    """
    opens = timing.start - rules.entry_opens_before
    if now < opens:
        raise RuleError(
            Refusal.ENTRY_NOT_OPEN,
            f"login opens at {opens.isoformat()}",
            {"entry": rules.entry_opens_before, "at": opens},
        )
    if first_login and not admitted_late and now >= timing.start + rules.late_entry:
        raise RuleError(
            Refusal.LATE_ENTRY_CLOSED,
            f"first login closed at {(timing.start + rules.late_entry).isoformat()}",
            {"late": rules.late_entry},
        )
    if not first_login and now >= deadline(timing, now):
        raise RuleError(Refusal.DEADLINE_PASSED, "this sitting is over for this candidate")


def check_late_admission(rules: SittingRules, timing: Timing, now: datetime) -> None:
    """An invigilator may admit a late candidate only before ``start + late_entry``."""
    if now >= timing.start + rules.late_entry:
        raise RuleError(
            Refusal.LATE_ENTRY_CLOSED,
            f"late admission closed at {(timing.start + rules.late_entry).isoformat()}",
            {"late": rules.late_entry},
        )


def submit_opens_at(rules: SittingRules, timing: Timing) -> datetime:
    return timing.start + rules.earliest_submit


def check_answer(state: AttemptState, timing: Timing, now: datetime) -> None:
    """May an answer be stored now? Raises the precise reason if not."""
    _check_open(state)
    if now < timing.start:
        raise RuleError(Refusal.NOT_STARTED, "the paper opens at the start time")
    if state is AttemptState.PAUSED or is_paused(timing, now):
        raise RuleError(Refusal.ATTEMPT_PAUSED, "the clock is stopped; answers wait for resume")
    if now >= deadline(timing, now):
        raise RuleError(
            Refusal.DEADLINE_PASSED, f"deadline was {deadline(timing, now).isoformat()}"
        )


def check_candidate_submit(
    rules: SittingRules, state: AttemptState, timing: Timing, now: datetime
) -> None:
    """May the candidate submit now? The server's own end-of-time submit skips this."""
    _check_open(state)
    opens = submit_opens_at(rules, timing)
    if now < opens:
        raise RuleError(
            Refusal.SUBMIT_TOO_EARLY,
            f"submission opens at {opens.isoformat()}",
            {"submit": rules.earliest_submit, "at": opens},
        )
    if now >= deadline(timing, now):
        raise RuleError(Refusal.DEADLINE_PASSED, "the server submits at the deadline")


def is_overdue(state: AttemptState, timing: Timing, now: datetime) -> bool:
    """Should the server submit this attempt now (open, past its deadline)?"""
    return (
        state in (AttemptState.IN_PROGRESS, AttemptState.PAUSED)
        and now >= deadline(timing, now)
        and not is_paused(timing, now)
    )


def _check_open(state: AttemptState) -> None:
    if state is AttemptState.SUBMITTED:
        raise RuleError(Refusal.ATTEMPT_SUBMITTED, "this attempt has been submitted")
    if state is AttemptState.ABSENT:
        raise RuleError(Refusal.ATTEMPT_ABSENT, "this candidate was marked absent")
    if state is AttemptState.VOIDED:
        raise RuleError(Refusal.ATTEMPT_VOIDED, "this attempt was voided")


def next_wakeup(timings: Sequence[Timing], rules: SittingRules, now: datetime) -> datetime | None:
    """The next instant at which something changes for any of these timings.

    Used by the scheduler: the later of the sitting's own boundaries (start, end of late
    entry) and each open attempt's deadline. Timings in a pause give no deadline until
    the pause ends (the resume reschedules).
    """
    candidates: list[datetime] = []
    for t in timings:
        for boundary in (t.start, t.start + rules.late_entry):
            if boundary > now:
                candidates.append(boundary)
        if not is_paused(t, now):
            d = deadline(t, now)
            if d > now:
                candidates.append(d)
    return min(candidates) if candidates else None
