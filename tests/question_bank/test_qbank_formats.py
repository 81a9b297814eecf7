"""Import/export: xlsx, csv, json, QTI 2.1; the bank store's versions; all-or-nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest

from question_bank.catalogue import Subject
from question_bank.formats import read_items, write_items
from question_bank.formats.qti import MAP_RESPONSE, MATCH_CORRECT, QTI_NS
from question_bank.formats.tabular import HEADERS, write_template
from question_bank.items import Image, Item, ItemValidationError
from question_bank.scoring import ItemType
from question_bank.store import BankStore

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
def some_items(sample_items: list[Item]) -> list[Item]:
    """A slice of the sample with every type and subject, plus one item with a picture."""
    picked = sample_items[::9]
    assert {i.type for i in picked} == set(ItemType)
    picked[0] = replace(picked[0], image=Image("image/png", PNG))
    return picked


def test_xlsx_to_bank_to_qti_to_bank_gives_the_same_items(
    some_items: list[Item], tmp_path: Path
) -> None:
    xlsx = tmp_path / "in" / "试题.xlsx"
    xlsx.parent.mkdir()
    write_items(some_items, xlsx, "xlsx")
    with BankStore(tmp_path / "a.sqlite3") as a:
        a.import_items(read_items([xlsx]), source="xlsx", now="2026-11-22T00:00:00+00:00")
        from_xlsx = a.items()
    qti = tmp_path / "out" / "qti.zip"
    qti.parent.mkdir()
    write_items(from_xlsx, qti, "qti")
    with BankStore(tmp_path / "b.sqlite3") as b:
        b.import_items(read_items([qti]), source="qti", now="2026-11-22T00:00:00+00:00")
        from_qti = b.items()
    assert from_qti == from_xlsx == sorted(some_items, key=lambda i: i.item_id)
    assert any(i.image is not None and i.image.data == PNG for i in from_qti)


@pytest.mark.parametrize(
    ("fmt", "name"), [("csv", "x.csv"), ("json", "x.json"), ("qti", "qti_dir")]
)
def test_other_formats_round_trip(
    some_items: list[Item], tmp_path: Path, fmt: str, name: str
) -> None:
    path = tmp_path / name
    write_items(some_items, path, fmt)
    assert read_items([path], fmt) == some_items


def test_qti_uses_the_standard_templates(sample_items: list[Item], tmp_path: Path) -> None:
    one_of_each = {i.type: i for i in sample_items}
    path = tmp_path / "q.zip"
    write_items(list(one_of_each.values()), path, "qti")
    ns = {"q": QTI_NS}
    with zipfile.ZipFile(path) as z:
        assert "imsmanifest.xml" in z.namelist()
        for t, item in one_of_each.items():
            root = ET.fromstring(z.read(f"items/{item.item_id}.xml"))
            assert root.tag == f"{{{QTI_NS}}}assessmentItem"
            rp = root.find("q:responseProcessing", ns)
            assert rp is not None
            # the sample's items are scored by the plan's rule: written as match_correct (the
            # plans' default, the key or nothing) and marked scoring="plan" in the manifest
            assert rp.get("template") == MATCH_CORRECT != MAP_RESPONSE
            decl = root.find("q:responseDeclaration", ns)
            assert decl is not None
            assert decl.get("cardinality") == ("multiple" if t is ItemType.MULTIPLE else "single")
            values = {v.text for v in decl.findall("q:correctResponse/q:value", ns)}
            assert values == set(item.key)
            ci = root.find("q:itemBody/q:choiceInteraction", ns)
            assert ci is not None
            assert [c.get("identifier") for c in ci.findall("q:simpleChoice", ns)] == [
                o.label for o in item.options
            ]


def test_template_has_chinese_headers_and_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "模板.xlsx"
    write_template(path)
    wb = openpyxl.load_workbook(path)
    header = [c.value for c in wb["试题"][1]]
    assert header == HEADERS
    assert header[0] == "试题编号 (id)" and "题干 (stem)" in header
    assert "填写说明" in wb.sheetnames
    assert read_items([path]) == []


def test_the_templates_subject_list_is_the_shipped_subject_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 科目 dropdown and notes come from subjects.csv (专业理论 and 应知 too), not a
    province's three; a list too long for Excel's inline limit goes on its own sheet."""
    from question_bank import catalogue
    from question_bank.formats import tabular

    path = tmp_path / "t.xlsx"
    write_template(path)
    wb = openpyxl.load_workbook(path)
    dvs = {str(dv.sqref): dv.formula1 for dv in wb["试题"].data_validations.dataValidation}
    names = [s.value for s in catalogue.subjects()]
    assert {"专业理论", "应知", "职业道德"} <= set(names)
    assert dvs["C2:C5000"] == '"' + ",".join(names) + '"'
    notes = {r[0].value: r[1].value for r in wb["填写说明"].iter_rows(min_row=2) if r[0].value}
    assert "专业理论（ZYLL）" in notes["科目 (subject)"] and "应知（YZ）" in notes["科目 (subject)"]
    assert notes["工种 (trade)"].startswith("岗位技能、专业理论、应知必填")

    many = [Subject._make(f"科目{n:03d}", f"S{n:03d}", False, "") for n in range(60)]
    monkeypatch.setattr(tabular, "subjects", lambda: many)
    write_template(path)
    wb = openpyxl.load_workbook(path)
    dvs = {str(dv.sqref): dv.formula1 for dv in wb["试题"].data_validations.dataValidation}
    assert dvs["C2:C5000"] == "'科目'!$A$1:$A$60"
    assert [r[0].value for r in wb["科目"].iter_rows()] == [s.value for s in many]


def test_xlsx_errors_name_the_sheet_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(
        [
            "试题编号",
            "题型",
            "科目",
            "工种",
            "适用等级",
            "题干",
            "选项A",
            "选项B",
            "选项C",
            "答案",
            "分值",
            "难度",
            "知识点",
        ]
    )
    ws.append(
        ["ZYDD-0001", "单选", "职业道德", "", "五级", "题一", "甲", "乙", "丙", "AB", 1, "易", "kp"]
    )
    ws.append(
        ["ZYDD-0002", "单选", "职业道德", "", "五级", "题二", "甲", "乙", "丙", "A", 1, "易", "kp"]
    )
    ws.append(
        ["GWJN-X-1", "判断", "岗位技能", "宇航员", "五级", "", "", "", "", "对", 1, "易", "kp"]
    )
    wb.save(path)
    with pytest.raises(ItemValidationError) as exc:
        read_items([path])
    got = {(i.row, i.field) for i in exc.value.issues}
    assert got == {(2, "key"), (4, "trade"), (4, "stem")}
    assert all(i.source == str(path) for i in exc.value.issues)


def test_missing_columns_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("编号,题型\nX,单选\n", encoding="utf-8")
    with pytest.raises(ItemValidationError) as exc:
        read_items([path])
    text = str(exc.value)
    assert "无法识别的列：编号" in text and "缺少必需的列" in text and "题干" in text


def test_reimport_is_idempotent_and_changes_make_new_versions(
    sample_items: list[Item], tmp_path: Path
) -> None:
    items = sample_items[:10]
    with BankStore(tmp_path / "b.sqlite3") as bank:
        first = bank.import_items(items, source="a", now="t1")
        assert len(first.added) == 10
        again = bank.import_items(items, source="a", now="t2")
        assert (again.added, again.updated, len(again.unchanged)) == ((), (), 10)
        changed = replace(items[3], stem=items[3].stem + "（修订）")
        third = bank.import_items([changed, *items[4:]], source="b", now="t3")
        assert third.updated == (f"{items[3].item_id}.v2",)
        assert bank.versions(items[3].item_id) == [1, 2]
        assert bank.get(items[3].item_id).stem.endswith("（修订）")
        assert bank.get(items[3].item_id, 1).stem == items[3].stem  # old papers keep v1
        assert bank.count() == 10
        # importing the old content again makes a third version rather than reviving v1
        fourth = bank.import_items([items[3]], source="c", now="t4")
        assert fourth.updated == (f"{items[3].item_id}.v3",)


def test_store_filters(sample_items: list[Item], tmp_path: Path) -> None:
    with BankStore(tmp_path / "b.sqlite3") as bank:
        bank.import_items(sample_items, source="s", now="t")
        assert len(bank.items(trade="电工", subject=Subject("岗位技能"))) == 75
        assert len(bank.items(trade="电工", type=ItemType.MULTIPLE)) == 15 + 6 + 6
        assert len(bank.items(level=1)) == 30  # 电工 专业理论


def test_texts_that_look_like_formulas_export_as_text(
    some_items: list[Item], tmp_path: Path
) -> None:
    """A stem or option that starts with ``=`` (or ``+``, ``-``, ``@``, or reads as an
    error value such as ``#N/A``) is text: exported as a text cell, it imports back as
    written, not refused as a formula."""
    choice = next(i for i in some_items if i.type is ItemType.SINGLE and len(i.options) >= 4)
    texts = ["=SUM(A1:A3)", "#N/A", "+1", "-1", "#DIV/0!"][: len(choice.options)]
    odd = replace(
        choice,
        stem="=A1+B1 中的“=”表示（  ）。",
        options=tuple(replace(o, text=t) for o, t in zip(choice.options, texts, strict=False)),
        knowledge_point="@电子表格",
    )
    path = tmp_path / "x" / "items.xlsx"
    path.parent.mkdir()
    write_items([odd], path, "xlsx")
    assert [o.text for o in odd.options] == texts
    assert read_items([path]) == [odd]
    ws = openpyxl.load_workbook(path)["试题"]
    assert {c.data_type for c in ws[2] if isinstance(c.value, str)} == {"s"}
