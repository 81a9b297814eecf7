"""Allocation: properties over generated centres, and the rules one by one."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seating import sample
from seating.allocation import allocate, spare_seats_for
from seating.model import (
    CHINA_TZ,
    Candidate,
    Centre,
    Gender,
    ProblemKind,
    Room,
    SeatingError,
    SeatPlan,
    Sitting,
)
from seating.tickets import is_valid_ticket, parse_ticket

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def at(h: int) -> datetime:
    return datetime(2026, 11, 28, h, tzinfo=CHINA_TZ)


@st.composite
def rooms_st(draw: st.DrawFn) -> list[Centre]:
    centres = []
    for ci in range(draw(st.integers(1, 2))):
        rooms = []
        for ri in range(draw(st.integers(1, 3))):
            rows, cols = draw(st.integers(1, 6)), draw(st.integers(1, 6))
            blocked = draw(st.frozensets(st.integers(1, rows * cols), max_size=3))
            spare = draw(st.one_of(st.none(), st.integers(0, 3)))
            rooms.append(Room(f"{ri + 1:03d}", f"R{ri + 1}", rows, cols, spare, blocked))
        centres.append(Centre(f"{ci + 1:04d}", f"C{ci + 1}", tuple(rooms)))
    return centres


@st.composite
def sittings_st(draw: st.DrawFn) -> list[Sitting]:
    k = draw(st.integers(1, 4))
    labels = tuple("ABCD"[:k])
    out = [
        Sitting("S1", "职业道德", at(9), at(10), labels, frozenset({2, 3, 4, 5})),
        Sitting("S2", "职业能力", at(10), at(11), labels, frozenset({2, 3, 4, 5})),
    ]
    if draw(st.booleans()):
        out.append(
            Sitting(
                "S3",
                "岗位技能",
                at(14),
                at(15),
                labels,
                frozenset({2, 3, 4, 5}),
                frozenset({"电工", "绿化工"}),
            )
        )
    out.append(Sitting("T1", "理论知识", at(9), at(11), labels, frozenset({1})))
    return out


@st.composite
def candidates_st(draw: st.DrawFn) -> list[Candidate]:
    n = draw(st.integers(0, 70))
    employers = [f"单位{i}" for i in range(draw(st.integers(1, 5)))]
    cands = sample.candidates(n, seed=draw(st.integers(0, 10_000)))
    return [
        dataclasses.replace(
            c,
            employer=draw(st.sampled_from(employers)),
            trade=draw(st.sampled_from(["电工", "绿化工", "保育员"])),
        )
        for c in cands
    ]


def check_invariants(plan: SeatPlan, cands: list[Candidate], sittings: list[Sitting]) -> None:
    seats = Counter((a.centre, a.room, a.seat) for a in plan.assignments)
    assert all(n == 1 for n in seats.values()), "a seat is used twice"
    assert len({a.ticket for a in plan.assignments}) == len(plan.assignments)
    by_id = {a.id_number: a for a in plan.assignments}
    assert len(by_id) == len(plan.assignments), "a candidate is seated twice"
    unseated = {
        i
        for p in plan.problems
        if p.kind in (ProblemKind.NO_SEAT, ProblemKind.NO_SITTING)
        for i in p.id_numbers
    }
    for c in cands:
        takes = {s.code for s in sittings if s.applies_to(c)}
        if c.id_number in by_id:
            a = by_id[c.id_number]
            # seated once in every sitting they take, and in nothing else
            assert set(a.variants) == takes
            for code, v in a.variants.items():
                assert v in plan.sitting(code).variants
            assert is_valid_ticket(a.ticket)
            p = parse_ticket(a.ticket)
            assert (p.centre, p.room, p.seat) == (a.centre, a.room, a.seat)
        else:
            assert c.id_number in unseated, f"{c.id_number} neither seated nor reported"
    for centre in plan.centres:
        for room in centre.rooms:
            key = (centre.code, room.code)
            spares = plan.spares[key]
            assert spares == spare_seats_for(room, 0.1)
            used = {a.seat for a in plan.in_room(key)}
            assert not used & set(spares), "a spare seat was given away"
            assert not used & room.blocked, "a blocked seat was used"
            assert all(1 <= s <= room.rows * room.cols for s in used)
    # every neighbour pair sharing a variant is reported; with >= 2 variants there are none
    reported = {
        (p.sitting, p.centre, p.room, p.seats)
        for p in plan.problems
        if p.kind is ProblemKind.VARIANT
    }
    for s in sittings:
        for key in plan.room_keys():
            room = plan.room(key)
            here = {a.seat: a.variants[s.code] for a in plan.in_room(key, s.code)}
            for seat, v in here.items():
                r, c = room.position(seat)
                for rr, cc in ((r, c + 1), (r + 1, c)):
                    if rr <= room.rows and cc <= room.cols and here.get(room.seat_at(rr, cc)) == v:
                        assert len(s.variants) >= 2 or (s.code, None, None, ()) in reported
                        assert (
                            len(s.variants) == 1
                            or (s.code, key[0], key[1], (seat, room.seat_at(rr, cc))) in reported
                        )


@SETTINGS
@given(rooms_st(), sittings_st(), candidates_st(), st.integers(0, 3))
def test_allocation_invariants(
    centres: list[Centre], sittings: list[Sitting], cands: list[Candidate], seed: int
) -> None:
    plan = allocate(cands, centres, sittings, year=2026, seed=seed, spare_share=0.1)
    check_invariants(plan, cands, sittings)
    if all(len(s.variants) >= 2 for s in sittings):
        assert not [p for p in plan.problems if p.kind is ProblemKind.VARIANT]


@SETTINGS
@given(rooms_st(), sittings_st(), candidates_st(), st.integers(1, 4), st.integers(0, 3))
def test_late_candidates_move_nobody(
    centres: list[Centre], sittings: list[Sitting], cands: list[Candidate], late: int, seed: int
) -> None:
    first = allocate(cands, centres, sittings, year=2026, seed=seed, spare_share=0.1)
    extra = [
        c
        for c in sample.candidates(late + len(cands), seed=99_999)
        if c.id_number not in {x.id_number for x in cands}
    ][:late]
    second = allocate(
        cands + extra, centres, sittings, year=2026, seed=seed, spare_share=0.1, previous=first
    )
    check_invariants(second, cands + extra, sittings)
    for a in first.assignments:
        b = second.assignment_for(a.id_number)
        assert b == a, "an already seated candidate moved or changed ticket/variant"


def test_deterministic_and_independent_of_input_order() -> None:
    cands = sample.candidates(150, seed=2)
    args = ([sample.centre(rooms=6)], sample.sittings())
    a = allocate(cands, *args, year=2026, seed=7)
    b = allocate(list(reversed(cands)), *args, year=2026, seed=7)
    c = allocate(cands, *args, year=2026, seed=8)
    assert a.assignments == b.assignments
    assert a.assignments != c.assignments


def test_rooms_are_tidy_blocks_of_level_and_trade() -> None:
    plan = allocate(
        sample.candidates(200, seed=3), [sample.centre(rooms=8)], sample.sittings(), year=2026
    )
    order = [a for key in plan.used_room_keys() for a in plan.in_room(key)]
    groups = [(plan.candidate(a.id_number).level, plan.candidate(a.id_number).trade) for a in order]
    # in seat order each (level, trade) group is one run: it never comes back
    runs = [g for i, g in enumerate(groups) if i == 0 or g != groups[i - 1]]
    assert len(runs) == len(set(runs))


def test_employers_apart_where_the_room_allows() -> None:
    cands = [
        dataclasses.replace(c, employer="甲单位" if i % 2 else "乙单位", level=4, trade="电工")
        for i, c in enumerate(sample.candidates(30, seed=4))
    ]
    room = Room("001", "一", 5, 6, spare_seats=0)
    plan = allocate(cands, [Centre("0101", "C", (room,))], sample.sittings(), year=2026)
    assert not [p for p in plan.problems if p.kind is ProblemKind.EMPLOYER]
    for a in plan.assignments:
        for n in room.side_neighbours(a.seat):
            other = [b for b in plan.assignments if b.seat == n]
            if other:
                assert (
                    plan.candidate(other[0].id_number).employer
                    != plan.candidate(a.id_number).employer
                )


def test_employer_conflicts_reported_when_unavoidable() -> None:
    cands = [
        dataclasses.replace(c, employer="甲单位" if i < 24 else f"其他{i}", level=4, trade="电工")
        for i, c in enumerate(sample.candidates(30, seed=5))
    ]
    room = Room("001", "一", 5, 6, spare_seats=0)
    plan = allocate(cands, [Centre("0101", "C", (room,))], sample.sittings(), year=2026)
    actual = set()
    by_seat = {a.seat: plan.candidate(a.id_number).employer for a in plan.assignments}
    for seat, emp in by_seat.items():
        if seat + 1 in room.side_neighbours(seat) and by_seat.get(seat + 1) == emp:
            actual.add((seat, seat + 1))
    reported = {p.seats for p in plan.problems if p.kind is ProblemKind.EMPLOYER}
    assert actual and actual == reported
    p = next(p for p in plan.problems if p.kind is ProblemKind.EMPLOYER)
    assert "甲单位" in p.zh and p.room == "001"


def test_spares_and_capacity_shortfall_reported() -> None:
    room = Room("1", "一", 2, 5)
    assert room.code == "001"
    assert spare_seats_for(room, 0.05) == (10,)
    assert spare_seats_for(Room("2", "二", 2, 5, spare_seats=3, blocked=frozenset({10})), 0.05) == (
        7,
        8,
        9,
    )
    cands = sample.candidates(12, seed=6)
    plan = allocate(
        [dataclasses.replace(c, level=3) for c in cands],
        [Centre("0101", "C", (room,))],
        sample.sittings(),
        year=2026,
    )
    assert len(plan.assignments) == 9
    short = [p for p in plan.problems if p.kind is ProblemKind.NO_SEAT]
    assert len(short) == 3 and "座位不足" in short[0].zh


def test_one_variant_is_reported_once_per_sitting() -> None:
    sittings = [Sitting("S1", "职业道德", at(9), at(10), ("A",))]
    plan = allocate(sample.candidates(20, seed=7), [sample.centre(rooms=1)], sittings, year=2026)
    var = [p for p in plan.problems if p.kind is ProblemKind.VARIANT]
    assert len(var) == 1 and var[0].sitting == "S1"


def test_registered_centre_is_respected_and_unknown_reported() -> None:
    c1, c2 = sample.centre("0101", rooms=2), sample.centre("0202", rooms=2)
    cands = sample.candidates(30, seed=8)
    cands = [
        dataclasses.replace(c, centre="0202" if i < 10 else "0999" if i == 10 else None)
        for i, c in enumerate(cands)
    ]
    plan = allocate(cands, [c1, c2], sample.sittings(), year=2026)
    for c in cands[:10]:
        a = plan.assignment_for(c.id_number)
        assert a is not None and a.centre == "0202"
    assert plan.assignment_for(cands[10].id_number) is None
    assert [p.kind for p in plan.problems] == [ProblemKind.UNKNOWN_CENTRE]


def test_bad_input_raises_clear_errors() -> None:
    cands = sample.candidates(3)
    with pytest.raises(SeatingError, match="身份证号重复"):
        allocate(cands + cands[:1], [sample.centre(rooms=1)], sample.sittings(), year=2026)
    overlapping = [Sitting("A", "x", at(9), at(11)), Sitting("B", "y", at(10), at(12))]
    with pytest.raises(SeatingError, match="时间重叠"):
        allocate(cands, [sample.centre(rooms=1)], overlapping, year=2026)
    with pytest.raises(SeatingError, match="超过 99"):
        Room("001", "big", 10, 10)
    with pytest.raises(SeatingError, match="4 位数字"):
        Centre("12", "x", ())
    with pytest.raises(SeatingError, match="一级至五级"):
        Candidate("1", "王", Gender.MALE, "u", "t", 6)


def test_withdrawn_candidate_leaves_a_gap_and_moves_nobody() -> None:
    cands = sample.candidates(60, seed=9)
    first = allocate(cands, [sample.centre(rooms=3)], sample.sittings(), year=2026)
    second = allocate(
        cands[1:], [sample.centre(rooms=3)], sample.sittings(), year=2026, previous=first
    )
    assert {a.ticket for a in second.assignments} == {
        a.ticket for a in first.assignments if a.id_number != cands[0].id_number
    }


def test_moved_candidate_is_reported_with_reprint_advice() -> None:
    cands = sample.candidates(40, seed=10)
    first = allocate(cands, [sample.centre(rooms=2)], sample.sittings(), year=2026, spare_share=0)
    gone = sample.centre(rooms=1)
    second = allocate(
        cands,
        [dataclasses.replace(gone, rooms=gone.rooms + (Room("003", "新", 6, 6),))],
        sample.sittings(),
        year=2026,
        spare_share=0,
        previous=first,
    )
    moved = [p for p in second.problems if p.kind is ProblemKind.MOVED]
    assert moved and all("重新打印" in p.zh for p in moved)
    assert math.isclose(len(second.assignments), 40)
