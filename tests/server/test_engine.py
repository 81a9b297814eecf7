"""The sitting engine's rules, by example and by property (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exam_server.sittings import engine
from exam_server.sittings.engine import (
    AttemptState,
    Interval,
    Refusal,
    RuleError,
    SittingRules,
    Timing,
)

START = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)
RULES = SittingRules(30 * MIN, 30 * MIN, 30 * MIN)  # the notices' windows


def timing(**kw: object) -> Timing:
    base: dict[str, object] = {"start": START, "end": START + HOUR}
    base.update(kw)
    return Timing(**base)  # type: ignore[arg-type]


# --- examples --------------------------------------------------------------------------


def test_login_window_opens_30_minutes_before_and_closes_30_after_start() -> None:
    t = timing()
    with pytest.raises(RuleError) as exc:
        engine.check_login(RULES, t, START - 31 * MIN, first_login=True, admitted_late=False)
    assert exc.value.code is Refusal.ENTRY_NOT_OPEN
    engine.check_login(RULES, t, START - 30 * MIN, first_login=True, admitted_late=False)
    engine.check_login(RULES, t, START + 29 * MIN, first_login=True, admitted_late=False)
    with pytest.raises(RuleError) as exc:
        engine.check_login(RULES, t, START + 30 * MIN, first_login=True, admitted_late=False)
    assert exc.value.code is Refusal.LATE_ENTRY_CLOSED
    # A candidate who already logged in (restarted terminal) may come back until the end.
    engine.check_login(RULES, t, START + 59 * MIN, first_login=False, admitted_late=False)
    with pytest.raises(RuleError) as exc:
        engine.check_login(RULES, t, START + HOUR, first_login=False, admitted_late=False)
    assert exc.value.code is Refusal.DEADLINE_PASSED


def test_late_admission_only_before_start_plus_30() -> None:
    engine.check_late_admission(RULES, timing(), START + 29 * MIN)
    with pytest.raises(RuleError) as exc:
        engine.check_late_admission(RULES, timing(), START + 31 * MIN)
    assert exc.value.code is Refusal.LATE_ENTRY_CLOSED


def test_submit_opens_at_start_plus_30() -> None:
    t = timing()
    with pytest.raises(RuleError) as exc:
        engine.check_candidate_submit(RULES, AttemptState.IN_PROGRESS, t, START + 29 * MIN)
    assert exc.value.code is Refusal.SUBMIT_TOO_EARLY
    engine.check_candidate_submit(RULES, AttemptState.IN_PROGRESS, t, START + 30 * MIN)
    with pytest.raises(RuleError) as exc:
        engine.check_candidate_submit(RULES, AttemptState.SUBMITTED, t, START + 40 * MIN)
    assert exc.value.code is Refusal.ATTEMPT_SUBMITTED


def test_late_arrival_does_not_extend_the_end() -> None:
    # Nothing about the candidate's login enters the timing: the end is fixed.
    assert engine.deadline(timing(), START + 25 * MIN) == START + HOUR


def test_extra_time_and_a_pause_move_the_deadline() -> None:
    t = timing(extra_time=5 * MIN, pauses=(Interval(START + 10 * MIN, START + 20 * MIN),))
    assert engine.deadline(t, START + 30 * MIN) == START + HOUR + 15 * MIN


def test_open_pause_freezes_time_left() -> None:
    t = timing(pauses=(Interval(START + 10 * MIN, None),))
    assert engine.time_left(t, START + 10 * MIN) == 50 * MIN
    assert engine.time_left(t, START + 40 * MIN) == 50 * MIN
    with pytest.raises(RuleError) as exc:
        engine.check_answer(AttemptState.IN_PROGRESS, t, START + 15 * MIN)
    assert exc.value.code is Refusal.ATTEMPT_PAUSED


def test_overlapping_room_and_centre_pauses_are_credited_once() -> None:
    room = Interval(START + 10 * MIN, START + 20 * MIN)
    centre = Interval(START + 15 * MIN, START + 25 * MIN)
    assert (
        engine.deadline(timing(pauses=(room, centre)), START + 30 * MIN) == START + HOUR + 15 * MIN
    )


def test_pause_before_start_is_not_credited_but_one_spanning_start_is_in_part() -> None:
    before = Interval(START - 20 * MIN, START - 10 * MIN)
    spanning = Interval(START - 5 * MIN, START + 5 * MIN)
    assert engine.deadline(timing(pauses=(before,)), START) == START + HOUR
    assert engine.deadline(timing(pauses=(spanning,)), START + 10 * MIN) == START + HOUR + 5 * MIN


def test_pause_after_the_deadline_gives_nothing_back() -> None:
    late = Interval(START + HOUR + MIN, START + HOUR + 10 * MIN)
    assert engine.deadline(timing(pauses=(late,)), START + 2 * HOUR) == START + HOUR


def test_answers_refused_before_start_after_deadline_and_after_submission() -> None:
    t = timing()
    for state, now, code in [
        (AttemptState.WAITING, START - MIN, Refusal.NOT_STARTED),
        (AttemptState.IN_PROGRESS, START + HOUR, Refusal.DEADLINE_PASSED),
        (AttemptState.SUBMITTED, START + 40 * MIN, Refusal.ATTEMPT_SUBMITTED),
        (AttemptState.ABSENT, START + 10 * MIN, Refusal.ATTEMPT_ABSENT),
        (AttemptState.VOIDED, START + 10 * MIN, Refusal.ATTEMPT_VOIDED),
    ]:
        with pytest.raises(RuleError) as exc:
            engine.check_answer(state, t, now)
        assert exc.value.code is code


def test_state_machine_guards() -> None:
    assert (
        engine.transition(AttemptState.WAITING, AttemptState.IN_PROGRESS)
        is AttemptState.IN_PROGRESS
    )
    with pytest.raises(RuleError) as exc:
        engine.transition(AttemptState.SUBMITTED, AttemptState.IN_PROGRESS)
    assert exc.value.code is Refusal.ATTEMPT_SUBMITTED
    with pytest.raises(RuleError) as exc:
        engine.transition(AttemptState.WAITING, AttemptState.SUBMITTED)
    assert exc.value.code is Refusal.ILLEGAL_TRANSITION
    with pytest.raises(RuleError):
        engine.transition(AttemptState.VOIDED, AttemptState.WAITING)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        Timing(start=START, end=START)
    with pytest.raises(ValueError):
        timing(extra_time=-MIN)
    with pytest.raises(ValueError):
        Interval(START, START - MIN)
    with pytest.raises(ValueError):
        SittingRules(30 * MIN, -MIN, 30 * MIN)


# --- properties ------------------------------------------------------------------------

minutes = st.integers(min_value=0, max_value=240)


@st.composite
def timings(draw: st.DrawFn) -> Timing:
    duration = draw(st.integers(min_value=1, max_value=180))
    extra = draw(st.integers(min_value=0, max_value=60))
    pauses = []
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        begin = draw(st.integers(min_value=-40, max_value=240))
        length = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=60)))
        pauses.append(
            Interval(
                START + begin * MIN, None if length is None else START + (begin + length) * MIN
            )
        )
    return Timing(START, START + duration * MIN, extra * MIN, tuple(pauses))


def paused_minutes(t: Timing, now: datetime) -> timedelta:
    """Time in [start, now) covered by at least one pause (brute force, by the second)."""
    total = timedelta(0)
    for a, b in engine.merge_intervals(t.pauses, now):
        a, b = max(a, t.start), min(b, now)
        if b > a:
            total += b - a
    return total


@settings(max_examples=300, deadline=None)
@given(timings(), minutes)
def test_an_answer_is_accepted_exactly_inside_the_window(t: Timing, at: int) -> None:
    """Accepted if and only if the paper is open, the clock runs and the deadline is ahead:
    never at or after the deadline, and never refused inside the window."""
    now = START + at * MIN
    try:
        engine.check_answer(AttemptState.IN_PROGRESS, t, now)
        accepted = True
    except RuleError:
        accepted = False
    inside = t.start <= now < engine.deadline(t, now) and not engine.is_paused(t, now)
    assert accepted == inside


@settings(max_examples=300, deadline=None)
@given(timings(), minutes)
def test_nobody_loses_time(t: Timing, at: int) -> None:
    """Answering time used + time left is always the full duration plus extra time."""
    now = START + at * MIN
    d = engine.deadline(t, now)
    if now >= d:
        return
    used = (now - t.start) - paused_minutes(t, now)
    assert used + engine.time_left(t, now) == (t.end - t.start) + t.extra_time


@settings(max_examples=300, deadline=None)
@given(timings(), st.lists(minutes, min_size=2, max_size=6))
def test_deadline_never_moves_earlier_as_time_passes(t: Timing, instants: list[int]) -> None:
    ds = [engine.deadline(t, START + m * MIN) for m in sorted(instants)]
    assert ds == sorted(ds)


@settings(max_examples=300, deadline=None)
@given(
    timings(),
    st.integers(min_value=-40, max_value=240),
    st.integers(0, 60),
    st.integers(0, 30),
    minutes,
)
def test_more_pauses_or_extra_time_never_shorten_anyone(
    t: Timing, begin: int, length: int, extra: int, at: int
) -> None:
    now = START + at * MIN
    more = Timing(
        t.start,
        t.end,
        t.extra_time + extra * MIN,
        t.pauses + (Interval(START + begin * MIN, START + (begin + length) * MIN),),
    )
    assert engine.deadline(more, now) >= engine.deadline(t, now)


@settings(max_examples=200, deadline=None)
@given(timings(), minutes)
def test_restart_recomputes_the_same_deadline(t: Timing, at: int) -> None:
    """A restarted server rebuilds the timing from stored facts: same answer, any order."""
    now = START + at * MIN
    shuffled = Timing(t.start, t.end, t.extra_time, tuple(reversed(t.pauses)))
    assert engine.deadline(shuffled, now) == engine.deadline(t, now)


transitions = st.lists(st.sampled_from(list(AttemptState)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(transitions, timings(), minutes)
def test_after_submission_nothing_is_accepted(path: list[AttemptState], t: Timing, at: int) -> None:
    state = AttemptState.WAITING
    submitted = False
    for target in path:
        try:
            state = engine.transition(state, target)
        except RuleError:
            continue
        submitted = submitted or state is AttemptState.SUBMITTED
    now = START + at * MIN
    if submitted:
        assert state in (AttemptState.SUBMITTED, AttemptState.VOIDED)
        with pytest.raises(RuleError) as exc:
            engine.check_answer(state, t, now)
        assert exc.value.code in (Refusal.ATTEMPT_SUBMITTED, Refusal.ATTEMPT_VOIDED)
    elif (
        state is AttemptState.IN_PROGRESS
        and t.start <= now < engine.deadline(t, now)
        and not engine.is_paused(t, now)
    ):
        # the same instant and timing, not submitted: the refusal above was the state's
        engine.check_answer(state, t, now)


@settings(max_examples=200, deadline=None)
@given(st.integers(-60, 120), st.integers(0, 60), st.integers(0, 60), st.integers(0, 60))
def test_login_and_submit_windows_match_the_notices(
    at: int, before: int, late: int, early: int
) -> None:
    rules = SittingRules(before * MIN, late * MIN, early * MIN)
    t = Timing(START, START + 3 * HOUR)
    now = START + at * MIN
    try:
        engine.check_login(rules, t, now, first_login=True, admitted_late=False)
        login_ok = True
    except RuleError:
        login_ok = False
    assert login_ok == (START - before * MIN <= now < START + late * MIN)
    try:
        engine.check_candidate_submit(rules, AttemptState.IN_PROGRESS, t, now)
        submit_ok = True
    except RuleError:
        submit_ok = False
    assert submit_ok == (START + early * MIN <= now < START + 3 * HOUR)


# --- every time rule at its boundary: 1 ms before, exactly at it, 1 ms after ------------

MS = timedelta(milliseconds=1)
WINDOWS = SittingRules(30 * MIN, 30 * MIN, 30 * MIN)


def outcome(check: object, *args: object, **kw: object) -> str:
    try:
        check(*args, **kw)  # type: ignore[operator]
    except RuleError as exc:
        return exc.code.value
    return "ok"


@pytest.mark.parametrize(
    ("name", "check", "boundary", "before", "at_and_after"),
    [
        (
            "login opens 30 min before the start",
            lambda now: engine.check_login(
                WINDOWS, timing(), now, first_login=True, admitted_late=False
            ),
            START - 30 * MIN,
            "entry_not_open",
            "ok",
        ),
        (
            "a first login closes at start + 30 min",
            lambda now: engine.check_login(
                WINDOWS, timing(), now, first_login=True, admitted_late=False
            ),
            START + 30 * MIN,
            "ok",
            "late_entry_closed",
        ),
        (
            "late admission closes at start + 30 min",
            lambda now: engine.check_late_admission(WINDOWS, timing(), now),
            START + 30 * MIN,
            "ok",
            "late_entry_closed",
        ),
        (
            "a candidate admitted late logs in until the deadline",
            lambda now: engine.check_login(
                WINDOWS, timing(), now, first_login=False, admitted_late=True
            ),
            START + HOUR,
            "ok",
            "deadline_passed",
        ),
        (
            "the paper opens at the start",
            lambda now: engine.check_answer(AttemptState.IN_PROGRESS, timing(), now),
            START,
            "not_started",
            "ok",
        ),
        (
            "submission opens at start + 30 min",
            lambda now: engine.check_candidate_submit(
                WINDOWS, AttemptState.IN_PROGRESS, timing(), now
            ),
            START + 30 * MIN,
            "submit_too_early",
            "ok",
        ),
        (
            "answers stop at the end",
            lambda now: engine.check_answer(AttemptState.IN_PROGRESS, timing(), now),
            START + HOUR,
            "ok",
            "deadline_passed",
        ),
        (
            "the candidate's submission stops at the end",
            lambda now: engine.check_candidate_submit(
                WINDOWS, AttemptState.IN_PROGRESS, timing(), now
            ),
            START + HOUR,
            "ok",
            "deadline_passed",
        ),
        (
            "extra time moves the end by exactly its length",
            lambda now: engine.check_answer(
                AttemptState.IN_PROGRESS, timing(extra_time=7 * MIN), now
            ),
            START + HOUR + 7 * MIN,
            "ok",
            "deadline_passed",
        ),
        (
            "a pause stops answers from its first instant",
            lambda now: engine.check_answer(
                AttemptState.IN_PROGRESS,
                timing(pauses=(Interval(START + 10 * MIN, START + 20 * MIN),)),
                now,
            ),
            START + 10 * MIN,
            "ok",
            "attempt_paused",
        ),
        (
            "answers resume the instant a pause ends",
            lambda now: engine.check_answer(
                AttemptState.IN_PROGRESS,
                timing(pauses=(Interval(START + 10 * MIN, START + 20 * MIN),)),
                now,
            ),
            START + 20 * MIN,
            "attempt_paused",
            "ok",
        ),
        (
            "a 10-minute pause moves the end by exactly 10 minutes",
            lambda now: engine.check_answer(
                AttemptState.IN_PROGRESS,
                timing(pauses=(Interval(START + 10 * MIN, START + 20 * MIN),)),
                now,
            ),
            START + HOUR + 10 * MIN,
            "ok",
            "deadline_passed",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else "",
)
def test_every_time_rule_at_its_boundary(
    name: str, check: object, boundary: datetime, before: str, at_and_after: str
) -> None:
    assert outcome(check, boundary - MS) == before, f"{name}: 1 ms before"
    assert outcome(check, boundary) == at_and_after, f"{name}: exactly at"
    assert outcome(check, boundary + MS) == at_and_after, f"{name}: 1 ms after"


@pytest.mark.parametrize("minutes", [0, 1, 29, 30, 31, 59, 60])
def test_overdue_and_time_left_agree_at_every_instant_of_the_end(minutes: int) -> None:
    """The sweep's overdue test and the clock's time left switch at the same instant."""
    t = timing()
    for now in (START + HOUR - MS, START + HOUR, START + HOUR + MS):
        overdue = engine.is_overdue(AttemptState.IN_PROGRESS, t, now)
        assert overdue == (engine.time_left(t, now) <= timedelta(0)) == (now >= START + HOUR)
    now = START + minutes * MIN
    assert engine.time_left(t, now) == HOUR - minutes * MIN


# --- what each refusal says (the console and the terminal show it) ---------------------


def refused(call: object, *args: object, **kw: object) -> RuleError:
    with pytest.raises(RuleError) as caught:
        call(*args, **kw)  # type: ignore[operator]
    return caught.value


def test_every_refusal_names_its_rule_its_reason_and_the_figures_its_message_needs() -> None:
    t = timing()
    opens = START - 30 * MIN
    e = refused(engine.check_login, RULES, t, opens - MS, first_login=True, admitted_late=False)
    assert (e.code, e.detail, e.params) == (
        Refusal.ENTRY_NOT_OPEN,
        f"login opens at {opens.isoformat()}",
        {"entry": 30 * MIN, "at": opens},
    )
    assert str(e) == f"entry_not_open: login opens at {opens.isoformat()}"
    closed = START + 30 * MIN
    for e in (
        refused(engine.check_login, RULES, t, closed, first_login=True, admitted_late=False),
        refused(engine.check_late_admission, RULES, t, closed),
    ):
        assert e.code is Refusal.LATE_ENTRY_CLOSED and e.params == {"late": 30 * MIN}
        assert e.detail.endswith(f"closed at {closed.isoformat()}")
    end = START + HOUR
    e = refused(engine.check_login, RULES, t, end, first_login=False, admitted_late=False)
    assert (e.code, e.detail) == (
        Refusal.DEADLINE_PASSED,
        "this sitting is over for this candidate",
    )
    e = refused(engine.check_candidate_submit, RULES, AttemptState.IN_PROGRESS, t, closed - MS)
    assert (e.code, e.detail, e.params) == (
        Refusal.SUBMIT_TOO_EARLY,
        f"submission opens at {closed.isoformat()}",
        {"submit": 30 * MIN, "at": closed},
    )
    e = refused(engine.check_candidate_submit, RULES, AttemptState.IN_PROGRESS, t, end)
    assert (e.code, e.detail) == (Refusal.DEADLINE_PASSED, "the server submits at the deadline")
    e = refused(engine.check_answer, AttemptState.WAITING, t, START - MS)
    assert (e.code, e.detail) == (Refusal.NOT_STARTED, "the paper opens at the start time")
    e = refused(engine.check_answer, AttemptState.PAUSED, t, START)
    assert (e.code, e.detail) == (
        Refusal.ATTEMPT_PAUSED,
        "the clock is stopped; answers wait for resume",
    )
    e = refused(engine.check_answer, AttemptState.IN_PROGRESS, t, end)
    assert (e.code, e.detail) == (Refusal.DEADLINE_PASSED, f"deadline was {end.isoformat()}")
    for state, code, detail in (
        (AttemptState.SUBMITTED, Refusal.ATTEMPT_SUBMITTED, "this attempt has been submitted"),
        (AttemptState.ABSENT, Refusal.ATTEMPT_ABSENT, "this candidate was marked absent"),
        (AttemptState.VOIDED, Refusal.ATTEMPT_VOIDED, "this attempt was voided"),
    ):
        e = refused(engine.check_answer, state, t, START)
        assert (e.code, e.detail, e.params) == (code, detail, {})
    e = refused(engine.transition, AttemptState.WAITING, AttemptState.SUBMITTED)
    assert (e.code, e.detail) == (Refusal.ILLEGAL_TRANSITION, "cannot go from waiting to submitted")
    # a refusal without a reason is its code alone
    bare = RuleError(Refusal.NOT_YOUR_ATTEMPT)
    assert (str(bare), bare.detail, bare.params) == ("not_your_attempt", "", {})
    assert RuleError(Refusal.NOT_STARTED, params={"a": 1}).params == {"a": 1}


def test_bad_parameters_say_what_is_wrong() -> None:
    for build, says in (
        (lambda: Timing(start=START, end=START), "a sitting must end after it starts"),
        (lambda: timing(extra_time=-MIN), "extra time cannot be negative"),
        (lambda: Interval(START, START - MIN), "a pause cannot end before it starts"),
        (lambda: SittingRules(30 * MIN, -MIN, 30 * MIN), "late_entry must not be negative"),
    ):
        with pytest.raises(ValueError) as caught:
            build()
        assert str(caught.value) == says


def test_time_left_before_the_start_is_the_whole_time_with_its_credits() -> None:
    t = timing(extra_time=10 * MIN)
    assert engine.time_left(t, START - HOUR) == HOUR + 10 * MIN
    assert engine.time_left(t, START - MS) == HOUR + 10 * MIN
    assert engine.time_left(t, START) == HOUR + 10 * MIN
    # pauses to come are not known yet: before the start they give nothing
    later = timing(pauses=(Interval(START + 10 * MIN, START + 20 * MIN),))
    assert engine.time_left(later, START - MIN) == HOUR


def test_a_pause_that_begins_exactly_at_the_deadline_gives_nothing_back() -> None:
    end = START + HOUR
    assert engine.deadline(timing(pauses=(Interval(end, end + MIN),)), end + HOUR) == end
    assert engine.deadline(timing(pauses=(Interval(end - MS, end + MIN),)), end + HOUR) == (
        end + MIN + MS
    )


def test_an_open_pause_keeps_every_rule_at_its_moving_deadline() -> None:
    """A pause still in force counts up to ``now``: login again, submit and the server's
    own submission all judge by the deadline as it stands at ``now``."""
    end = START + HOUR
    t = timing(pauses=(Interval(end - 10 * MIN),))  # in force since 10 min before the end
    later = end + 5 * MIN  # past the nominal end, still paused: 15 min frozen in hand
    engine.check_login(RULES, t, later, first_login=False, admitted_late=False)
    engine.check_candidate_submit(RULES, AttemptState.PAUSED, t, later)
    assert not engine.is_overdue(AttemptState.PAUSED, t, later)
    # resumed at ``later``: the deadline is end + 15 min; overdue from then, not before
    resumed = timing(pauses=(Interval(end - 10 * MIN, later),))
    assert not engine.is_overdue(AttemptState.IN_PROGRESS, resumed, end + 15 * MIN - MS)
    assert engine.is_overdue(AttemptState.IN_PROGRESS, resumed, end + 15 * MIN)


def test_the_scheduler_wakes_at_the_next_thing_that_changes() -> None:
    late = START + 30 * MIN
    t = timing(extra_time=5 * MIN)
    assert engine.next_wakeup([t], RULES, START - HOUR) == START
    assert engine.next_wakeup([t], RULES, START) == late
    assert engine.next_wakeup([t], RULES, late) == START + HOUR + 5 * MIN
    assert engine.next_wakeup([t, timing()], RULES, late) == START + HOUR
    assert engine.next_wakeup([t], RULES, START + 2 * HOUR) is None
    # at the deadline itself nothing is left to wake for (never "now" again)
    assert engine.next_wakeup([t], RULES, START + HOUR + 5 * MIN) is None
    # a paused attempt gives no deadline (its resume reschedules)
    paused = timing(pauses=(Interval(START + 40 * MIN),))
    assert engine.next_wakeup([paused], RULES, START + 45 * MIN) is None
    assert engine.next_wakeup([paused], RULES, late) == START + HOUR
    assert engine.next_wakeup([], RULES, START) is None


def test_the_demos_quick_mode_scales_every_window() -> None:
    assert RULES.scaled(0.1) == SittingRules(3 * MIN, 3 * MIN, 3 * MIN)
    assert SittingRules(10 * MIN, 20 * MIN, 40 * MIN).scaled(2) == SittingRules(
        20 * MIN, 40 * MIN, 80 * MIN
    )
