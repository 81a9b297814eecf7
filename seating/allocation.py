"""Seat allocation: candidates to centres, rooms and seats, and paper variants per sitting.

The rules, in the order they win:

1. **Capacity and spares.** Each room holds back spare seats (备用座位) for seat changes:
   ``room.spare_seats`` if set, else ``ceil(capacity x spare_share)``. The spares are the
   last usable seats (back of the room), so a moved candidate walks to the back. Blocked
   seats are never used.
2. **One seat per candidate for the whole plan.** A candidate takes every sitting whose
   levels/trades include them (typically three subjects) in the same seat with the same
   ticket number; only the paper variant changes from sitting to sitting.
3. **Tidy rooms.** Candidates are grouped by the set of sittings they take, then level, then
   trade, and fill the rooms in room order and seat order, so an invigilator sees blocks.
4. **Employers apart.** Within a group, candidates of one employer are interleaved so that
   no two sit side by side (left/right) where the group allows; a repair pass swaps seats
   inside a room's group; what is left is reported.
5. **Variants apart.** In each sitting, neighbours (left, right, front, back) taking that
   sitting get different variants: a seeded pattern, a checkerboard for two variants and
   ``(col + 2 x row + offset) mod k`` for more (which also separates diagonals when
   ``k >= 4``); with one variant this cannot hold and is reported once per sitting.

Determinism: the result depends on the set of candidates (not their order), the rooms,
the sittings and ``seed``. Stability: pass the plan printed earlier as ``previous`` and
every candidate still registered keeps their room, seat, ticket and variants; late
candidates take free seats next to their group; withdrawn candidates leave gaps.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from seating.model import (
    Assignment,
    Candidate,
    Centre,
    Problem,
    ProblemKind,
    Room,
    RoomKey,
    SeatingError,
    SeatPlan,
    Sitting,
)
from seating.tickets import make_ticket

DEFAULT_SPARE_SHARE = 0.05

Cohort = tuple[tuple[str, ...], int, str]


def spare_seats_for(room: Room, spare_share: float = DEFAULT_SPARE_SHARE) -> tuple[int, ...]:
    """The spare seats a room holds back: the last usable seats by seat number."""
    usable = [s for s in range(1, room.rows * room.cols + 1) if s not in room.blocked]
    n = room.spare_seats if room.spare_seats is not None else math.ceil(len(usable) * spare_share)
    n = min(n, len(usable))
    return tuple(usable[len(usable) - n :]) if n else ()


@dataclass
class _State:
    """Mutable working state of one allocation run."""

    rooms: dict[RoomKey, Room]
    spares: dict[RoomKey, tuple[int, ...]]
    occupant: dict[RoomKey, dict[int, Candidate]]
    seat_of: dict[str, tuple[RoomKey, int]]
    cohort: dict[str, Cohort]

    def free_seats(self, key: RoomKey) -> list[int]:
        room = self.rooms[key]
        taken = self.occupant[key]
        spare = set(self.spares[key])
        return [
            s
            for s in range(1, room.rows * room.cols + 1)
            if s not in room.blocked and s not in spare and s not in taken
        ]

    def place(self, c: Candidate, key: RoomKey, seat: int) -> None:
        self.occupant[key][seat] = c
        self.seat_of[c.id_number] = (key, seat)


def allocate(
    candidates: Iterable[Candidate],
    centres: Sequence[Centre],
    sittings: Sequence[Sitting],
    *,
    year: int,
    seed: int = 0,
    spare_share: float = DEFAULT_SPARE_SHARE,
    title: str = "",
    previous: SeatPlan | None = None,
) -> SeatPlan:
    """Seat every candidate and give each a ticket number and a variant per sitting.

    Raises :class:`SeatingError` for bad input (a duplicate ID number or centre, a
    candidate whose sittings overlap in time). Constraints that cannot be met are not
    errors: they are listed in ``SeatPlan.problems`` with where and why.
    """
    if not 0 <= spare_share < 1:
        raise SeatingError("备用座位比例应在 0 到 1 之间", "spare share must be in [0, 1)")
    cands = sorted(candidates, key=lambda c: c.id_number)
    _check_unique(cands, centres, sittings)
    rng = random.Random(seed)
    problems: list[Problem] = []

    rooms: dict[RoomKey, Room] = {(c.code, r.code): r for c in centres for r in c.rooms}
    room_order = [(c.code, r.code) for c in centres for r in sorted(c.rooms, key=_room_num)]
    st = _State(
        rooms=rooms,
        spares={k: spare_seats_for(rooms[k], spare_share) for k in room_order},
        occupant={k: {} for k in room_order},
        seat_of={},
        cohort={},
    )
    takes: dict[str, tuple[str, ...]] = {}
    centre_codes = {c.code for c in centres}
    seatable: list[Candidate] = []
    for c in cands:
        codes = tuple(s.code for s in sittings if s.applies_to(c))
        if not codes:
            problems.append(
                Problem(
                    ProblemKind.NO_SITTING,
                    f"考生 {c.name}（{c.id_number}）的等级和工种（{c.level}级 {c.trade}）没有对应场次，未安排座位",
                    f"{c.name} ({c.id_number}): no sitting for level {c.level} {c.trade}; not seated",
                    id_numbers=(c.id_number,),
                )
            )
            continue
        if c.centre is not None and c.centre not in centre_codes:
            problems.append(
                Problem(
                    ProblemKind.UNKNOWN_CENTRE,
                    f"考生 {c.name}（{c.id_number}）报考的考点 {c.centre} 不在本计划中，未安排座位",
                    f"{c.name} ({c.id_number}): registered centre {c.centre} is not in the plan",
                    id_numbers=(c.id_number,),
                )
            )
            continue
        _check_overlaps(c, [s for s in sittings if s.code in codes])
        takes[c.id_number] = codes
        st.cohort[c.id_number] = (codes, c.level, c.trade)
        seatable.append(c)

    kept_variants: dict[str, dict[str, str]] = {}
    if previous is not None:
        new = _keep_previous(previous, seatable, st, takes, kept_variants, problems)
        _place_late(new, room_order, st, problems)
    else:
        _fill_fresh(seatable, centres, room_order, st, rng, problems)
        for key in room_order:
            _repair_employers(st, key)

    for key in room_order:
        problems.extend(_employer_problems(st, key))
    variants = _assign_variants(sittings, room_order, st, takes, kept_variants, seed)
    for s in sittings:
        problems.extend(_variant_problems(s, room_order, st, variants))

    assignments = []
    for key in room_order:
        for seat, c in sorted(st.occupant[key].items()):
            assignments.append(
                Assignment(
                    ticket=c.ticket or make_ticket(year, key[0], key[1], seat),
                    id_number=c.id_number,
                    centre=key[0],
                    room=key[1],
                    seat=seat,
                    variants={code: variants[(code, c.id_number)] for code in takes[c.id_number]},
                )
            )
    return SeatPlan(
        year=year,
        seed=seed,
        title=title,
        centres=tuple(centres),
        sittings=tuple(sittings),
        candidates=tuple(cands),
        assignments=tuple(assignments),
        spares={k: v for k, v in st.spares.items()},
        problems=tuple(problems),
    )


def _room_num(r: Room) -> int:
    return r.number


def _check_unique(
    cands: Sequence[Candidate], centres: Sequence[Centre], sittings: Sequence[Sitting]
) -> None:
    dup = [k for k, n in Counter(c.id_number for c in cands).items() if n > 1]
    if dup:
        raise SeatingError(f"身份证号重复：{', '.join(dup)}", f"duplicate ID numbers: {dup}")
    dup = [k for k, n in Counter(c.code for c in centres).items() if n > 1]
    if dup:
        raise SeatingError(f"考点代码重复：{', '.join(dup)}", f"duplicate centre codes: {dup}")
    dup = [k for k, n in Counter(s.code for s in sittings).items() if n > 1]
    if dup:
        raise SeatingError(f"场次代码重复：{', '.join(dup)}", f"duplicate sitting codes: {dup}")


def _check_overlaps(c: Candidate, mine: list[Sitting]) -> None:
    mine = sorted(mine, key=lambda s: s.local_start())
    for a, b in zip(mine, mine[1:], strict=False):
        if b.local_start() < a.local_end():
            raise SeatingError(
                f"考生 {c.name} 的场次 {a.code} 与 {b.code} 时间重叠：请检查场次的等级和工种范围",
                f"{c.name}: sittings {a.code} and {b.code} overlap in time; check their scopes",
            )


# --- fresh allocation ------------------------------------------------------------------


def _interleave(group: list[Candidate], rng: random.Random, last: str | None) -> list[Candidate]:
    """Order a group so that neighbours differ in employer wherever the counts allow.

    Greedy: always take the employer with most candidates left that is not the last one
    placed (the classic optimal rule); ties are broken by a seeded random rank.
    """
    by_emp: dict[str, list[Candidate]] = defaultdict(list)
    for c in group:
        by_emp[c.employer].append(c)
    rank = {e: rng.random() for e in sorted(by_emp)}
    for lst in by_emp.values():
        rng.shuffle(lst)
    out: list[Candidate] = []
    while by_emp:
        choices = [e for e in by_emp if e != last] or list(by_emp)
        emp = max(choices, key=lambda e: (len(by_emp[e]), rank[e]))
        out.append(by_emp[emp].pop())
        if not by_emp[emp]:
            del by_emp[emp]
        last = emp
    return out


def _fill_fresh(
    seatable: list[Candidate],
    centres: Sequence[Centre],
    room_order: list[RoomKey],
    st: _State,
    rng: random.Random,
    problems: list[Problem],
) -> None:
    capacity = {
        c.code: sum(len(st.free_seats(k)) for k in room_order if k[0] == c.code) for c in centres
    }
    per_centre: dict[str, list[Candidate]] = {c.code: [] for c in centres}
    unplaced: list[Candidate] = []
    floating: list[Candidate] = []
    for c in seatable:
        if c.centre is None:
            floating.append(c)
        elif len(per_centre[c.centre]) < capacity[c.centre]:
            per_centre[c.centre].append(c)
        else:
            unplaced.append(c)
    # candidates free to go anywhere fill the centres in order, in group order
    floating.sort(key=lambda c: (st.cohort[c.id_number], c.id_number))
    for c in floating:
        for centre in centres:
            if len(per_centre[centre.code]) < capacity[centre.code]:
                per_centre[centre.code].append(c)
                break
        else:
            unplaced.append(c)
    for centre in centres:
        groups: dict[Cohort, list[Candidate]] = defaultdict(list)
        for c in per_centre[centre.code]:
            groups[st.cohort[c.id_number]].append(c)
        sequence: list[Candidate] = []
        for cohort in sorted(groups):
            last = sequence[-1].employer if sequence else None
            sequence.extend(_interleave(groups[cohort], rng, last))
        seats = [(k, s) for k in room_order if k[0] == centre.code for s in st.free_seats(k)]
        for c, (key, seat) in zip(sequence, seats, strict=False):
            st.place(c, key, seat)
    for c in unplaced:
        problems.append(_no_seat(c))


def _no_seat(c: Candidate) -> Problem:
    where = f"考点 {c.centre}" if c.centre else "所有考点"
    return Problem(
        ProblemKind.NO_SEAT,
        f"{where}座位不足（备用座位除外），考生 {c.name}（{c.id_number}）未安排座位：请增加考场或减少备用座位",
        f"no free seat (spares excluded) at {c.centre or 'any centre'} for {c.name} "
        f"({c.id_number}): add a room or lower the spare share",
        centre=c.centre,
        id_numbers=(c.id_number,),
    )


def _side_conflicts(st: _State, key: RoomKey, seat: int, c: Candidate) -> int:
    room, occ = st.rooms[key], st.occupant[key]
    return sum(
        1
        for n in room.side_neighbours(seat)
        if n in occ and occ[n].employer == c.employer and occ[n].id_number != c.id_number
    )


def _repair_employers(st: _State, key: RoomKey) -> None:
    """Swap seats inside a room's group to separate same-employer neighbours."""
    occ = st.occupant[key]
    for seat in sorted(occ):
        c = occ[seat]
        if _side_conflicts(st, key, seat, c) == 0:
            continue
        for other_seat in sorted(occ):
            o = occ[other_seat]
            if other_seat == seat or st.cohort[o.id_number] != st.cohort[c.id_number]:
                continue
            if o.employer == c.employer:
                continue
            before = _side_conflicts(st, key, seat, c) + _side_conflicts(st, key, other_seat, o)
            occ[seat], occ[other_seat] = o, c
            after = _side_conflicts(st, key, seat, o) + _side_conflicts(st, key, other_seat, c)
            if after < before:
                st.seat_of[c.id_number] = (key, other_seat)
                st.seat_of[o.id_number] = (key, seat)
                break
            occ[seat], occ[other_seat] = c, o


def _employer_problems(st: _State, key: RoomKey) -> list[Problem]:
    room, occ = st.rooms[key], st.occupant[key]
    out = []
    for seat, c in sorted(occ.items()):
        right = seat + 1
        if (
            right in room.side_neighbours(seat)
            and right in occ
            and occ[right].employer == c.employer
        ):
            group = [o for o in occ.values() if st.cohort[o.id_number] == st.cohort[c.id_number]]
            same = sum(1 for o in group if o.employer == c.employer)
            out.append(
                Problem(
                    ProblemKind.EMPLOYER,
                    f"考点 {key[0]} 考场 {key[1]} 第 {seat}、{right} 号座位的考生同属“{c.employer}”："
                    f"该考场同组 {len(group)} 人中有 {same} 人来自该单位，无法全部隔开",
                    f"centre {key[0]} room {key[1]} seats {seat} and {right}: both from "
                    f"{c.employer!r}; {same} of the room's {len(group)} in this group are",
                    centre=key[0],
                    room=key[1],
                    seats=(seat, right),
                    id_numbers=(c.id_number, occ[right].id_number),
                )
            )
    return out


# --- stability: keep the previous plan, seat late candidates ---------------------------


def _keep_previous(
    previous: SeatPlan,
    seatable: list[Candidate],
    st: _State,
    takes: dict[str, tuple[str, ...]],
    kept_variants: dict[str, dict[str, str]],
    problems: list[Problem],
) -> list[Candidate]:
    new: list[Candidate] = []
    for c in seatable:
        a = previous.assignment_for(c.id_number)
        if a is None:
            new.append(c)
            continue
        key = (a.centre, a.room)
        ok = (
            key in st.rooms
            and a.seat not in st.rooms[key].blocked
            and a.seat not in st.spares[key]
            and a.seat <= st.rooms[key].rows * st.rooms[key].cols
            and a.seat not in st.occupant[key]
            and (c.centre is None or c.centre == a.centre)
        )
        if ok:
            st.place(c, key, a.seat)
            kept_variants[c.id_number] = {
                k: v for k, v in a.variants.items() if k in takes[c.id_number]
            }
        else:
            problems.append(
                Problem(
                    ProblemKind.MOVED,
                    f"考生 {c.name}（{c.id_number}）原座位（考点 {a.centre} 考场 {a.room} 第 {a.seat} 号）"
                    "已不可用，已重新安排，准考证号随之改变：请重新打印其准考证",
                    f"{c.name} ({c.id_number}): previous seat {a.centre}/{a.room}/{a.seat} is gone; "
                    "moved, with a new ticket number: reprint their admission ticket",
                    centre=a.centre,
                    room=a.room,
                    seats=(a.seat,),
                    id_numbers=(c.id_number,),
                )
            )
            new.append(c)
    return new


def _place_late(
    new: list[Candidate], room_order: list[RoomKey], st: _State, problems: list[Problem]
) -> None:
    """Seat candidates one by one in the best free seat, never moving anyone."""
    order = {k: i for i, k in enumerate(room_order)}
    for c in sorted(new, key=lambda c: (st.cohort[c.id_number], c.id_number)):
        cohort = st.cohort[c.id_number]
        best: tuple[tuple[int, int, int, int], RoomKey, int] | None = None
        for key in room_order:
            if c.centre is not None and key[0] != c.centre:
                continue
            occ = st.occupant[key]
            room = st.rooms[key]
            in_room = any(st.cohort[o.id_number] == cohort for o in occ.values())
            for seat in st.free_seats(key):
                near = sum(
                    1
                    for n in room.neighbours(seat)
                    if n in occ and st.cohort[occ[n].id_number] == cohort
                )
                score = (_side_conflicts(st, key, seat, c), -(2 * near + in_room), order[key], seat)
                if best is None or score < best[0]:
                    best = (score, key, seat)
        if best is None:
            problems.append(_no_seat(c))
        else:
            st.place(c, best[1], best[2])


# --- variants -------------------------------------------------------------------------


def _assign_variants(
    sittings: Sequence[Sitting],
    room_order: list[RoomKey],
    st: _State,
    takes: dict[str, tuple[str, ...]],
    kept: dict[str, dict[str, str]],
    seed: int,
) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for s in sittings:
        srng = random.Random(f"{seed}:{s.code}")
        labels = list(s.variants)
        srng.shuffle(labels)
        k = len(labels)
        for key in room_order:
            room, occ = st.rooms[key], st.occupant[key]
            offset = srng.randrange(k)
            seats = [seat for seat, c in sorted(occ.items()) if s.code in takes[c.id_number]]
            here: dict[int, str] = {}
            todo = []
            for seat in seats:
                v = kept.get(occ[seat].id_number, {}).get(s.code)
                if v is not None and v in s.variants:
                    here[seat] = v
                else:
                    todo.append(seat)
            for seat in todo:
                row, col = room.position(seat)
                # k = 2: a checkerboard; k >= 3: (col + 2 row) also parts front/back, and
                # diagonals too when k >= 4
                preferred = labels[(col + (1 if k == 2 else 2) * row + offset) % k]
                taken = {here[n] for n in room.neighbours(seat) if n in here}
                if preferred not in taken:
                    here[seat] = preferred
                    continue
                use = Counter(here.values())
                diag = Counter(
                    here[room.seat_at(row + dr, col + dc)]
                    for dr in (-1, 1)
                    for dc in (-1, 1)
                    if 1 <= row + dr <= room.rows
                    and 1 <= col + dc <= room.cols
                    and room.seat_at(row + dr, col + dc) in here
                )
                here[seat] = min(
                    labels, key=lambda v: (v in taken, diag[v], use[v], labels.index(v))
                )
            for seat, v in here.items():
                out[(s.code, occ[seat].id_number)] = v
    return out


def _variant_problems(
    s: Sitting, room_order: list[RoomKey], st: _State, variants: dict[tuple[str, str], str]
) -> list[Problem]:
    if len(s.variants) == 1:
        if any(
            (s.code, c.id_number) in variants for k in room_order for c in st.occupant[k].values()
        ):
            return [
                Problem(
                    ProblemKind.VARIANT,
                    f"场次 {s.code}（{s.subject}）只有一个试卷版本，相邻考生试卷相同：请增加版本",
                    f"sitting {s.code} ({s.subject}) has one variant: neighbours share the paper; "
                    "add variants",
                    sitting=s.code,
                )
            ]
        return []
    out = []
    for key in room_order:
        room, occ = st.rooms[key], st.occupant[key]
        for seat, c in sorted(occ.items()):
            v = variants.get((s.code, c.id_number))
            if v is None:
                continue
            row, col = room.position(seat)
            for r, cc in ((row, col + 1), (row + 1, col)):
                if r > room.rows or cc > room.cols:
                    continue
                n = room.seat_at(r, cc)
                if n in occ and variants.get((s.code, occ[n].id_number)) == v:
                    out.append(
                        Problem(
                            ProblemKind.VARIANT,
                            f"场次 {s.code} 考点 {key[0]} 考场 {key[1]} 第 {seat}、{n} 号座位试卷版本相同（{v}）："
                            "迟到补录的考生周围已无其他版本可选",
                            f"sitting {s.code} centre {key[0]} room {key[1]} seats {seat} and {n} "
                            f"share variant {v}: no other variant was free around a late candidate",
                            centre=key[0],
                            room=key[1],
                            seats=(seat, n),
                            sitting=s.code,
                        )
                    )
    return out
