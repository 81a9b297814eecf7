"""Exam forms (考核方式): which parts a level sits, who scores them, and the pass lines.

The province configures, per level (and, where it differs, per trade), the parts of the
exam: each with its subject code and name, whether the centre delivers it by computer
(``cbt``) or it is scored elsewhere (``external``: a practical exam, a review board),
its full marks and its single-subject line; and optionally a total line with its basis
(sum of the scored parts, or their mean). Nothing here has a default line: a level
without a form, or whose form leaves a part's line unset (``null`` with no total line:
the province has still to set it), is refused where a plan seating it is loaded,
published or imported (:func:`require_form`, :func:`require_lines`).

JSON, as in a plan file (Henan levels five to two, 35 per subject, no total line)::

    {"level": 4, "parts": [
        {"subject": "ZYDD", "name": "职业道德", "delivery": "cbt", "full_marks": 100, "line": 35},
        {"subject": "ZYNL", "name": "职业能力", "delivery": "cbt", "full_marks": 100, "line": 35},
        {"subject": "GWJN", "name": "岗位技能", "delivery": "cbt", "full_marks": 100, "line": 35}],
     "total": null,
     "source": "河南工考报名系统手册：单科最低合格线 35"}

A part graded ``verdict`` (合格 / 不合格, no points: a review board's decision) has neither
full marks nor a line, and is not counted in the total.

:func:`form_for` picks the form of a candidate's level and trade;
:meth:`question_bank.scoring.CutoffRule.of` turns it into the pure rule that the centre
and central both apply with :func:`question_bank.scoring.apply_cutoffs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SubjectCode = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,15}$")]

LEVEL_ZH = {1: "一级", 2: "二级", 3: "三级", 4: "四级", 5: "五级"}


class FormError(ValueError):
    """A plan whose forms do not cover what it seats, or a form that cannot decide."""


class _M(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Part(_M):
    """One part (科目) of a level's exam."""

    #: the subject's code (a bank subject's code for ``cbt`` parts: ZYDD, GWJN, ZYLL, YZ)
    subject: SubjectCode
    #: the name as printed and as the results carry it (职业道德, 应会, 综合评审)
    name: str = Field(min_length=1, max_length=32)
    #: ``cbt``: delivered and scored by the centre; ``external``: scored elsewhere, the
    #: scores entered at central
    delivery: Literal["cbt", "external"]
    #: ``score``: points out of ``full_marks``; ``verdict``: 合格 / 不合格 only
    grading: Literal["score", "verdict"] = "score"
    full_marks: Decimal | None = Field(default=None, gt=0, le=1000)
    #: the single-subject line (单科合格线); ``null`` when a total line decides, or while
    #: the province has still to set it (a plan seating the level is then refused)
    line: Decimal | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> Part:
        if self.grading == "verdict":
            if self.delivery == "cbt":
                raise ValueError(f"{self.name}：机考科目按分数评定，不能是 verdict")
            if self.full_marks is not None or self.line is not None:
                raise ValueError(
                    f"{self.name}：合格/不合格评定的科目没有满分和合格线，请删去 full_marks 和 line"
                )
            return self
        if self.full_marks is None:
            raise ValueError(f"{self.name}：请填写满分 full_marks (full marks required)")
        if self.line is not None and self.line > self.full_marks:
            raise ValueError(
                f"{self.name}：合格线 {self.line} 高于满分 {self.full_marks} (line above full marks)"
            )
        return self

    @property
    def is_cbt(self) -> bool:
        return self.delivery == "cbt"


class TotalLine(_M):
    """The total line (总成绩合格线) over the parts scored in points."""

    line: Decimal = Field(ge=0)
    basis: Literal["sum", "mean"]


class Form(_M):
    """The exam of one level (and optionally one trade): its parts and lines."""

    level: int = Field(ge=1, le=5)
    #: a trade's own form (by the trade's name); ``null``: every trade of the level
    trade: str | None = None
    parts: tuple[Part, ...] = Field(min_length=1)
    total: TotalLine | None = None
    #: where the lines come from (the notice), shown in docs and on request
    source: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _decides(self) -> Form:
        where = f"{LEVEL_ZH[self.level]}{'（' + self.trade + '）' if self.trade else ''}"
        codes = [p.subject for p in self.parts]
        names = [p.name for p in self.parts]
        for seen, what in ((codes, "科目代码"), (names, "科目名称")):
            dup = sorted({x for x in seen if seen.count(x) > 1})
            if dup:
                raise ValueError(f"{where}：{what} {'、'.join(dup)} 重复")
        scored = [p for p in self.parts if p.grading == "score"]
        # A part with no line and no total line is the province's to set (a line no notice
        # prints): the form may stand so, but no plan may seat the level until it is set
        # (:func:`require_lines`, where a plan is loaded, published and imported).
        if self.total is not None:
            if not scored:
                raise ValueError(f"{where}：没有按分数评定的科目，不能设总成绩合格线")
            top = sum((p.full_marks or Decimal(0) for p in scored), Decimal(0))
            if self.total.basis == "mean":
                top = top / len(scored)
            if self.total.line > top:
                raise ValueError(f"{where}：总成绩合格线 {self.total.line} 高于可得的 {top}")
        return self

    @property
    def label(self) -> str:
        return f"{LEVEL_ZH[self.level]}{'（' + self.trade + '）' if self.trade else ''}"

    def part(self, subject: str) -> Part | None:
        """A part by its code or its name."""
        return next((p for p in self.parts if subject in (p.subject, p.name)), None)

    @property
    def unlined(self) -> tuple[Part, ...]:
        """Parts scored in points that nothing decides yet: no line of their own and no
        total line (the province has still to set it)."""
        if self.total is not None:
            return ()
        return tuple(p for p in self.parts if p.grading == "score" and p.line is None)

    @property
    def cbt_parts(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if p.is_cbt)

    @property
    def external_parts(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if not p.is_cbt)


def check_forms(forms: Sequence[Form]) -> None:
    """One form per (level, trade); raises :class:`FormError` naming the duplicate."""
    seen: set[tuple[int, str | None]] = set()
    for f in forms:
        if (f.level, f.trade) in seen:
            raise FormError(f"{f.label} 的考核方式写了两次 (form given twice)")
        seen.add((f.level, f.trade))


def form_for(forms: Iterable[Form], level: int, trade: str | None) -> Form | None:
    """The form of a level and trade: a trade's own form wins over the level's."""
    general = None
    for f in forms:
        if f.level != level:
            continue
        if f.trade is not None and f.trade == trade:
            return f
        if f.trade is None:
            general = f
    return general


def require_form(forms: Iterable[Form], level: int, trade: str | None, where: str) -> Form:
    """Like :func:`form_for`; a missing form raises :class:`FormError` naming the level."""
    form = form_for(forms, level, trade)
    if form is None:
        raise FormError(
            f"{where}：{LEVEL_ZH.get(level, level)}{'（' + trade + '）' if trade else ''}"
            "没有考核方式和合格线（forms）：不能安排这一等级的考生，请在考试计划中写明 "
            f"(no exam form and pass lines for level {level})"
        )
    return form


def require_lines(form: Form, where: str) -> None:
    """A form that seats candidates must decide them: every part scored in points has its
    line, or a total line decides. Else :class:`FormError` naming the level, each part
    (computer-based or scored elsewhere) and what to fill in."""
    parts = form.unlined
    if not parts:
        return
    names = "、".join(
        f"{p.name}（{p.subject}，{'机考' if p.is_cbt else '另行评分'}）" for p in parts
    )
    raise FormError(
        f"{where}：{form.label}的 {names} 没有合格线（line 为空），也没有总成绩合格线"
        f"（total），无法判定是否合格：请在考试计划 forms 中{form.label}的这些科目写明省里规定的"
        f"合格线 line（或写 total），才能安排{form.label}的考生 (level {form.level}: "
        f"{', '.join(p.subject + (' (CBT)' if p.is_cbt else ' (scored elsewhere)') for p in parts)}"
        " has no pass line: fill in its line, or a total line)"
    )


def forms_from_json(rows: Iterable[object]) -> tuple[Form, ...]:
    return tuple(Form.model_validate(r) for r in rows)
