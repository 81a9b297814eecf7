"""Item validation: every problem of every row, naming row and field, Chinese first."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from question_bank.catalogue import Subject, find_trade, get_trade, parse_level
from question_bank.items import (
    Item,
    ItemIssue,
    ItemValidationError,
    RawRow,
    split_wire_id,
    validate_rows,
)
from question_bank.scoring import ItemType


def row(n: int, **over: Any) -> RawRow:
    fields: dict[str, Any] = {
        "id": f"ZYDD-{n:04d}",
        "type": "单选",
        "subject": "职业道德",
        "trade": "",
        "levels": "五级、四级",
        "stem": "社会主义职业道德的核心是（  ）。",
        "options": ["集体主义", "为人民服务", "爱岗敬业", "诚实守信"],
        "key": "B",
        "points": "1",
        "difficulty": "易",
        "knowledge_point": "职业道德基本概念",
    }
    fields.update(over)
    return RawRow("试题.xlsx", n, fields)


def issues_of(*rows: RawRow) -> list[ItemIssue]:
    with pytest.raises(ItemValidationError) as exc:
        validate_rows(rows)
    return exc.value.issues


def test_good_rows_become_items() -> None:
    items = validate_rows(
        [
            row(2),
            row(3, type="多选", key="A,C"),
            row(4, type="判断", options=[], key="×"),
            row(5, subject="岗位技能", trade="电工", id="GWJN-DG-0001", points=1.5),
        ]
    )
    assert [i.type for i in items] == [
        ItemType.SINGLE,
        ItemType.MULTIPLE,
        ItemType.TRUE_FALSE,
        ItemType.SINGLE,
    ]
    assert items[0].key == {"B"} and items[0].levels == {5, 4}
    assert items[1].key == {"A", "C"}
    assert items[2].key == {"F"} and [o.label for o in items[2].options] == ["T", "F"]
    assert items[3].trade == "电工" and items[3].points == Decimal("1.5")
    assert items[0].wire_id == "ZYDD-0002.v1"


@pytest.mark.parametrize(
    ("over", "field", "words"),
    [
        ({"key": "AB"}, "key", ["单选题只能有一个答案", "AB"]),
        ({"key": "E"}, "key", ["“E”不是本题的选项"]),
        (
            {"options": ["集体主义", "为人民服务", "集体主义 ", "诚实守信"]},
            "options",
            ["选项A和选项C内容重复"],
        ),
        ({"stem": "  "}, "stem", ["题干为空"]),
        ({"subject": "岗位技能", "trade": "飞行员"}, "trade", ["工种“飞行员”不在工种目录中"]),
        ({"subject": "岗位技能", "trade": ""}, "trade", ["必须填写工种"]),
        ({"trade": "电工"}, "trade", ["公共科目"]),
        ({"type": "多选", "key": "A"}, "key", ["多选题至少有两个正确答案"]),
        ({"type": "判断", "options": [], "key": "B"}, "key", ["判断题答案"]),
        ({"points": "0"}, "points", ["分值"]),
        ({"points": "abc"}, "points", ["分值"]),
        ({"levels": "六级"}, "levels", ["无法识别的等级"]),
        ({"difficulty": "很难"}, "difficulty", ["无法识别的难度"]),
        ({"id": "1-bad id"}, "id", ["试题编号"]),
        ({"knowledge_point": ""}, "knowledge_point", ["知识点为空"]),
        ({"options": ["只有一个"], "key": "A"}, "options", ["至少需要 2 个选项"]),
        ({"type": "填空"}, "type", ["无法识别的题型"]),
    ],
)
def test_each_problem_names_row_field_and_fix(
    over: dict[str, Any], field: str, words: list[str]
) -> None:
    issues = issues_of(row(7, **over))
    assert [i.field for i in issues] == [field], issues
    issue = issues[0]
    assert issue.row == 7 and issue.source == "试题.xlsx"
    text = str(issue)
    assert "第 7 行" in text and "试题.xlsx" in text
    for w in words:
        assert w in text


def test_every_bad_row_is_reported_not_just_the_first() -> None:
    issues = issues_of(
        row(2), row(3, key="AB"), row(4), row(5, stem="", key="Z"), row(6, id="ZYDD-0002")
    )
    assert {(i.row, i.field) for i in issues} == {(3, "key"), (5, "stem"), (5, "key"), (6, "id")}
    dup = next(i for i in issues if i.row == 6)
    assert "第 2 行" in dup.message  # names where the first copy is


def test_error_message_summarises_and_says_nothing_imported() -> None:
    with pytest.raises(ItemValidationError) as exc:
        validate_rows([row(2, key="AB"), row(3, stem="")])
    assert "发现 2 处错误，未导入任何试题" in str(exc.value)


def test_content_hash_ignores_version_but_not_content() -> None:
    a = validate_rows([row(2)])[0]
    assert a.content_hash() == a.with_version(5).content_hash()
    b = validate_rows([row(2, stem="职业道德的核心是什么？")])[0]
    assert a.content_hash() != b.content_hash()


def test_json_round_trip_keeps_everything() -> None:
    item = validate_rows([row(2, type="多选", key="ABD")])[0].with_version(3)
    assert Item.from_json(item.to_json()) == item


def test_wire_ids() -> None:
    assert split_wire_id("GWJN-DG-0001.v12") == ("GWJN-DG-0001", 12)
    with pytest.raises(ValueError):
        split_wire_id("GWJN-DG-0001")


def test_catalogue() -> None:
    for name in ("护理员", "电工", "中式烹调师"):
        assert find_trade(name) is not None
    assert get_trade("06-008").name == "电工"  # Hebei writes a code, Henan only the name
    with pytest.raises(ValueError, match="不在工种目录"):
        get_trade("飞行员")
    assert [parse_level(x) for x in ("五级", "4", "三", "L2", "高级技师", 1)] == [5, 4, 3, 2, 1, 1]
    assert Subject("岗位技能").needs_trade and not Subject("职业道德").needs_trade
