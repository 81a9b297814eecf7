"""The standard data parts of a centre's exam package, beside the encrypted papers.

Central writes them with :func:`centre_parts`; the centre validates them with
:func:`read_centre_parts` before importing anything. Each is a JSON part
(``question_bank.package.Part``):

``centre.json``
    the centre, its rooms (rows x cols) and the seats held back as spares;
``plan.json``
    the exam plan: year, name, the forms of each level (parts, who delivers them, full
    marks and pass lines: ``exam_common.forms``), the province's ticket rule
    (``exam_common.tickets``), what the printed documents say (results website, 须知),
    the multiple-choice scoring policy;
``sittings.json``
    each sitting: code (as in the manifest), subject, level, trade, start and end
    (UTC ISO 8601) and the rule windows in seconds;
``roster.json``
    each candidate with their seat and paper variant per sitting; photos travel as
    ``photo-<ticket>.jpg`` parts.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from exam_common.forms import LEVEL_ZH, Form, check_forms, form_for, require_lines
from exam_common.tickets import AnyTicket, TicketError, TicketRule
from question_bank.package import Part


class PartsError(ValueError):
    """A data part that does not validate; says which part and which field."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class RoomPart(_Model):
    code: Annotated[str, Field(pattern=r"^\d{2,3}$")]
    name: str
    rows: int = Field(ge=1, le=30)
    cols: int = Field(ge=1, le=30)
    spare_seats: tuple[int, ...] = ()

    @model_validator(mode="after")
    def _spares_inside(self) -> RoomPart:
        bad = [n for n in self.spare_seats if not 1 <= n <= self.rows * self.cols]
        if bad:
            raise ValueError(
                f"room {self.code}: spare seats {bad} are outside 1..{self.rows * self.cols}"
            )
        return self


class CentrePart(_Model):
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,32}$")]
    name: str
    rooms: tuple[RoomPart, ...] = Field(min_length=1)


class DocumentsPart(_Model):
    """What the province wants printed on admission tickets and score reports."""

    #: the province's results website (考评结果查询网站), e.g. http://ha.nva.net.cn
    results_website: str = Field(default="", max_length=200)
    #: the 应考人员须知, replacing the standard lines; ``{entry}``, ``{late}``, ``{submit}``
    #: (the sitting's windows) and ``{website}`` are filled in
    instructions: tuple[str, ...] = ()
    #: who issues the ticket (主办单位), printed at its foot
    issuer: str = Field(default="", max_length=200)


class PlanPart(_Model):
    year: int = Field(ge=2000, le=2100)
    name: str
    forms: tuple[Form, ...] = Field(min_length=1)
    ticket_rule: TicketRule
    documents: DocumentsPart = DocumentsPart()
    multiple_policy: Literal["all_or_nothing", "proportional", "half"] = "all_or_nothing"

    @model_validator(mode="after")
    def _forms(self) -> PlanPart:
        check_forms(self.forms)
        return self


class SittingPart(_Model):
    code: Code
    subject: str
    level: int | None = Field(default=None, ge=1, le=5)
    trade: str | None = None
    start: datetime
    end: datetime
    entry_opens_before_s: int = Field(ge=0)
    late_entry_s: int = Field(ge=0)
    earliest_submit_s: int = Field(ge=0)

    @model_validator(mode="after")
    def _window(self) -> SittingPart:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError(f"sitting {self.code}: times must carry a timezone")
        if self.end <= self.start:
            raise ValueError(f"sitting {self.code}: end must be after start")
        return self


class SeatingPart(_Model):
    sitting: Code
    room: str
    seat: int = Field(ge=1)
    variant: int = Field(ge=1)


class CandidatePart(_Model):
    ticket: AnyTicket
    id_number: Annotated[str, Field(pattern=r"^\d{17}[\dX]$")]
    name: str = Field(min_length=1, max_length=100)
    gender: str
    birth_date: date
    trade: str
    level: int = Field(ge=1, le=5)
    employer: str = ""
    photo: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9_.\-]{0,63}$",
        description="name of the photo part (in this package's parts/), if any",
    )
    seats: tuple[SeatingPart, ...] = Field(min_length=1)


class CentreParts(_Model):
    centre: CentrePart
    plan: PlanPart
    sittings: tuple[SittingPart, ...]
    roster: tuple[CandidatePart, ...]

    @model_validator(mode="after")
    def _consistent(self) -> CentreParts:
        rooms = {r.code: r for r in self.centre.rooms}
        sittings = {s.code for s in self.sittings}
        tickets: set[str] = set()
        taken: set[tuple[str, str, int]] = set()
        by_code = {sp.code: sp for sp in self.sittings}
        for sp in self.sittings:
            if sp.level is None or not any(
                _is_cbt(f, sp.subject) for f in self.plan.forms if f.level == sp.level
            ):
                level = LEVEL_ZH.get(sp.level or 0, "（未写等级）")
                raise ValueError(
                    f"场次 {sp.code} 的科目“{sp.subject}”不是{level}考核方式中的机考科目"
                    f"（或{level}没有考核方式和合格线）"
                )
            for f in self.plan.forms:
                if f.level == sp.level:
                    require_lines(f, f"场次 {sp.code}")
        for c in self.roster:
            if c.ticket in tickets:
                raise ValueError(f"roster: ticket {c.ticket} appears twice")
            tickets.add(c.ticket)
            try:
                self.plan.ticket_rule.verify(c.ticket)
            except TicketError as exc:
                raise ValueError(
                    f"roster: 准考证号 {c.ticket} 不符合计划的准考证号规则：{exc.zh}"
                ) from None
            form = form_for(self.plan.forms, c.level, c.trade)
            if form is None:
                raise ValueError(
                    f"roster {c.ticket}: {LEVEL_ZH[c.level]}（{c.trade}）没有考核方式和合格线 "
                    f"(no exam form for level {c.level})"
                )
            require_lines(form, f"roster {c.ticket}")
            for seat in c.seats:
                sitting = by_code.get(seat.sitting)
                if sitting is not None and not _is_cbt(form, sitting.subject):
                    raise ValueError(
                        f"roster {c.ticket}: 场次 {seat.sitting}（{sitting.subject}）不是"
                        f"{form.label}的机考科目"
                    )
            for s in c.seats:
                if s.sitting not in sittings:
                    raise ValueError(f"roster {c.ticket}: unknown sitting {s.sitting}")
                room = rooms.get(s.room)
                if room is None:
                    raise ValueError(f"roster {c.ticket}: unknown room {s.room}")
                if s.seat > room.rows * room.cols:
                    raise ValueError(f"roster {c.ticket}: seat {s.seat} is not in room {s.room}")
                if (s.sitting, s.room, s.seat) in taken:
                    raise ValueError(
                        f"roster {c.ticket}: seat {s.room}-{s.seat} is taken twice in {s.sitting}"
                    )
                taken.add((s.sitting, s.room, s.seat))
        return self


def _is_cbt(form: Form, subject: str) -> bool:
    part = form.part(subject)
    return part is not None and part.is_cbt


PART_NAMES = ("centre.json", "plan.json", "sittings.json", "roster.json")


def centre_parts(parts: CentreParts, photos: dict[str, bytes] | None = None) -> list[Part]:
    """The parts central adds to a centre's package."""
    out = [
        Part("centre.json", parts.centre.model_dump_json(indent=1).encode()),
        Part("plan.json", parts.plan.model_dump_json(indent=1).encode()),
        Part(
            "sittings.json",
            b"[" + b",".join(s.model_dump_json().encode() for s in parts.sittings) + b"]",
        ),
        Part(
            "roster.json",
            b"[" + b",".join(c.model_dump_json().encode() for c in parts.roster) + b"]",
        ),
    ]
    for name, data in (photos or {}).items():
        out.append(Part(name, data, "image/jpeg"))
    return out


def read_centre_parts(read: dict[str, bytes]) -> CentreParts:
    """Validate the four standard parts (name -> bytes); raise :class:`PartsError`."""
    missing = [n for n in PART_NAMES if n not in read]
    if missing:
        raise PartsError(f"考试包缺少数据部件 {', '.join(missing)} (missing parts)")
    try:
        return CentreParts(
            centre=CentrePart.model_validate_json(read["centre.json"]),
            plan=PlanPart.model_validate_json(read["plan.json"]),
            sittings=tuple(
                SittingPart.model_validate(x) for x in json.loads(read["sittings.json"])
            ),
            roster=tuple(CandidatePart.model_validate(x) for x in json.loads(read["roster.json"])),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PartsError(
            f"考试包数据部件有误 / bad package data: {where}: {first['msg']}"
        ) from None
    except (ValueError, TypeError) as exc:
        raise PartsError(f"考试包数据部件有误 / bad package data: {exc}") from None
