"""The exam plan central works from: centres and rooms, sittings with their blueprints,
cutoff rules, and where the item bank is. Loaded from a JSON file by ``exam-central plan
load`` and kept in central's database (``PlanConfig``). Example (``docs/central.md``)::

    {"year": 2026, "name": "2026年工勤技能岗位等级考核", "seed": "2026-spring",
     "bank": "sample",
     "multiple_policy": "all_or_nothing",
     "cutoffs": [{"level": 4, "subjects": ["职业道德", "职业能力", "岗位技能"],
                  "subject_min": 35, "total_min": 180}],
     "centres": [{"code": "0101", "name": "…", "rooms": [
                  {"code": "001", "name": "第01考场", "rows": 5, "cols": 6, "spare_seats": 2}]}],
     "sittings": [{"code": "S1-ZYDD-L4", "subject_code": "ZYDD", "level": 4, "trade": null,
                   "trades": [], "start": "2026-06-01T01:00:00Z", "end": "2026-06-01T02:00:00Z",
                   "variants": ["A", "B"], "windows_s": [1800, 1800, 1800],
                   "blueprint": "sample"}]}

``bank`` is ``"sample"`` (the sample bank) or the path of a ``qbank`` store; a sitting's
``blueprint`` is ``"sample"`` (the sample blueprint for its subject, level and trade) or
the path of a blueprint file (its first blueprint).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from central.packaging import SittingSpec
from question_bank.assembly import BankIndex
from question_bank.blueprint import Blueprint, load_blueprints
from question_bank.package_parts import CutoffPart, PlanPart
from seating.model import Centre, Room, Sitting


class PlanError(ValueError):
    pass


class _M(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RoomDoc(_M):
    code: Annotated[str, Field(pattern=r"^\d{1,3}$")]
    name: str
    rows: int = Field(ge=1, le=30)
    cols: int = Field(ge=1, le=30)
    spare_seats: int | None = None
    location: str = ""


class CentreDoc(_M):
    code: Annotated[str, Field(pattern=r"^\d{4}$")]
    name: str
    address: str = ""
    rooms: tuple[RoomDoc, ...] = Field(min_length=1)


class SittingDoc(_M):
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
    subject_code: Annotated[str, Field(pattern=r"^(ZYDD|ZYNL|GWJN|LLZS)$")]
    level: int = Field(ge=1, le=5)
    #: the blueprint's trade code (岗位技能 only), e.g. DG
    trade: str | None = None
    #: candidates' trade names this sitting applies to (empty: every trade)
    trades: tuple[str, ...] = ()
    start: datetime
    end: datetime
    variants: tuple[str, ...] = ("A", "B")
    #: entry opens before start, late entry, earliest submission (seconds)
    windows_s: tuple[int, int, int] = (1800, 1800, 1800)
    blueprint: str = "sample"

    @model_validator(mode="after")
    def _times(self) -> SittingDoc:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError(f"sitting {self.code}: times need a timezone (e.g. +08:00 or Z)")
        if self.end <= self.start:
            raise ValueError(f"sitting {self.code}: end must be after start")
        return self


class PlanDoc(_M):
    year: int = Field(ge=2000, le=2100)
    name: str
    seed: str = "central"
    bank: str = "sample"
    multiple_policy: str = "all_or_nothing"
    cutoffs: tuple[CutoffPart, ...] = ()
    centres: tuple[CentreDoc, ...] = Field(min_length=1)
    sittings: tuple[SittingDoc, ...] = Field(min_length=1)

    def plan_part(self) -> PlanPart:
        return PlanPart.model_validate(
            {
                "year": self.year,
                "name": self.name,
                "cutoffs": [c.model_dump(mode="json") for c in self.cutoffs],
                "multiple_policy": self.multiple_policy,
            }
        )

    def seating_centres(self) -> list[Centre]:
        return [
            Centre(
                code=c.code,
                name=c.name,
                address=c.address,
                rooms=tuple(
                    Room(
                        code=r.code,
                        name=r.name,
                        rows=r.rows,
                        cols=r.cols,
                        spare_seats=r.spare_seats,
                        location=r.location,
                    )
                    for r in c.rooms
                ),
            )
            for c in self.centres
        ]

    def seating_sittings(self) -> list[Sitting]:
        return [
            Sitting(
                s.code,
                subject_name(s.subject_code),
                s.start,
                s.end,
                s.variants,
                frozenset({s.level}),
                frozenset(s.trades),
            )
            for s in self.sittings
        ]

    def room_codes(self) -> dict[str, set[str]]:
        return {c.code: {r.code.zfill(3) for r in c.rooms} for c in self.centres}


def subject_name(code: str) -> str:
    from question_bank.catalogue import Subject

    return next(s.value for s in Subject if s.code == code)


def parse_plan(data: bytes | str) -> PlanDoc:
    try:
        return PlanDoc.model_validate_json(data)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10]]
        raise PlanError("考试计划文件有误 / bad plan file:\n  " + "\n  ".join(lines)) from None


def load_bank(plan: PlanDoc) -> BankIndex:
    if plan.bank == "sample":
        from question_bank.sample import load_sample_bank

        return BankIndex(load_sample_bank())
    from question_bank.store import BankStore

    with BankStore(plan.bank, create=False) as store:
        return BankIndex(list(store.iter_items()))


def blueprint_for(s: SittingDoc) -> Blueprint:
    if s.blueprint == "sample":
        from question_bank.sample import sample_blueprint

        try:
            return sample_blueprint(s.subject_code, s.level, s.trade)
        except KeyError:
            raise PlanError(
                f"场次 {s.code}：没有 {s.subject_code} {s.level} 级 {s.trade or ''} 的示例组卷方案"
            ) from None
    return load_blueprints(Path(s.blueprint))[0]


def sitting_specs(plan: PlanDoc) -> list[SittingSpec]:
    return [
        SittingSpec(s.code, blueprint_for(s), s.start, s.end, *s.windows_s) for s in plan.sittings
    ]
