"""The exam plan central works from: centres and rooms, sittings with their blueprints,
the exam form of each level (parts, who delivers them, full marks and pass lines), the
province's ticket rule, what the printed documents say, and where the item bank is.
Loaded from a JSON file by ``exam-central plan load`` and kept in central's database
(``PlanConfig``). ``docs/province.md`` explains every field; a short example::

    {"year": 2026, "name": "2026年工勤技能岗位等级考核", "seed": "2026-spring",
     "bank": "sample",
     "multiple_policy": "all_or_nothing",
     "ticket_rule": {"name": "河南工考报名系统准考证号", "length": 12, "charset": "digits"},
     "forms": [{"level": 4, "parts": [
         {"subject": "ZYDD", "name": "职业道德", "delivery": "cbt", "full_marks": 100, "line": 35},
         {"subject": "ZYNL", "name": "职业能力", "delivery": "cbt", "full_marks": 100, "line": 35},
         {"subject": "GWJN", "name": "岗位技能", "delivery": "cbt", "full_marks": 100, "line": 35}]}],
     "documents": {"results_website": "http://ha.nva.net.cn"},
     "centres": [{"code": "0101", "name": "…", "rooms": [
                  {"code": "001", "name": "第01考场", "rows": 5, "cols": 6, "spare_seats": 2}]}],
     "sittings": [{"code": "S1-ZYDD-L4", "subject_code": "ZYDD", "level": 4, "trade": null,
                   "trades": [], "start": "2026-06-01T01:00:00Z", "end": "2026-06-01T02:00:00Z",
                   "variants": ["A", "B"], "windows_s": [1800, 1800, 1800],
                   "blueprint": "sample"}]}

A sitting delivers one ``cbt`` part of its level's form; a level that sittings seat and
no form covers, or whose form leaves a part's line unset (``"line": null`` and no total
line), is refused, naming the level and the part. ``ticket_rule`` omitted: central numbers
the candidates itself (``exam_common.tickets.GENERATED``). ``bank`` is ``"sample"`` (the
sample bank) or the path of a ``qbank`` store; a sitting's ``blueprint`` is ``"sample"``
(the sample blueprint for its subject, level and trade) or the path of a blueprint file
(its first blueprint).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from central.packaging import SittingSpec
from exam_common.forms import (
    LEVEL_ZH,
    Form,
    FormError,
    Part,
    check_forms,
    form_for,
    require_lines,
)
from exam_common.tickets import GENERATED, TicketRule
from question_bank.assembly import BankIndex
from question_bank.blueprint import Blueprint, load_blueprints
from question_bank.catalogue import Catalogue
from question_bank.package_parts import DocumentsPart, PlanPart
from seating.model import Centre, PrintedTexts, Room, Sitting


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
    #: the code of a ``cbt`` part of its level's form (ZYDD, GWJN, ZYLL, YZ, ...)
    subject_code: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,15}$")]
    level: int = Field(ge=1, le=5)
    #: the blueprint's trade (subjects that belong to a trade), by name or code: 电工
    trade: str | None = None
    #: candidates' trade names this sitting applies to (empty: every trade)
    trades: tuple[str, ...] = ()
    start: datetime
    end: datetime
    variants: tuple[str, ...] = ("A", "B")
    #: entry opens before start, late entry, earliest submission (seconds): the
    #: province's (the notices: 1800 each); required, never assumed
    windows_s: tuple[int, int, int]
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
    #: the exam of each level: parts, delivery, full marks, lines (exam_common.forms)
    forms: tuple[Form, ...] = Field(min_length=1)
    #: the province's ticket numbers; omitted: central numbers candidates itself
    ticket_rule: TicketRule | None = None
    documents: DocumentsPart = DocumentsPart()
    centres: tuple[CentreDoc, ...] = Field(min_length=1)
    sittings: tuple[SittingDoc, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _no_cutoffs(cls, data: Any) -> Any:
        if isinstance(data, dict) and "cutoffs" in data:
            raise ValueError(
                "cutoffs 已由 forms 取代：请按 docs/province.md 为每个等级写明科目、"
                "机考或另行评分、满分和合格线 (cutoffs became forms)"
            )
        return data

    @model_validator(mode="after")
    def _forms_cover_the_sittings(self) -> PlanDoc:
        check_forms(self.forms)
        for f in self.forms:
            for part in f.cbt_parts:
                cbt_subject(part, f)
        seated: dict[int, set[str]] = {}
        for s in self.sittings:
            sitting_part(self, s)  # raises, naming the level, when no form covers it
            seated.setdefault(s.level, set()).add(s.subject_code)
        for f in self.forms:
            if f.level not in seated:
                continue
            codes = "、".join(s.code for s in self.sittings if s.level == f.level)
            require_lines(f, f"场次 {codes}")
            missing = [p.name for p in f.cbt_parts if p.subject not in seated[f.level]]
            if missing:
                raise ValueError(
                    f"{f.label}的机考科目 {'、'.join(missing)} 没有场次：这一等级的考生"
                    "永远考不完 (a computer-based part has no sitting)"
                )
        return self

    @property
    def tickets(self) -> TicketRule:
        """The rule the plan's ticket numbers follow (the province's, or ours)."""
        return self.ticket_rule or GENERATED

    def plan_part(self) -> PlanPart:
        return PlanPart(
            year=self.year,
            name=self.name,
            forms=self.forms,
            ticket_rule=self.tickets,
            documents=self.documents,
            multiple_policy=self.multiple_policy,  # type: ignore[arg-type]
        )

    def form(self, level: int, trade: str | None) -> Form | None:
        return form_for(self.forms, level, trade)

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
                sitting_part(self, s).name,
                s.start,
                s.end,
                s.variants,
                frozenset({s.level}),
                frozenset(s.trades),
                s.windows_s,
            )
            for s in self.sittings
        ]

    def printed_texts(self) -> PrintedTexts:
        d = self.documents
        return PrintedTexts(d.results_website, d.instructions, d.issuer)

    def room_codes(self) -> dict[str, set[str]]:
        return {c.code: {r.code.zfill(3) for r in c.rooms} for c in self.centres}


def cbt_subject(part: Part, form: Form) -> None:
    """A ``cbt`` part must be a subject the bank holds, under the bank's name for it."""
    from question_bank.catalogue import Subject

    try:
        subject = Subject(part.subject)
    except ValueError as exc:
        raise ValueError(f"{form.label}的机考科目 {part.subject}：{exc}") from None
    if subject.code != part.subject or subject.value != part.name:
        raise ValueError(
            f"{form.label}的机考科目 {part.subject} 在题库中叫“{subject.value}”（{subject.code}），"
            f"计划写的是“{part.name}”：请写成一致 (the bank's subject is {subject.code} "
            f"{subject.value})"
        )


def sitting_part(plan: PlanDoc, s: SittingDoc) -> Part:
    """The form part a sitting delivers; ``ValueError`` naming the level when the plan
    has no form for it, or the sitting's subject is not a computer-based part of it."""
    forms = [f for f in plan.forms if f.level == s.level]
    if not forms:
        raise FormError(
            f"场次 {s.code}：{LEVEL_ZH[s.level]}没有考核方式和合格线（forms）：计划不能安排"
            f"这一等级的考生，请写明它的科目和合格线 (no exam form for level {s.level})"
        )
    for f in forms:
        part = f.part(s.subject_code)
        if part is not None and part.is_cbt:
            return part
    raise FormError(
        f"场次 {s.code}：科目 {s.subject_code} 不是{LEVEL_ZH[s.level]}考核方式中的机考科目 "
        f"(not a computer-based part of level {s.level}'s form)"
    )


def check_trades(plan: PlanDoc, catalogue: Catalogue) -> None:
    """Every trade the plan names (sittings, blueprints, trade forms) is in the catalogue;
    else :class:`PlanError` listing each, with the closest names."""
    named: list[tuple[str, str]] = []
    for s in plan.sittings:
        named += [(f"场次 {s.code} 的 trades", t) for t in s.trades]
        if s.trade:
            named.append((f"场次 {s.code} 的 trade", s.trade))
    named += [(f"{f.label}的考核方式", f.trade) for f in plan.forms if f.trade]
    problems = []
    for where, trade in named:
        if catalogue.find(trade) is None:
            near = "、".join(catalogue.suggest(trade))
            problems.append(
                f"{where}：工种“{trade}”不在工种目录（{catalogue.name}）中"
                + (f"；是不是：{near}？" if near else "")
            )
    if problems:
        raise PlanError("考试计划中的工种有误 / unknown trades:\n  " + "\n  ".join(problems))


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
                f"场次 {s.code}：没有 {s.subject_code} {LEVEL_ZH[s.level]} {s.trade or ''} "
                "的示例组卷方案 (no sample blueprint)"
            ) from None
    return load_blueprints(Path(s.blueprint))[0]


def sitting_specs(plan: PlanDoc) -> list[SittingSpec]:
    """Each sitting with its blueprint, which must be for the sitting's subject and level."""
    specs = []
    for s in plan.sittings:
        bp = blueprint_for(s)
        if bp.subject.code != s.subject_code or bp.level != s.level:
            raise PlanError(
                f"场次 {s.code}（{s.subject_code} {LEVEL_ZH[s.level]}）的组卷方案 {bp.blueprint_id} "
                f"是 {bp.subject.code} {LEVEL_ZH[bp.level]} 的 (blueprint for another subject or level)"
            )
        specs.append(SittingSpec(s.code, bp, s.start, s.end, *s.windows_s))
    return specs
