"""Scoring and cutoffs: pure functions the centre and central both call.

Scoring is a registry keyed by item type (单选 single, 多选 multiple, 判断 true/false).
Responses and keys are sets of option labels (``{"A"}``, ``{"A", "C"}``, ``{"T"}``).
Points are :class:`~decimal.Decimal` so that 0.5-point items add up exactly.

Cutoffs (合格线): a candidate passes when every required subject is scored (not absent,
not voided) and at least the single-subject line, and the total (sum, or mean where a
province prints the total line as an average) is at least the total line.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


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
class CutoffRule:
    """A plan's pass lines, for a level (and optionally a trade)."""

    subjects: tuple[str, ...]
    subject_min: Decimal
    total_min: Decimal
    total_basis: TotalBasis = TotalBasis.SUM

    def __post_init__(self) -> None:
        if not self.subjects:
            raise ValueError("a cutoff rule needs at least one subject")
        if len(set(self.subjects)) != len(self.subjects):
            raise ValueError("a subject is listed twice in the cutoff rule")


@dataclass(frozen=True)
class SubjectResult:
    subject: str
    status: SubjectStatus
    score: Decimal | None = None


@dataclass(frozen=True)
class CutoffResult:
    complete: bool  #: every subject has a final status (no MISSING)
    passed: bool
    total: Decimal
    subject_passed: dict[str, bool]
    reasons: tuple[str, ...]  #: why not passed, one line per failing rule (English codes)


def apply_cutoffs(rule: CutoffRule, results: Iterable[SubjectResult]) -> CutoffResult:
    """Decide pass/fail for one candidate from their subject results."""
    by_subject = {r.subject: r for r in results}
    unknown = set(by_subject) - set(rule.subjects)
    if unknown:
        raise ValueError(f"results for subjects outside the rule: {', '.join(sorted(unknown))}")
    reasons: list[str] = []
    subject_passed: dict[str, bool] = {}
    total = Decimal(0)
    complete = True
    for subject in rule.subjects:
        r = by_subject.get(subject, SubjectResult(subject, SubjectStatus.MISSING))
        if r.status is SubjectStatus.SCORED:
            if r.score is None:
                raise ValueError(f"{subject}: a scored subject needs a score")
            total += r.score
            ok = r.score >= rule.subject_min
            if not ok:
                reasons.append(f"{subject}: {r.score} < subject line {rule.subject_min}")
        else:
            ok = False
            complete = complete and r.status is not SubjectStatus.MISSING
            reasons.append(f"{subject}: {r.status.value}")
        subject_passed[subject] = ok
    basis_total = total
    if rule.total_basis is TotalBasis.MEAN:
        basis_total = (total / len(rule.subjects)).quantize(CENT, ROUND_HALF_UP)
    if basis_total < rule.total_min:
        reasons.append(
            f"total ({rule.total_basis.value}) {basis_total} < total line {rule.total_min}"
        )
    passed = complete and not reasons
    return CutoffResult(complete, passed, total, subject_passed, tuple(reasons))
