"""question_bank.scoring: item scoring by type and the cutoffs as the notices print them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exam_common.forms import Form
from question_bank.scoring import (
    CutoffRule,
    ItemScore,
    ItemScoring,
    ItemType,
    KeyedItem,
    MultiplePolicy,
    PartRule,
    ResponseMap,
    ScoringRule,
    SubjectResult,
    SubjectStatus,
    TotalBasis,
    apply_cutoffs,
    centre_rule,
    decimal_text,
    rule_for,
    rule_json,
    rules_of,
    score_item,
    score_paper,
)

D = Decimal
SUBJECTS = ("职业道德", "职业能力", "岗位技能")
#: Henan levels 5-2: 35 per subject (the manual's result page), no total line
HENAN = CutoffRule.uniform(SUBJECTS, D(35))
#: a province that also sets a total line (the lines are the plan's, never a default)
WITH_TOTAL = CutoffRule.uniform(SUBJECTS, D(35), D(180))
#: Hebei technicians: 应知 (CBT) and 应会 (practical), 双60
HEBEI = CutoffRule((PartRule("应知", D(60), D(100)), PartRule("应会", D(60), D(100))))
#: Henan level one: 专业理论 (CBT) and 综合评审 (a review board's verdict)
HENAN_ONE = CutoffRule(
    (PartRule("专业理论", D(60), D(100)), PartRule("综合评审", None, verdict=True))
)


def scored(*scores: int) -> list[SubjectResult]:
    return [
        SubjectResult(s, SubjectStatus.SCORED, D(x)) for s, x in zip(SUBJECTS, scores, strict=True)
    ]


def test_single_and_true_false_are_exact() -> None:
    single = KeyedItem("a", ItemType.SINGLE, frozenset("B"), D(2))
    tf = KeyedItem("b", ItemType.TRUE_FALSE, frozenset("F"), D("0.5"))
    assert score_item(single, ["B"]).awarded == D(2)
    assert score_item(single, ["A"]).awarded == 0
    assert score_item(single, []).awarded == 0
    assert score_item(tf, ["F"]).awarded == D("0.5")


def test_multiple_all_or_nothing_by_default_and_partial_as_a_plan_option() -> None:
    item = KeyedItem("m", ItemType.MULTIPLE, frozenset("ACD"), D(3))
    assert score_item(item, "ACD").awarded == D(3)
    assert score_item(item, "AC").awarded == 0
    assert score_item(item, "AC", MultiplePolicy.PROPORTIONAL).awarded == D("2.00")
    assert score_item(item, "AC", MultiplePolicy.HALF).awarded == D("1.50")
    # A wrong pick scores nothing under every policy.
    for policy in MultiplePolicy:
        assert score_item(item, "AB", policy).awarded == 0


def test_bad_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="exactly one key"):
        KeyedItem("x", ItemType.SINGLE, frozenset("AB"), D(1))
    with pytest.raises(ValueError, match="empty key"):
        KeyedItem("x", ItemType.MULTIPLE, frozenset(), D(1))
    with pytest.raises(ValueError, match="positive"):
        KeyedItem("x", ItemType.SINGLE, frozenset("A"), D(0))


def test_paper_total_ignores_items_not_on_the_paper() -> None:
    key = [KeyedItem(f"q{i}", ItemType.SINGLE, frozenset("A"), D(10)) for i in range(10)]
    result = score_paper(key, {"q0": "A", "q1": "B", "zz": "A"})
    assert result.total == D(10) and result.possible == D(100)


def test_henan_35_point_subject_line_and_no_total_line() -> None:
    """35/35/35 passes: no notice states a total line (the old 180 failed it)."""
    out = apply_cutoffs(HENAN, scored(35, 35, 35))
    assert out.complete and out.passed and out.total == D(105)
    out = apply_cutoffs(HENAN, scored(34, 100, 100))
    assert not out.passed and any("subject line" in r for r in out.reasons)


@pytest.mark.parametrize(
    ("scores", "passed", "why"),
    [
        ((60, 60, 60), True, None),
        ((35, 70, 75), True, None),  # exactly on the 35 line, total 180
        ((34, 80, 90), False, "subject line"),  # total 204 but one subject under 35
        ((40, 60, 70), False, "total"),  # every subject over 35, total 170 < 180
    ],
)
def test_a_total_line_where_the_plan_sets_one(scores, passed, why) -> None:  # type: ignore[no-untyped-def]
    out = apply_cutoffs(WITH_TOTAL, scored(*scores))
    assert out.complete and out.passed is passed and out.total == D(sum(scores))
    if why:
        assert any(why in r for r in out.reasons)


@pytest.mark.parametrize(
    ("know", "do", "passed"), [(60, 60, True), (59, 90, False), (100, 59, False), (100, 60, True)]
)
def test_hebei_60_and_60(know: int, do: int, passed: bool) -> None:
    results = [
        SubjectResult("应知", SubjectStatus.SCORED, D(know)),
        SubjectResult("应会", SubjectStatus.SCORED, D(do)),
    ]
    assert apply_cutoffs(HEBEI, results).passed is passed


def test_a_verdict_part_decides_without_points() -> None:
    theory = SubjectResult("专业理论", SubjectStatus.SCORED, D(72))
    yes = SubjectResult("综合评审", SubjectStatus.SCORED, verdict=True)
    no = SubjectResult("综合评审", SubjectStatus.SCORED, verdict=False)
    out = apply_cutoffs(HENAN_ONE, [theory, yes])
    assert out.passed and out.total == D(72)
    assert not apply_cutoffs(HENAN_ONE, [theory, no]).passed
    waiting = apply_cutoffs(HENAN_ONE, [theory])  # the review board has not decided yet
    assert not waiting.complete and not waiting.passed
    with pytest.raises(ValueError, match="needs a verdict"):
        apply_cutoffs(HENAN_ONE, [theory, SubjectResult("综合评审", SubjectStatus.SCORED)])


def test_a_rule_that_cannot_decide_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a total line"):
        CutoffRule((PartRule("应知", None, D(100)),))
    assert CutoffRule((PartRule("应知", None, D(100)),), total_min=D(60)).total_min == D(60)


def test_absent_and_voided_subjects_fail_and_missing_is_not_final() -> None:
    absent = scored(90, 90, 90)
    absent[1] = SubjectResult(SUBJECTS[1], SubjectStatus.ABSENT)
    out = apply_cutoffs(HENAN, absent)
    assert out.complete and not out.passed and not out.subject_passed["职业能力"]
    voided = scored(90, 90, 90)
    voided[2] = SubjectResult(SUBJECTS[2], SubjectStatus.VOIDED)
    assert not apply_cutoffs(HENAN, voided).passed
    partial = apply_cutoffs(HENAN, scored(90, 90, 90)[:2])
    assert not partial.complete and not partial.passed


def test_results_for_a_subject_outside_the_rule_are_refused() -> None:
    with pytest.raises(ValueError, match="outside the rule"):
        apply_cutoffs(HENAN, [SubjectResult("理论", SubjectStatus.SCORED, D(90))])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 100), min_size=3, max_size=3))
def test_pass_iff_every_subject_and_the_total_clear_their_lines(scores: list[int]) -> None:
    out = apply_cutoffs(WITH_TOTAL, scored(*scores))
    assert out.passed == (min(scores) >= 35 and sum(scores) >= 180)
    assert apply_cutoffs(HENAN, scored(*scores)).passed == (min(scores) >= 35)
    mean = CutoffRule.uniform(SUBJECTS, D(30), D(60), TotalBasis.MEAN)
    assert apply_cutoffs(mean, scored(*scores)).passed == (
        min(scores) >= 30 and D(sum(scores)) / 3 >= 60
    )


# --- every line at its boundary: a cent below, exactly on it, a cent above ----------------

CENT_ = Decimal("0.01")


def three(line: str | None, total: str | None, basis: TotalBasis) -> CutoffRule:
    return CutoffRule(
        tuple(
            PartRule(s, None if line is None else Decimal(line), Decimal(100))
            for s in ("职业道德", "职业能力", "岗位技能")
        ),
        None if total is None else Decimal(total),
        basis,
    )


def decide(rule: CutoffRule, *scores: Decimal) -> bool:
    results = [
        SubjectResult(s, SubjectStatus.SCORED, x)
        for s, x in zip(rule.subjects, scores, strict=True)
    ]
    return apply_cutoffs(rule, results).passed


@pytest.mark.parametrize(("delta", "passed"), [(-CENT_, False), (Decimal(0), True), (CENT_, True)])
def test_the_subject_line_at_its_boundary(delta: Decimal, passed: bool) -> None:
    """Only the subject line decides here (no total line): 35 passes, 34.99 fails."""
    rule = three("35", None, TotalBasis.SUM)
    assert decide(rule, Decimal(80), Decimal(35) + delta, Decimal(80)) is passed


@pytest.mark.parametrize(("delta", "passed"), [(-CENT_, False), (Decimal(0), True), (CENT_, True)])
def test_the_total_line_as_a_sum_at_its_boundary(delta: Decimal, passed: bool) -> None:
    """Only the sum decides: every subject clears its line, the total is 180 ± a cent."""
    rule = three("35", "180", TotalBasis.SUM)
    assert decide(rule, Decimal(60), Decimal(60), Decimal(60) + delta) is passed


@pytest.mark.parametrize(
    ("delta", "passed"), [(Decimal("-0.03"), False), (Decimal(0), True), (Decimal("0.03"), True)]
)
def test_the_total_line_as_a_mean_at_its_boundary(delta: Decimal, passed: bool) -> None:
    """Only the mean decides: (a + b + c) / 3 against a line of 60; three cents on the
    sum is one cent on the mean. The same scores against a SUM line of 60 all pass: the
    basis, not the line's number, decides."""
    rule = three("35", "60", TotalBasis.MEAN)
    scores = (Decimal(40), Decimal(70), Decimal(70) + delta)
    assert decide(rule, *scores) is passed
    assert decide(three("35", "60", TotalBasis.SUM), *scores) is True


def test_the_mean_is_rounded_half_up_to_the_cent() -> None:
    """59.995 as a mean reads 60.00 (half up) and passes a line of 60; 59.994 fails."""
    rule = three(None, "60", TotalBasis.MEAN)
    assert decide(rule, Decimal("59.995"), Decimal("59.995"), Decimal("59.995")) is True
    assert decide(rule, Decimal("59.994"), Decimal("59.994"), Decimal("59.994")) is False


# --- each item's score says what it is and by which rule (mutation-checked) ------------


def multiple(points: str = "2", key: str = "ABCD") -> KeyedItem:
    return KeyedItem("m1", ItemType.MULTIPLE, frozenset(key), D(points))


def test_an_item_score_names_its_item_its_points_whether_it_was_right_and_its_rule() -> None:
    single = KeyedItem("s1", ItemType.SINGLE, frozenset("B"), D(1))
    assert score_item(single, ["B"]) == ItemScore("s1", D(1), D(1), True, ScoringRule.EXACT)
    assert score_item(single, ["A"]) == ItemScore("s1", D(0), D(1), False, ScoringRule.EXACT)
    m = multiple()
    assert score_item(m, ["A", "B"], MultiplePolicy.HALF) == ItemScore(
        "m1", D(1), D(2), False, ScoringRule.HALF
    )
    assert rule_for(m) is ScoringRule.ALL_OR_NOTHING
    assert rule_for(m, MultiplePolicy.PROPORTIONAL) is ScoringRule.PROPORTIONAL
    assert rule_for(single, MultiplePolicy.PROPORTIONAL) is ScoringRule.EXACT
    own = KeyedItem(
        "q1", ItemType.SINGLE, frozenset("A"), D(1), ItemScoring(ScoringRule.MATCH_CORRECT)
    )
    assert score_item(own, ["A"], MultiplePolicy.HALF) == ItemScore(
        "q1", D(1), D(1), True, ScoringRule.MATCH_CORRECT
    )


def test_a_mapped_item_scores_by_its_map_scaled_to_the_papers_points() -> None:
    mapping = ResponseMap((("A", D(1)), ("B", D(1)), ("C", D(-1))), default=D(0), lower=D(0))
    item = KeyedItem(
        "q2",
        ItemType.MULTIPLE,
        frozenset("AB"),
        D(4),
        ItemScoring(ScoringRule.MAP_RESPONSE, mapping),
        choices=("A", "B", "C", "D"),
        out_of=D(2),
    )
    assert score_item(item, ["A"]) == ItemScore("q2", D(2), D(4), False, ScoringRule.MAP_RESPONSE)
    assert score_item(item, ["A", "C"]).awarded == D(0)
    assert score_item(item, ["A", "B"], MultiplePolicy.HALF).awarded == D(4)
    assert score_paper([item], {"q2": ["B"]}, MultiplePolicy.PROPORTIONAL).total == D(2)


def test_partial_credit_rounds_half_up_to_the_cent() -> None:
    # 0.25 / 2 = 0.125 and 0.5 x 1/4 = 0.125: half up gives 0.13 (half even would give 0.12)
    assert score_item(multiple("0.25"), ["A"], MultiplePolicy.HALF).awarded == D("0.13")
    assert score_item(multiple("0.5"), ["A"], MultiplePolicy.PROPORTIONAL).awarded == D("0.13")


def test_a_paper_is_scored_under_the_plans_policy_and_totals_in_decimal() -> None:
    key = [multiple(), KeyedItem("s1", ItemType.SINGLE, frozenset("A"), D(1))]
    paper = score_paper(key, {"m1": ["A"], "s1": ["A"]}, MultiplePolicy.PROPORTIONAL)
    assert [s.item_id for s in paper.items] == ["m1", "s1"]
    assert (paper.total, paper.possible) == (D("1.5"), D(3))
    assert paper.items[0].rule is ScoringRule.PROPORTIONAL
    empty = score_paper([], {})
    assert isinstance(empty.total, Decimal) and isinstance(empty.possible, Decimal)


def test_a_mapped_item_needs_its_choices_and_its_own_points() -> None:
    mapping = ItemScoring(ScoringRule.MAP_RESPONSE, ResponseMap((("A", D(1)),)))
    for kw in ({"out_of": D(1)}, {"choices": ("A", "B")}, {"choices": ("A",), "out_of": D(0)}):
        with pytest.raises(ValueError) as caught:
            KeyedItem("q3", ItemType.SINGLE, frozenset("A"), D(1), mapping, **kw)  # type: ignore[arg-type]
        assert str(caught.value) == "item q3: a mapped item needs choices and out_of"
    # one point of its own is enough; an item's own exact rule needs no map, no choices
    KeyedItem("q3", ItemType.SINGLE, frozenset("A"), D(1), mapping, ("A", "B"), D(1))
    KeyedItem("q4", ItemType.SINGLE, frozenset("A"), D(1), ItemScoring(ScoringRule.MATCH_CORRECT))


def test_cutoff_rules_refuse_what_cannot_decide_and_say_why() -> None:
    for build, says in (
        (lambda: CutoffRule(()), "a cutoff rule needs at least one subject"),
        (
            lambda: CutoffRule((PartRule("a", D(1)), PartRule("a", D(1)))),
            "a subject is listed twice in the cutoff rule",
        ),
        (
            lambda: CutoffRule((PartRule("a", None),)),
            "a part without a line needs a total line to decide it",
        ),
        (
            lambda: CutoffRule((PartRule("评审", None, verdict=True),), D(60)),
            "a total line needs parts scored in points",
        ),
    ):
        with pytest.raises(ValueError) as caught:
            build()
        assert str(caught.value) == says
    # a rule of verdicts alone, without a total line, decides
    review = CutoffRule((PartRule("评审", None, verdict=True),))
    assert apply_cutoffs(review, [SubjectResult("评审", SubjectStatus.SCORED, verdict=True)]).passed
    assert CutoffRule.uniform(SUBJECTS, D(35)).parts[0] == PartRule(SUBJECTS[0], D(35), D(100))


def test_every_failing_part_is_named_with_its_reason() -> None:
    result = apply_cutoffs(
        HENAN_ONE,
        [
            SubjectResult("专业理论", SubjectStatus.ABSENT),
            SubjectResult("综合评审", SubjectStatus.SCORED, verdict=False),
        ],
    )
    assert result.reasons == ("专业理论: absent", "综合评审: verdict fail")
    assert result.subject_passed == {"专业理论": False, "综合评审": False}
    assert all(v is False for v in result.subject_passed.values())
    with pytest.raises(ValueError) as caught:
        apply_cutoffs(HENAN, [SubjectResult("x", SubjectStatus.ABSENT)])
    assert str(caught.value) == "results for subjects outside the rule: x"
    with pytest.raises(ValueError) as caught:
        apply_cutoffs(
            HENAN,
            [SubjectResult("y", SubjectStatus.ABSENT), SubjectResult("x", SubjectStatus.ABSENT)],
        )
    assert str(caught.value) == "results for subjects outside the rule: x, y"
    with pytest.raises(ValueError) as caught:
        apply_cutoffs(HENAN, [SubjectResult(SUBJECTS[0], SubjectStatus.SCORED)])
    assert str(caught.value) == f"{SUBJECTS[0]}: a scored subject needs a score"


def test_the_mean_total_rounds_half_up() -> None:
    # (60.00 + 60.25) / 2 = 60.125: half up 60.13 passes a 60.13 line (half even: 60.12)
    rule = CutoffRule((PartRule("a", None), PartRule("b", None)), D("60.13"), TotalBasis.MEAN)
    result = apply_cutoffs(
        rule,
        [
            SubjectResult("a", SubjectStatus.SCORED, D("60.00")),
            SubjectResult("b", SubjectStatus.SCORED, D("60.25")),
        ],
    )
    assert result.passed, result.reasons


# --- what travels: the answer key's items, the rule beside a decision ------------------


def test_a_keyed_item_goes_to_json_and_back_whole() -> None:
    plain = KeyedItem("s1", ItemType.SINGLE, frozenset("B"), D("1.5"))
    assert plain.to_json() == {"item_id": "s1", "type": "single", "key": ["B"], "points": "1.5"}
    assert KeyedItem.from_json(plain.to_json()) == plain
    mapping = ResponseMap((("A", D("0.5")), ("C", D(-1))), default=D("0.25"), lower=D(0))
    mapped = KeyedItem(
        "m1",
        ItemType.MULTIPLE,
        frozenset("AB"),
        D(2),
        ItemScoring(ScoringRule.MAP_RESPONSE, mapping),
        ("A", "B", "C"),
        D(1),
    )
    assert mapped.to_json() == {
        "item_id": "m1",
        "type": "multiple",
        "key": ["A", "B"],
        "points": "2",
        "scoring": {
            "rule": "map_response",
            "map": {"A": "0.5", "C": "-1"},
            "default": "0.25",
            "lower": "0",
        },
        "choices": ["A", "B", "C"],
        "out_of": "1",
    }
    assert KeyedItem.from_json(mapped.to_json()) == mapped
    own = KeyedItem(
        "q1",
        ItemType.SINGLE,
        frozenset("A"),
        D(1),
        ItemScoring(ScoringRule.MATCH_CORRECT),
        ("A", "B"),
    )
    assert own.to_json()["scoring"] == {"rule": "match_correct"} and "out_of" not in own.to_json()
    assert KeyedItem.from_json(own.to_json()) == own
    assert rules_of([plain, own, multiple()], MultiplePolicy.HALF) == {
        "s1": "exact",
        "q1": "match_correct",
        "m1": "half",
    }


def test_a_map_reads_its_defaults_and_holds_its_bounds() -> None:
    m = ResponseMap.from_json({"map": {"B": "1", "A": "-0.5"}})
    assert m == ResponseMap((("A", D("-0.5")), ("B", D(1))), D(0), None, None)
    assert ResponseMap.from_json({"map": {}, "default": "2", "lower": "1", "upper": "1"}) == (
        ResponseMap((), D(2), D(1), D(1))  # equal bounds are allowed
    )
    assert m.raw([]) == D(0) and m.raw(["A"]) == D("-0.5") and m.raw(["A", "B"]) == D("0.5")
    assert m.raw(["C"]) == D(0)  # an option without an entry is worth the default
    bounded = ResponseMap((("A", D(3)), ("B", D(-3))), D(0), D(-1), D(2))
    assert bounded.raw(["A"]) == D(2) and bounded.raw(["B"]) == D(-1)
    for build, says in (
        (
            lambda: ResponseMap((("B", D(1)), ("A", D(1)))),
            "map entries must be unique and in label order",
        ),
        (lambda: ResponseMap((), lower=D(2), upper=D(1)), "lower bound 2 is above upper bound 1"),
        (lambda: ItemScoring(ScoringRule.EXACT), "exact is a plan rule, not an item's own"),
        (
            lambda: ItemScoring(ScoringRule.MAP_RESPONSE),
            "map_response needs a mapping, and only it has one",
        ),
    ):
        with pytest.raises(ValueError) as caught:
            build()
        assert str(caught.value) == says
    assert ItemScoring.from_json({"rule": "match_correct"}) == ItemScoring(
        ScoringRule.MATCH_CORRECT
    )


def test_a_maps_extremes_over_its_choices() -> None:
    m = ResponseMap((("A", D(1)), ("B", D(2)), ("C", D(-1)), ("D", D(-2))))
    assert m.extremes("ABCD", multiple=True) == (D(-3), D(3))
    assert m.extremes("ABCD", multiple=False) == (D(-2), D(2))
    assert m.extremes("AB", multiple=True) == (D(1), D(3))  # no negative value: the least one
    assert m.extremes("CD", multiple=True) == (D(-3), D(-1))  # no positive value: the most one
    assert ResponseMap((("A", D(0)),)).extremes("A", multiple=True) == (D(0), D(0))
    assert ResponseMap((("A", D("0.5")),)).extremes("A", multiple=True) == (D("0.5"), D("0.5"))
    assert m.extremes("", multiple=True) == (D(0), D(0))
    # the least sums the negative values only (a half point does not lower it)
    assert ResponseMap((("A", D("0.5")), ("B", D(-1)))).extremes("AB", True) == (D(-1), D("0.5"))
    assert ResponseMap((("A", D(5)),), lower=D(1), upper=D(2)).extremes("A", True) == (D(2), D(2))


def test_a_mapped_score_rounds_half_up_and_decimals_print_plainly() -> None:
    third = ResponseMap((("A", D("0.125")),))
    item = KeyedItem(
        "m",
        ItemType.SINGLE,
        frozenset("A"),
        D(1),
        ItemScoring(ScoringRule.MAP_RESPONSE, third),
        ("A", "B"),
        D(1),
    )
    assert score_item(item, ["A"]).awarded == D("0.13")  # half even would give 0.12
    assert [decimal_text(D(x)) for x in ("1.50", "-1", "100", "0.25", "2.0")] == [
        "1.5",
        "-1",
        "100",
        "0.25",
        "2",
    ]


def test_a_forms_lines_become_its_cutoff_rule() -> None:
    form = Form.model_validate(
        {
            "level": 1,
            "parts": [
                {
                    "subject": "ZYLL",
                    "name": "专业理论",
                    "delivery": "cbt",
                    "full_marks": 100,
                    "line": 60,
                },
                {
                    "subject": "ZHPS",
                    "name": "综合评审",
                    "delivery": "external",
                    "grading": "verdict",
                },
            ],
            "total": {"line": 70, "basis": "mean"},
        }
    )
    rule = CutoffRule.of(form)
    assert rule == CutoffRule(
        (PartRule("专业理论", D(60), D(100)), PartRule("综合评审", None, None, verdict=True)),
        D(70),
        TotalBasis.MEAN,
    )
    assert rule.part("综合评审") == rule.parts[1] and rule.part("岗位技能") is None
    assert rule_json(rule) == {
        "parts": [
            {"subject": "专业理论", "line": "60", "full_marks": "100", "verdict": False},
            {"subject": "综合评审", "line": None, "full_marks": None, "verdict": True},
        ],
        "total_min": "70",
        "total_basis": "mean",
    }
    plain = CutoffRule.of(form.model_copy(update={"total": None}))
    assert (plain.total_min, plain.total_basis) == (None, TotalBasis.SUM)
    assert rule_json(plain)["total_min"] is None


def test_the_rule_a_centre_applies_is_its_forms_own_or_none() -> None:
    """One choice for the centre and central's re-check (``centre_rule``)."""

    def cbt(level: int, line: int, trade: str | None = None) -> Form:
        part = {"subject": "LL", "name": "理论知识", "delivery": "cbt", "full_marks": 100}
        return Form.model_validate(
            {"level": level, "trade": trade, "parts": [{**part, "line": line}]}
        )

    general, own = cbt(4, 60), cbt(4, 70, trade="6-28-01-01")
    review = Form.model_validate(
        {
            "level": 1,
            "parts": [
                {
                    "subject": "ZYLL",
                    "name": "专业理论",
                    "delivery": "cbt",
                    "full_marks": 100,
                    "line": 60,
                },
                {
                    "subject": "ZHPS",
                    "name": "综合评审",
                    "delivery": "external",
                    "grading": "verdict",
                },
            ],
        }
    )
    forms = [general, own, review]
    assert centre_rule(forms, 4, "4-07-05-04") == CutoffRule.of(general)
    assert centre_rule(forms, 4, None) == CutoffRule.of(general)
    assert centre_rule(forms, 4, "6-28-01-01") == CutoffRule.of(own)  # a trade's own wins
    assert centre_rule(forms, 1, None) is None  # a part scored elsewhere: central decides
    assert centre_rule(forms, 3, None) is None  # no form: nothing decided here
    assert centre_rule([review.model_copy(update={"parts": review.cbt_parts})], 1, None) == (
        CutoffRule.of(review.model_copy(update={"parts": review.cbt_parts}))
    )
