"""Blueprints and assembly: reproducible, auditable, no reuse where the bank allows, clear
shortfall errors, papers keep their item versions."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from question_bank.assembly import (
    Assembly,
    AssemblyError,
    BankIndex,
    assemble,
    assemblies_from_json,
    assemblies_to_json,
)
from question_bank.blueprint import Blueprint, BlueprintError, blueprints_from_json, parse_blueprint
from question_bank.catalogue import Subject
from question_bank.items import Difficulty, Item, Option
from question_bank.scoring import ItemType


def bp_dict(**over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": "T-L5",
        "subject": "职业道德",
        "level": "五级",
        "sections": [
            {"type": "单选", "count": 10, "points": 4, "difficulty": {"易": 4, "中": 4, "难": 2}},
            {"type": "多选", "count": 5, "points": 6},
            {"type": "判断", "count": 10, "points": 3, "difficulty": {"易": 5, "中": 5}},
        ],
        "knowledge_points": {"职业道德基本概念": 2},
    }
    d.update(over)
    return d


def synthetic_bank(n_per_cell: int, kps: tuple[str, ...] = ("甲", "乙", "丙")) -> list[Item]:
    items = []
    n = 0
    for t in ItemType:
        for d in Difficulty:
            for _ in range(n_per_cell):
                n += 1
                opts = (
                    (Option("T", "正确"), Option("F", "错误"))
                    if t is ItemType.TRUE_FALSE
                    else tuple(Option(c, f"选项{c}{n}") for c in "ABCD")
                )
                key = (
                    frozenset("T")
                    if t is ItemType.TRUE_FALSE
                    else frozenset("AC" if t is ItemType.MULTIPLE else "B")
                )
                items.append(
                    Item(
                        f"S-{n:05d}",
                        t,
                        Subject("职业道德"),
                        None,
                        frozenset({5}),
                        f"题干{n}",
                        opts,
                        key,
                        Decimal(1),
                        d,
                        kps[n % len(kps)],
                    )
                )
    return items


def test_blueprint_must_total_100() -> None:
    d = bp_dict()
    d["sections"][0]["count"] = 9
    d["sections"][0]["difficulty"] = {"易": 4, "中": 3, "难": 2}
    with pytest.raises(BlueprintError) as exc:
        parse_blueprint(d, "方案.json")
    assert "总分须恰为 100 分" in str(exc.value) and "96" in str(exc.value)


@pytest.mark.parametrize(
    ("over", "words"),
    [
        ({"subject": "岗位技能"}, "须填写目录中的工种"),
        ({"trade": "电工"}, "不分工种"),
        ({"level": "九级"}, "无法识别的等级"),
        ({"id": ""}, "方案编号"),
        ({"knowledge_points": {"x": 0}}, "最少题数须为正整数"),
    ],
)
def test_blueprint_problems_are_named(over: dict[str, Any], words: str) -> None:
    with pytest.raises(BlueprintError, match=words):
        parse_blueprint(bp_dict(**over), "方案.json")


def test_blueprint_difficulty_mix_must_add_up() -> None:
    d = bp_dict()
    d["sections"][2]["difficulty"] = {"易": 5, "中": 4}
    with pytest.raises(BlueprintError, match="合计 9 题，与题数 10 不符"):
        parse_blueprint(d)


def test_duplicate_blueprint_ids_refused() -> None:
    with pytest.raises(BlueprintError, match="方案编号重复"):
        blueprints_from_json({"blueprints": [bp_dict(), bp_dict()]}, "x.json")


def check_paper_meets_blueprint(a: Assembly, bp: Blueprint) -> None:
    for p in a.papers:
        assert sum((i.points for i in p.items), Decimal(0)) == Decimal(100)
        assert len({i.item.item_id for i in p.items}) == len(p.items)
        for si, s in enumerate(bp.sections):
            got = [i.item for i in p.items if i.section == si]
            assert len(got) == s.count and all(i.type is s.type for i in got)
            if s.difficulty:
                assert Counter(i.difficulty for i in got) == Counter(dict(s.difficulty))
        for kp, n in bp.knowledge_points:
            assert sum(1 for i in p.items if i.item.knowledge_point == kp) >= n
        assert all(bp.level in i.item.levels and i.item.subject is bp.subject for i in p.items)


def test_sample_blueprints_assemble_three_distinct_variants(
    sample_index: BankIndex, sample_blueprints: dict[str, Blueprint]
) -> None:
    assert len(sample_blueprints) == 26
    # every level 5-1 has a paper: the three subjects at 5-2, 专业理论 at 1, 应知 at 2
    assert {bp.level for bp in sample_blueprints.values()} == {5, 4, 3, 2, 1}
    assert {bp.subject.code for bp in sample_blueprints.values() if bp.level == 1} == {"ZYLL"}
    assert sample_blueprints["YZ-DG-L2"].trade == "电工"
    for bp in sample_blueprints.values():
        a = assemble(sample_index, bp, "2026A", 3)
        check_paper_meets_blueprint(a, bp)
        ids = [i.item.item_id for p in a.papers for i in p.items]
        if bp.trade in ("防疫员",) or bp.subject.code in ("ZYLL", "YZ"):
            continue  # 30-item sets: variants share items, as the audit records
        assert a.reused == ()
        assert len(ids) == len(set(ids)) == 75


def test_assembly_is_reproducible_and_seed_dependent(
    sample_items: list[Item], sample_blueprints: dict[str, Blueprint]
) -> None:
    bp = sample_blueprints["GWJN-HLY-L4"]
    a = assemble(sample_items, bp, "seed-1", 3)
    b = assemble(list(reversed(sample_items)), bp, "seed-1", 3)  # bank order does not matter
    c = assemble(sample_items, bp, "seed-2", 3)
    assert assemblies_to_json([a]) == assemblies_to_json([b])
    assert [i.item.wire_id for i in a.papers[0].items] != [
        i.item.wire_id for i in c.papers[0].items
    ]
    assert a.papers[0].shuffle_seed != c.papers[0].shuffle_seed


def test_audit_records_every_draw_and_reuse_when_bank_is_small() -> None:
    bank = synthetic_bank(6)  # each difficulty cell holds 6: not enough for 3 distinct variants
    bp = parse_blueprint(bp_dict(knowledge_points={"甲": 2}))
    a = assemble(bank, bp, "s", 3)
    check_paper_meets_blueprint(a, bp)
    assert len(a.draws) == 75
    assert {d.variant for d in a.draws} == {1, 2, 3}
    assert any(d.reason == "knowledge_point:甲" for d in a.draws)
    assert a.reused  # some reuse was unavoidable...
    first = {i.item.item_id for i in a.papers[0].items}
    second = {i.item.item_id for i in a.papers[1].items}

    # ...but only after unused items ran out: single-choice easy has 6 items, 4 per paper
    def singles_easy(p: Any) -> set[str]:
        return {
            i.item.item_id
            for i in p.items
            if i.item.type is ItemType.SINGLE and i.item.difficulty is Difficulty.EASY
        }

    assert len(singles_easy(a.papers[0]) & singles_easy(a.papers[1])) == 2
    assert first != second


def test_shortfall_says_which_type_difficulty_and_knowledge_point() -> None:
    bank = [
        i
        for i in synthetic_bank(3)
        if not (i.type is ItemType.SINGLE and i.difficulty is Difficulty.HARD)
    ]
    bp = parse_blueprint(bp_dict(knowledge_points={"丁": 1}))
    with pytest.raises(AssemblyError) as exc:
        assemble(bank, bp, "s", 3)
    text = str(exc.value)
    shorts = {
        (s.type, s.difficulty, s.knowledge_point): (s.needed, s.available, s.short)
        for s in exc.value.shortfalls
    }
    assert shorts[(ItemType.SINGLE, Difficulty.HARD, None)] == (2, 0, 2)
    assert shorts[(ItemType.SINGLE, Difficulty.EASY, None)] == (4, 3, 1)
    assert (
        ItemType.MULTIPLE,
        None,
        None,
    ) not in shorts  # 9 multiple items are enough for one paper
    assert shorts[(None, None, "丁")] == (1, 0, 1)
    assert "单选题、难度“难”：每卷需要 2 题，题库中可用 0 题，缺 2 题" in text
    assert "知识点“丁”" in text and "T-L5" in text


def test_papers_keep_the_item_version_they_used(
    sample_items: list[Item], sample_blueprints: dict[str, Blueprint]
) -> None:
    bp = sample_blueprints["ZYDD-L5"]
    a = assemble(sample_items, bp, "v", 1)
    used = a.papers[0].items[0].item
    bumped = [
        replace(i, version=2, stem=i.stem + "（新）") if i.item_id == used.item_id else i
        for i in sample_items
    ]
    # the saved assembly still says v1 after the bank moves on
    saved = assemblies_from_json(assemblies_to_json([a]))[0]
    assert saved.papers[0].items[0].item.wire_id == f"{used.item_id}.v1"
    assert saved.papers[0].items[0].item.stem == used.stem
    assert saved.papers == a.papers
    b = assemble(bumped, bp, "v", 1)
    assert b.papers[0].items[0].item.wire_id == f"{used.item_id}.v2"


@settings(max_examples=60, deadline=None)
@given(
    per_cell=st.integers(min_value=0, max_value=12),
    seed=st.text(max_size=8),
    variants=st.integers(1, 4),
)
def test_assembly_either_meets_the_blueprint_or_explains(
    per_cell: int, seed: str, variants: int
) -> None:
    bp = parse_blueprint(bp_dict(knowledge_points={"甲": 1, "乙": 2}))
    bank = synthetic_bank(per_cell)
    try:
        a = assemble(BankIndex(bank), bp, seed, variants)
    except AssemblyError as e:
        assert e.shortfalls and all(s.short > 0 for s in e.shortfalls)
        assert per_cell < 5  # 判断 easy needs 5 per paper
        return
    # ...and it is refused whenever the bank is short (an assembler that fills a paper
    # from too small a bank would pass the rest of this test)
    assert per_cell >= 5, f"assembled from {per_cell} items per cell, fewer than a paper needs"
    check_paper_meets_blueprint(a, bp)
    assert len(a.papers) == variants
    # no reuse while the bank holds enough for every variant
    if per_cell >= 5 * variants:
        assert a.reused == ()
