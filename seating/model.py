"""The data seating works on: plain frozen dataclasses, no database, no web.

The centre server and the central service build these from their own models and pass them
in; the ``seating`` CLI builds them from csv/xlsx/json files (:mod:`seating.inputs`).

Words (the users' words in Chinese):

* :class:`Candidate` 考生, identified by their ID number (身份证号);
* :class:`Centre` 考点, with its :class:`Room` 考场 of numbered seats (座号);
* :class:`Sitting` one timed paper (场次), e.g. 职业道德 9:00-10:00, with its paper variants
  (试卷版本 A, B, ...) and the levels/trades it applies to;
* :class:`Assignment` one candidate's seat and admission ticket number (准考证号) for the whole
  plan, and their paper variant in each sitting they take;
* :class:`SeatPlan` the result of :func:`seating.allocation.allocate`, with the
  :class:`Problem` list of constraints that could not be met.

Seats are numbered row by row from the front (讲台), left to right as the candidates see
it: seat 1 is the front row's leftmost seat, seat ``(row - 1) * cols + col``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import cached_property

#: China Standard Time (no daylight saving): how printed documents show times.
CHINA_TZ = timezone(timedelta(hours=8), "CST")

#: The most seats a room may have: the ticket number has two digits for the seat.
MAX_SEATS_PER_ROOM = 99

#: A room's key across a plan: (centre code, room code).
RoomKey = tuple[str, str]


class SeatingError(ValueError):
    """Bad input to seating (a duplicate ID number, a room with no seats, ...).

    ``str()`` is Chinese first, English in brackets, and says what to fix.
    """

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh}（{en}）")
        self.zh = zh
        self.en = en


class Gender(str, enum.Enum):
    MALE = "male"  #: 男
    FEMALE = "female"  #: 女


#: Level names as the notices print them (工勤技能岗位等级).
LEVEL_NAMES_ZH = {
    1: "一级（高级技师）",
    2: "二级（技师）",
    3: "三级（高级工）",
    4: "四级（中级工）",
    5: "五级（初级工）",
}
LEVEL_NAMES_EN = {
    1: "Level 1 (senior technician)",
    2: "Level 2 (technician)",
    3: "Level 3 (senior worker)",
    4: "Level 4 (intermediate worker)",
    5: "Level 5 (junior worker)",
}


@dataclass(frozen=True)
class Candidate:
    """A registered candidate (考生). ``id_number`` (身份证号) is the key."""

    id_number: str
    name: str
    gender: Gender
    employer: str  #: 工作单位; candidates of one employer are not seated side by side
    trade: str  #: 工种, e.g. 电工
    level: int  #: 1..5 (一级..五级)
    birth_date: date | None = None
    photo: bytes | None = field(default=None, repr=False, compare=False)  #: JPEG/PNG
    centre: str | None = None  #: registered centre code (考点代码); None: any centre
    registration_no: str = ""  #: 报名号 from the registration system, printed if given
    #: 准考证号 as the province issued it; empty: the allocation numbers the candidate
    #: (``seating.tickets``, year + centre + room + seat + check digit)
    ticket: str = ""

    def __post_init__(self) -> None:
        if not self.id_number:
            raise SeatingError("考生缺少身份证号", "a candidate has no ID number")
        if not self.name.strip():
            raise SeatingError(
                f"身份证号 {self.id_number} 的考生缺少姓名", "a candidate has no name"
            )
        if self.level not in LEVEL_NAMES_ZH:
            raise SeatingError(
                f"考生 {self.name} 的等级 {self.level} 不在一级至五级之间",
                f"level must be 1..5, got {self.level}",
            )


@dataclass(frozen=True)
class Room:
    """A room (考场) of ``rows`` x ``cols`` seats; row 1 is at the front.

    ``code`` is the room number, 1-3 digits (it goes into the ticket number); it is kept
    zero-padded to 3 digits (``"7"`` becomes ``"007"``).
    ``spare_seats`` overrides the plan's spare share for this room. ``blocked`` seats
    (a broken PC, a pillar) are never used, not even as spares.
    """

    code: str
    name: str
    rows: int
    cols: int
    spare_seats: int | None = None
    blocked: frozenset[int] = frozenset()
    location: str = ""  #: e.g. 实验楼3楼302

    def __post_init__(self) -> None:
        if not (self.code.isdigit() and 1 <= len(self.code) <= 3 and int(self.code) > 0):
            raise SeatingError(
                f"考场代码“{self.code}”应为 1-3 位数字且不为 0",
                f"room code {self.code!r} must be 1-3 digits, not zero",
            )
        object.__setattr__(self, "code", self.code.zfill(3))
        if self.rows < 1 or self.cols < 1:
            raise SeatingError(
                f"考场 {self.code} 的行数和列数必须至少为 1",
                f"room {self.code}: rows and cols must be at least 1",
            )
        if self.rows * self.cols > MAX_SEATS_PER_ROOM:
            raise SeatingError(
                f"考场 {self.code} 有 {self.rows * self.cols} 个座位，超过 {MAX_SEATS_PER_ROOM}："
                "请分成两个考场代码",
                f"room {self.code} has {self.rows * self.cols} seats, more than "
                f"{MAX_SEATS_PER_ROOM}: split it into two room codes",
            )
        bad = [s for s in self.blocked if not 1 <= s <= self.rows * self.cols]
        if bad:
            raise SeatingError(
                f"考场 {self.code} 的停用座位 {bad} 不存在",
                f"room {self.code}: blocked seats {bad} do not exist",
            )
        if self.spare_seats is not None and self.spare_seats < 0:
            raise SeatingError(
                f"考场 {self.code} 的备用座位数不能为负", f"room {self.code}: negative spare seats"
            )

    @property
    def number(self) -> int:
        return int(self.code)

    @property
    def capacity(self) -> int:
        """Seats that exist and are not blocked (spares included)."""
        return self.rows * self.cols - len(self.blocked)

    def seat_at(self, row: int, col: int) -> int:
        return (row - 1) * self.cols + col

    def position(self, seat: int) -> tuple[int, int]:
        """(row, col) of a seat number, both from 1."""
        return (seat - 1) // self.cols + 1, (seat - 1) % self.cols + 1

    def neighbours(self, seat: int) -> list[int]:
        """Left, right, front and back seats (those that exist)."""
        row, col = self.position(seat)
        out = []
        for dr, dc in ((0, -1), (0, 1), (-1, 0), (1, 0)):
            r, c = row + dr, col + dc
            if 1 <= r <= self.rows and 1 <= c <= self.cols:
                out.append(self.seat_at(r, c))
        return out

    def side_neighbours(self, seat: int) -> list[int]:
        """Left and right seats: "side by side" for the employer rule."""
        row, col = self.position(seat)
        return [self.seat_at(row, c) for c in (col - 1, col + 1) if 1 <= c <= self.cols]


@dataclass(frozen=True)
class Centre:
    """A test centre (考点). ``code`` is the 4-digit centre code the province assigns."""

    code: str
    name: str
    rooms: tuple[Room, ...]
    address: str = ""

    def __post_init__(self) -> None:
        if not (self.code.isdigit() and len(self.code) == 4):
            raise SeatingError(
                f"考点代码“{self.code}”应为 4 位数字", f"centre code {self.code!r} must be 4 digits"
            )
        seen: set[int] = set()
        for room in self.rooms:
            if room.number in seen:
                raise SeatingError(
                    f"考点 {self.code} 的考场代码 {room.code} 重复",
                    f"centre {self.code}: room code {room.code} is listed twice",
                )
            seen.add(room.number)

    def room(self, code: str) -> Room:
        for r in self.rooms:
            if code.isdigit() and r.number == int(code):
                return r
        raise KeyError(f"centre {self.code} has no room {code}")


@dataclass(frozen=True)
class Sitting:
    """One timed paper (场次). Applies to candidates whose level is in ``levels`` and whose
    trade is in ``trades``; an empty set means every level / every trade.

    Times are timezone-aware (the server's UTC is fine; documents print China time). A naive
    datetime is taken as China time.
    """

    code: str
    subject: str  #: as printed and as in the cutoff rule, e.g. 职业道德
    start: datetime
    end: datetime
    variants: tuple[str, ...] = ("A", "B")
    levels: frozenset[int] = frozenset()
    trades: frozenset[str] = frozenset()
    #: the plan's windows in seconds: login opens before start, late entry, earliest
    #: submission; ``None`` where the plan file does not say (documents then name no figure)
    windows_s: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        if not self.code:
            raise SeatingError("场次缺少代码", "a sitting has no code")
        if self.end <= self.start:
            raise SeatingError(
                f"场次 {self.code} 的结束时间不晚于开始时间",
                f"sitting {self.code}: end is not after start",
            )
        if not self.variants or len(set(self.variants)) != len(self.variants):
            raise SeatingError(
                f"场次 {self.code} 的试卷版本为空或重复",
                f"sitting {self.code}: variants empty or repeated",
            )

    def applies_to(self, candidate: Candidate) -> bool:
        return (not self.levels or candidate.level in self.levels) and (
            not self.trades or candidate.trade in self.trades
        )

    def local_start(self) -> datetime:
        return _china(self.start)

    def local_end(self) -> datetime:
        return _china(self.end)


def _china(t: datetime) -> datetime:
    return t.replace(tzinfo=CHINA_TZ) if t.tzinfo is None else t.astimezone(CHINA_TZ)


@dataclass(frozen=True)
class Assignment:
    """One candidate's place in the plan: one ticket and one seat for all their sittings,
    and a paper variant per sitting (sitting code -> variant label)."""

    ticket: str
    id_number: str
    centre: str
    room: str
    seat: int
    variants: Mapping[str, str]

    @property
    def room_key(self) -> RoomKey:
        return (self.centre, self.room)


class ProblemKind(str, enum.Enum):
    """What kind of constraint the allocation could not meet."""

    NO_SEAT = "no_seat"  #: not enough seats (outside spares) for the candidate
    NO_SITTING = "no_sitting"  #: no sitting applies to the candidate's level/trade
    UNKNOWN_CENTRE = "unknown_centre"  #: the candidate's registered centre is not in the plan
    VARIANT = "variant"  #: two neighbours share a paper variant in a sitting
    EMPLOYER = "employer"  #: two candidates of one employer sit side by side
    MOVED = "moved"  #: a candidate of the previous plan had to move (their seat went away)


@dataclass(frozen=True)
class Problem:
    """A constraint the allocation could not meet: where, and why (Chinese and English)."""

    kind: ProblemKind
    zh: str
    en: str
    centre: str | None = None
    room: str | None = None
    seats: tuple[int, ...] = ()
    sitting: str | None = None
    id_numbers: tuple[str, ...] = ()


@dataclass(frozen=True)
class PrintedTexts:
    """What the province wants printed on admission tickets and score reports."""

    #: the province's results website (考评结果查询网站)
    results_website: str = ""
    #: its 应考人员须知, replacing the standard lines; ``{entry}``, ``{late}``, ``{submit}``
    #: (the candidate's sitting windows) and ``{website}`` are filled in
    instructions: tuple[str, ...] = ()
    #: who issues the ticket (主办单位)
    issuer: str = ""


@dataclass(frozen=True)
class SeatPlan:
    """Seats, tickets and variants for every candidate of an exam plan at its centres."""

    year: int
    seed: int
    title: str
    centres: tuple[Centre, ...]
    sittings: tuple[Sitting, ...]
    candidates: tuple[Candidate, ...]
    assignments: tuple[Assignment, ...]
    #: spare seats held back per room, by (centre, room code)
    spares: Mapping[RoomKey, tuple[int, ...]]
    problems: tuple[Problem, ...] = ()
    texts: PrintedTexts = PrintedTexts()

    # --- look-ups (cached: the plan is frozen) ---

    @cached_property
    def _by_id(self) -> dict[str, Candidate]:
        return {c.id_number: c for c in self.candidates}

    @cached_property
    def _by_ticket(self) -> dict[str, Assignment]:
        return {a.ticket: a for a in self.assignments}

    @cached_property
    def _assignment_by_id(self) -> dict[str, Assignment]:
        return {a.id_number: a for a in self.assignments}

    @cached_property
    def _by_room(self) -> dict[RoomKey, list[Assignment]]:
        out: dict[RoomKey, list[Assignment]] = {}
        for a in sorted(self.assignments, key=lambda a: (a.centre, int(a.room), a.seat)):
            out.setdefault(a.room_key, []).append(a)
        return out

    def candidate(self, id_number: str) -> Candidate:
        return self._by_id[id_number]

    def assignment_for(self, id_number: str) -> Assignment | None:
        return self._assignment_by_id.get(id_number)

    def by_ticket(self, ticket: str) -> Assignment:
        """The assignment of a ticket number; KeyError if the plan has no such ticket."""
        return self._by_ticket[ticket]

    def centre(self, code: str) -> Centre:
        for c in self.centres:
            if c.code == code:
                return c
        raise KeyError(f"no centre {code}")

    def room(self, key: RoomKey) -> Room:
        return self.centre(key[0]).room(key[1])

    def sitting(self, code: str) -> Sitting:
        for s in self.sittings:
            if s.code == code:
                return s
        raise KeyError(f"no sitting {code}")

    def room_keys(self) -> list[RoomKey]:
        """Every room of the plan, in centre and room order (used or not)."""
        return [(c.code, r.code) for c in self.centres for r in sorted(c.rooms, key=_num)]

    def used_room_keys(self) -> list[RoomKey]:
        """Rooms with at least one candidate, in centre and room order."""
        return [k for k in self.room_keys() if self._by_room.get(k)]

    def in_room(self, key: RoomKey, sitting: str | None = None) -> list[Assignment]:
        """Assignments of a room in seat order; only those taking ``sitting`` if given."""
        rows = self._by_room.get(room_key(*key), [])
        if sitting is not None:
            rows = [a for a in rows if sitting in a.variants]
        return list(rows)

    def sittings_of(self, id_number: str) -> list[Sitting]:
        a = self._assignment_by_id.get(id_number)
        if a is None:
            return []
        return [s for s in self.sittings if s.code in a.variants]

    def rooms_of_sitting(self, sitting: str) -> list[RoomKey]:
        return [k for k in self.used_room_keys() if self.in_room(k, sitting)]


def _num(room: Room) -> int:
    return room.number


def room_key(centre: str, room: str) -> RoomKey:
    """The canonical key of a room: room code padded to 3 digits ('7' -> '007')."""
    return (centre, room.zfill(3))


def level_short(level: int, lang: str = "zh_CN") -> str:
    """``四级`` / ``Level 4``: for narrow table cells."""
    return f"Level {level}" if lang == "en" else f"{'一二三四五'[level - 1]}级"


def level_name(level: int, lang: str = "zh_CN") -> str:
    return (LEVEL_NAMES_EN if lang == "en" else LEVEL_NAMES_ZH)[level]


def iter_seats(room: Room) -> Iterable[int]:
    return range(1, room.rows * room.cols + 1)
