"""Scoring and cutoffs: pure functions the centre and central both call.

Scoring is a registry keyed by item type (单选 single, 多选 multiple, 判断 true/false): the
plan-wide rules (:data:`SCORERS`; how a partly right multiple answer scores is the plan's
:class:`MultiplePolicy`). An item may carry **its own rule** as its author wrote it
(:class:`ItemScoring`, QTI's ``match_correct`` and ``map_response`` templates), which then
wins over the plan's (:data:`ITEM_SCORERS`). Every :class:`ItemScore` names the
:class:`ScoringRule` that scored it, so that the centre's score, central's re-score and the
audit can say which rule scored each item.

Responses and keys are sets of option labels (``{"A"}``, ``{"A", "C"}``, ``{"T"}``).
Points are :class:`~decimal.Decimal` so that 0.5-point items add up exactly.

An item's map (:class:`ResponseMap`) is written in the item's own points (its ``out_of``,
the bank's points for the item, which is also the most the map can give): on a paper that
sets other points, the mapped score is scaled by ``paper points / out_of`` and rounded to
cents, half up.

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
from typing import TYPE_CHECKING, Any

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


class ScoringRule(str, enum.Enum):
    """The rule that scored an item: the plan's rule for its type, or the item's own."""

    EXACT = "exact"  #: plan, single and true/false: the key or nothing
    ALL_OR_NOTHING = "all_or_nothing"  #: plan, multiple (MultiplePolicy.ALL_OR_NOTHING)
    PROPORTIONAL = "proportional"  #: plan, multiple (MultiplePolicy.PROPORTIONAL)
    HALF = "half"  #: plan, multiple (MultiplePolicy.HALF)
    MATCH_CORRECT = "match_correct"  #: the item's own: exactly the correct response, or 0
    MAP_RESPONSE = "map_response"  #: the item's own: per-choice values, default, bounds

    @property
    def from_item(self) -> bool:
        """True when the item's author chose this rule, False when the plan did."""
        return self in (ScoringRule.MATCH_CORRECT, ScoringRule.MAP_RESPONSE)

    @property
    def zh(self) -> str:
        return {
            "exact": "全对得分（考试计划）",
            "all_or_nothing": "全对得分（考试计划）",
            "proportional": "按选对比例得分（考试计划）",
            "half": "少选得一半（考试计划）",
            "match_correct": "全对得分（试题规定）",
            "map_response": "按选项分值映射（试题规定）",
        }[self.value]


CENT = Decimal("0.01")
#: Decimal places a mapped value may have (0.3333 for a third; scores round to cents).
MAP_PLACES = 4


@dataclass(frozen=True)
class ResponseMap:
    """QTI's ``mapping``: what each chosen option is worth, in the item's own points.

    The score of a response is the sum of the values of the options chosen (an option
    without an entry is worth ``default``), then held within ``lower`` and ``upper`` where
    the author gave them. An empty response scores 0 (as QTI's ``map_response`` template
    says for a NULL response).
    """

    values: tuple[tuple[str, Decimal], ...]  #: (label, value), in label order
    default: Decimal = Decimal(0)
    lower: Decimal | None = None
    upper: Decimal | None = None

    def __post_init__(self) -> None:
        labels = [k for k, _ in self.values]
        if labels != sorted(set(labels)):
            raise ValueError("map entries must be unique and in label order")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"lower bound {self.lower} is above upper bound {self.upper}")

    def value(self, label: str) -> Decimal:
        return dict(self.values).get(label, self.default)

    def raw(self, chosen: Iterable[str]) -> Decimal:
        """The mapped score of a response, within the bounds (the item's own points)."""
        picked = frozenset(chosen)
        if not picked:
            return Decimal(0)
        return self._bounded(sum((self.value(c) for c in picked), Decimal(0)))

    def _bounded(self, x: Decimal) -> Decimal:
        if self.lower is not None:
            x = max(x, self.lower)
        if self.upper is not None:
            x = min(x, self.upper)
        return x

    def extremes(self, choices: Iterable[str], multiple: bool) -> tuple[Decimal, Decimal]:
        """The least and the most any non-empty response over ``choices`` can score."""
        vals = [self.value(c) for c in choices]
        if not vals:
            return Decimal(0), Decimal(0)
        if multiple:
            low = (
                sum((v for v in vals if v < 0), Decimal(0))
                if any(v < 0 for v in vals)
                else min(vals)
            )
            high = (
                sum((v for v in vals if v > 0), Decimal(0))
                if any(v > 0 for v in vals)
                else max(vals)
            )
        else:
            low, high = min(vals), max(vals)
        return self._bounded(low), self._bounded(high)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "map": {k: decimal_text(v) for k, v in self.values},
            "default": decimal_text(self.default),
        }
        if self.lower is not None:
            d["lower"] = decimal_text(self.lower)
        if self.upper is not None:
            d["upper"] = decimal_text(self.upper)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ResponseMap:
        return cls(
            values=tuple(sorted((str(k), Decimal(str(v))) for k, v in dict(d["map"]).items())),
            default=Decimal(str(d.get("default", "0"))),
            lower=None if d.get("lower") is None else Decimal(str(d["lower"])),
            upper=None if d.get("upper") is None else Decimal(str(d["upper"])),
        )


def decimal_text(d: Decimal) -> str:
    """``Decimal("1.50")`` -> ``"1.5"``, ``Decimal("-1")`` -> ``"-1"`` (never exponents)."""
    if d == d.to_integral_value():
        return str(int(d))
    return f"{d.normalize():f}"


@dataclass(frozen=True)
class ItemScoring:
    """An item's own scoring rule, as its author wrote it (QTI response processing)."""

    rule: ScoringRule  #: MATCH_CORRECT or MAP_RESPONSE
    mapping: ResponseMap | None = None  #: for MAP_RESPONSE

    def __post_init__(self) -> None:
        if not self.rule.from_item:
            raise ValueError(f"{self.rule.value} is a plan rule, not an item's own")
        if (self.rule is ScoringRule.MAP_RESPONSE) != (self.mapping is not None):
            raise ValueError("map_response needs a mapping, and only it has one")

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"rule": self.rule.value}
        if self.mapping is not None:
            d.update(self.mapping.to_json())
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ItemScoring:
        rule = ScoringRule(d["rule"])
        return cls(rule, ResponseMap.from_json(d) if rule is ScoringRule.MAP_RESPONSE else None)


@dataclass(frozen=True)
class KeyedItem:
    """One item of a paper as scoring needs it: id, type, key and points; and, when the
    item has its own rule, the rule, its option labels and the points its map is in."""

    item_id: str
    type: ItemType
    key: frozenset[str]
    points: Decimal
    scoring: ItemScoring | None = None  #: None: the plan's rule for the type
    #: the item's option labels (a response with any other label scores nothing under a map)
    choices: tuple[str, ...] = ()
    out_of: Decimal | None = None  #: the item's own points, in which its map is written

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError(f"item {self.item_id}: empty key")
        if self.type is not ItemType.MULTIPLE and len(self.key) != 1:
            raise ValueError(f"item {self.item_id}: a {self.type.value} item has exactly one key")
        if self.points <= 0:
            raise ValueError(f"item {self.item_id}: points must be positive")
        mapped = self.scoring is not None and self.scoring.mapping is not None
        if mapped and (not self.choices or self.out_of is None or self.out_of <= 0):
            raise ValueError(f"item {self.item_id}: a mapped item needs choices and out_of")

    @property
    def rule(self) -> ScoringRule | None:
        """The item's own rule, or None when the plan's rule applies."""
        return self.scoring.rule if self.scoring is not None else None

    def to_json(self) -> dict[str, Any]:
        """The answer key's entry for this item (``docs/paper-package-format.md`` 6)."""
        d: dict[str, Any] = {
            "item_id": self.item_id,
            "type": self.type.value,
            "key": sorted(self.key),
            "points": str(self.points),
        }
        if self.scoring is not None:
            d["scoring"] = self.scoring.to_json()
            d["choices"] = list(self.choices)
            if self.out_of is not None:
                d["out_of"] = str(self.out_of)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> KeyedItem:
        scoring = ItemScoring.from_json(d["scoring"]) if d.get("scoring") else None
        return cls(
            str(d["item_id"]),
            ItemType(d["type"]),
            frozenset(d["key"]),
            Decimal(str(d["points"])),
            scoring,
            tuple(str(c) for c in d.get("choices", ())),
            Decimal(str(d["out_of"])) if d.get("out_of") is not None else None,
        )


@dataclass(frozen=True)
class ItemScore:
    item_id: str
    awarded: Decimal
    possible: Decimal
    correct: bool
    rule: ScoringRule = ScoringRule.EXACT  #: the rule that scored the item


@dataclass(frozen=True)
class PaperScore:
    items: tuple[ItemScore, ...]
    total: Decimal
    possible: Decimal

    @property
    def answered(self) -> int:
        return sum(1 for i in self.items if i.awarded > 0 or i.correct)

    @property
    def rules(self) -> dict[str, ScoringRule]:
        """Item id -> the rule that scored it."""
        return {i.item_id: i.rule for i in self.items}


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


def _mapped(item: KeyedItem, response: frozenset[str], policy: MultiplePolicy) -> Decimal:
    mapping = item.scoring.mapping if item.scoring is not None else None
    assert mapping is not None and item.out_of is not None  # KeyedItem checks it
    if not response or not response <= frozenset(item.choices):
        return Decimal(0)  # nothing chosen, or a label the item does not have
    if item.type is not ItemType.MULTIPLE and len(response) != 1:
        return Decimal(0)  # one choice only (QTI cardinality single)
    scaled = (mapping.raw(response) * item.points / item.out_of).quantize(CENT, ROUND_HALF_UP)
    # the bank refuses maps that can go below 0 or above the points; hold them anyway
    return min(max(scaled, Decimal(0)), item.points)


#: The plan-wide rules, by item type.
SCORERS: dict[ItemType, Scorer] = {
    ItemType.SINGLE: _exact,
    ItemType.TRUE_FALSE: _exact,
    ItemType.MULTIPLE: _multiple,
}

#: An item's own rules, by rule (they win over the plan's).
ITEM_SCORERS: dict[ScoringRule, Scorer] = {
    ScoringRule.MATCH_CORRECT: _exact,
    ScoringRule.MAP_RESPONSE: _mapped,
}

_POLICY_RULES = {
    MultiplePolicy.ALL_OR_NOTHING: ScoringRule.ALL_OR_NOTHING,
    MultiplePolicy.PROPORTIONAL: ScoringRule.PROPORTIONAL,
    MultiplePolicy.HALF: ScoringRule.HALF,
}


def rule_for(
    item: KeyedItem, policy: MultiplePolicy = MultiplePolicy.ALL_OR_NOTHING
) -> ScoringRule:
    """The rule that scores ``item`` under a plan's ``policy``: the item's own if it has
    one, else the plan's for its type."""
    if item.scoring is not None:
        return item.scoring.rule
    if item.type is ItemType.MULTIPLE:
        return _POLICY_RULES[policy]
    return ScoringRule.EXACT


def rules_of(
    key: Iterable[KeyedItem], policy: MultiplePolicy = MultiplePolicy.ALL_OR_NOTHING
) -> dict[str, str]:
    """Item id -> the name of the rule that scores it (for score reports and the audit)."""
    return {item.item_id: rule_for(item, policy).value for item in key}


def score_item(
    item: KeyedItem,
    response: Iterable[str] | None,
    policy: MultiplePolicy = MultiplePolicy.ALL_OR_NOTHING,
) -> ItemScore:
    chosen = frozenset(response or ())
    if item.scoring is not None:
        awarded = ITEM_SCORERS[item.scoring.rule](item, chosen, policy)
    else:
        awarded = SCORERS[item.type](item, chosen, policy)
    return ItemScore(item.item_id, awarded, item.points, chosen == item.key, rule_for(item, policy))


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


def centre_rule(forms: Iterable[Form], level: int, trade: str | None) -> CutoffRule | None:
    """The cutoff rule a centre applies to a candidate of ``level`` and ``trade``: the one
    choice the centre makes and central's re-check makes again. ``None`` where the centre
    decides nothing: no form for them, or a form with parts scored elsewhere (central
    decides those, ``central/outcomes.py``)."""
    from exam_common.forms import form_for

    form = form_for(forms, level, trade)
    if form is None or form.external_parts:
        return None
    return CutoffRule.of(form)


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
