"""Scoring and cutoffs: pure functions the centre and central both call.

Scoring is a registry keyed by item type (单选 single, 多选 multiple, 判断 true/false).
Responses and keys are sets of option labels (``{"A"}``, ``{"A", "C"}``, ``{"T"}``).
Points are :class:`~decimal.Decimal` so that 0.5-point items add up exactly.

Cutoffs (合格线): a candidate passes when every part of their level's exam is in (not
absent, not voided), each part scored in points reaches its single-subject line, each part
graded 合格/不合格 was passed, and, where the plan sets one, the total (sum, or mean where a
province prints the total line as an average) reaches the total line. The lines come
from the plan's forms (``exam_common.forms``); nothing here has a default.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exam_common.forms import Form


class ItemType(str, enum.Enum):
    SINGLE = "single"  #: 单选
    MULTIPLE = "multiple"  #: 多选
    TRUE_FALSE = "true_false"  #: 判断


class MultiplePolicy(str, enum.Enum):
    """How a multiple-choice item scores a partly right answer (a plan option)."""

    ALL_OR_NOTHING = "all_or_nothing"  #: default: exactly the key, or nothing
    PROPORTIONAL = "proportional"  #: no wrong pick: points x right picks / key size
    HALF = "half"  #: no wrong pick, some missing: half the points (少选得一半)


CENT = Decimal("0.01")


@dataclass(frozen=True)
class KeyedItem:
    """One item of a paper as scoring needs it: id, type, key and points."""

    item_id: str
    type: ItemType
    key: frozenset[str]
    points: Decimal

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError(f"item {self.item_id}: empty key")
        if self.type is not ItemType.MULTIPLE and len(self.key) != 1:
            raise ValueError(f"item {self.item_id}: a {self.type.value} item has exactly one key")
        if self.points <= 0:
            raise ValueError(f"item {self.item_id}: points must be positive")


@dataclass(frozen=True)
class ItemScore:
    item_id: str
    awarded: Decimal
    possible: Decimal
    correct: bool


@dataclass(frozen=True)
class PaperScore:
    items: tuple[ItemScore, ...]
    total: Decimal
    possible: Decimal

    @property
    def answered(self) -> int:
        return sum(1 for i in self.items if i.awarded > 0 or i.correct)


Scorer = Callable[[KeyedItem, frozenset[str], MultiplePolicy], Decimal]


def _exact(item: KeyedItem, response: frozenset[str], policy: MultiplePolicy) -> Decimal:
    return item.points if response == item.key else Decimal(0)


def _multiple(item: KeyedItem, response: frozenset[str], policy: MultiplePolicy) -> Decimal:
    if response == item.key:
        return item.points
    if not response or not response <= item.key or policy is MultiplePolicy.ALL_OR_NOTHING:
        return Decimal(0)
    if policy is MultiplePolicy.HALF:
        return (item.points / 2).quantize(CENT, ROUND_HALF_UP)
    return (item.points * len(response) / len(item.key)).quantize(CENT, ROUND_HALF_UP)


SCORERS: dict[ItemType, Scorer] = {
    ItemType.SINGLE: _exact,
    ItemType.TRUE_FALSE: _exact,
    ItemType.MULTIPLE: _multiple,
}


def score_item(
    item: KeyedItem,
    response: Iterable[str] | None,
    policy: MultiplePolicy = MultiplePolicy.ALL_OR_NOTHING,
) -> ItemScore:
    chosen = frozenset(response or ())
    awarded = SCORERS[item.type](item, chosen, policy)
    return ItemScore(item.item_id, awarded, item.points, chosen == item.key)


def score_paper(
    key: Iterable[KeyedItem],
    responses: Mapping[str, Iterable[str]],
    policy: MultiplePolicy = MultiplePolicy.ALL_OR_NOTHING,
) -> PaperScore:
    """Score every item of a paper; items the candidate did not answer score nothing.

    Responses for item ids that are not on the paper are ignored (they cannot score).
    """
    scores = tuple(score_item(item, responses.get(item.item_id), policy) for item in key)
    return PaperScore(
        items=scores,
        total=sum((s.awarded for s in scores), Decimal(0)),
        possible=sum((s.possible for s in scores), Decimal(0)),
    )


# --- cutoffs ---------------------------------------------------------------------------


class SubjectStatus(str, enum.Enum):
    SCORED = "scored"
    ABSENT = "absent"  #: 缺考
    VOIDED = "voided"  #: 违纪, score void
    MISSING = "missing"  #: not in yet


class TotalBasis(str, enum.Enum):
    SUM = "sum"
    MEAN = "mean"


@dataclass(frozen=True)
class PartRule:
    """One part of a cutoff rule: the subject (as results name it) and its line."""

    subject: str
    #: the single-subject line; ``None``: none (a total line decides)
    line: Decimal | None
    full_marks: Decimal | None = None
    #: graded 合格 / 不合格 (a review board's verdict), no points, not in the total
    verdict: bool = False


@dataclass(frozen=True)
class CutoffRule:
    """A plan's pass lines for a level (and optionally a trade): one line per part and an
    optional total line (sum, or mean, of the parts scored in points). Never a default:
    a rule is made from the plan's form (:meth:`of`) or written out in full."""

    parts: tuple[PartRule, ...]
    total_min: Decimal | None = None
    total_basis: TotalBasis = TotalBasis.SUM

    def __post_init__(self) -> None:
        if not self.parts:
            raise ValueError("a cutoff rule needs at least one subject")
        if len(set(self.subjects)) != len(self.subjects):
            raise ValueError("a subject is listed twice in the cutoff rule")
        scored = [p for p in self.parts if not p.verdict]
        if self.total_min is None and any(p.line is None for p in scored):
            raise ValueError("a part without a line needs a total line to decide it")
        if self.total_min is not None and not scored:
            raise ValueError("a total line needs parts scored in points")

    @property
    def subjects(self) -> tuple[str, ...]:
        return tuple(p.subject for p in self.parts)

    def part(self, subject: str) -> PartRule | None:
        return next((p for p in self.parts if p.subject == subject), None)

    @classmethod
    def uniform(
        cls,
        subjects: Sequence[str],
        subject_min: Decimal,
        total_min: Decimal | None = None,
        total_basis: TotalBasis = TotalBasis.SUM,
        full_marks: Decimal | None = Decimal(100),
    ) -> CutoffRule:
        """The same line for every subject (e.g. 35 each), with an optional total line."""
        return cls(
            tuple(PartRule(s, subject_min, full_marks) for s in subjects), total_min, total_basis
        )

    @classmethod
    def of(cls, form: Form) -> CutoffRule:
        """The rule of a plan's form (``exam_common.forms``)."""
        return cls(
            parts=tuple(
                PartRule(p.name, p.line, p.full_marks, p.grading == "verdict") for p in form.parts
            ),
            total_min=form.total.line if form.total else None,
            total_basis=TotalBasis(form.total.basis) if form.total else TotalBasis.SUM,
        )


@dataclass(frozen=True)
class SubjectResult:
    subject: str
    status: SubjectStatus
    score: Decimal | None = None
    #: for a part graded 合格 / 不合格: the verdict (``score`` stays ``None``)
    verdict: bool | None = None


@dataclass(frozen=True)
class CutoffResult:
    complete: bool  #: every subject has a final status (no MISSING)
    passed: bool
    total: Decimal
    subject_passed: dict[str, bool]
    reasons: tuple[str, ...]  #: why not passed, one line per failing rule (English codes)


def apply_cutoffs(rule: CutoffRule, results: Iterable[SubjectResult]) -> CutoffResult:
    """Decide pass/fail for one candidate from their subject results.

    ``total`` is the sum of the parts scored in points (verdict parts add nothing); the
    total line compares it, or its mean over those parts, as the rule says."""
    by_subject = {r.subject: r for r in results}
    unknown = set(by_subject) - set(rule.subjects)
    if unknown:
        raise ValueError(f"results for subjects outside the rule: {', '.join(sorted(unknown))}")
    reasons: list[str] = []
    subject_passed: dict[str, bool] = {}
    total = Decimal(0)
    complete = True
    for part in rule.parts:
        subject = part.subject
        r = by_subject.get(subject, SubjectResult(subject, SubjectStatus.MISSING))
        if r.status is SubjectStatus.SCORED and part.verdict:
            if r.verdict is None:
                raise ValueError(f"{subject}: a part graded pass/fail needs a verdict")
            ok = r.verdict
            if not ok:
                reasons.append(f"{subject}: verdict fail")
        elif r.status is SubjectStatus.SCORED:
            if r.score is None:
                raise ValueError(f"{subject}: a scored subject needs a score")
            total += r.score
            ok = part.line is None or r.score >= part.line
            if not ok:
                reasons.append(f"{subject}: {r.score} < subject line {part.line}")
        else:
            ok = False
            complete = complete and r.status is not SubjectStatus.MISSING
            reasons.append(f"{subject}: {r.status.value}")
        subject_passed[subject] = ok
    if rule.total_min is not None:
        basis_total = total_on_basis(rule, total)
        if basis_total < rule.total_min:
            reasons.append(
                f"total ({rule.total_basis.value}) {basis_total} < total line {rule.total_min}"
            )
    passed = complete and not reasons
    return CutoffResult(complete, passed, total, subject_passed, tuple(reasons))


def total_on_basis(rule: CutoffRule, total: Decimal) -> Decimal:
    """The total as the total line reads it: the sum, or the mean of the scored parts."""
    if rule.total_basis is TotalBasis.MEAN:
        scored = sum(1 for p in rule.parts if not p.verdict)
        return (total / scored).quantize(CENT, ROUND_HALF_UP)
    return total


def rule_json(rule: CutoffRule) -> dict[str, object]:
    """The rule as stored beside a decision (and sent to central in a result package)."""
    return {
        "parts": [
            {
                "subject": p.subject,
                "line": None if p.line is None else str(p.line),
                "full_marks": None if p.full_marks is None else str(p.full_marks),
                "verdict": p.verdict,
            }
            for p in rule.parts
        ],
        "total_min": None if rule.total_min is None else str(rule.total_min),
        "total_basis": rule.total_basis.value,
    }
