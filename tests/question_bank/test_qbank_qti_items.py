"""Items as their authors wrote them (issue 23): QTI items written for these tests
(``qti_authored``) import with their whole body, option order and scoring rule; they score
under their maps; they shuffle with fixed options in place; they come back from every
export meaning the same; and what cannot be represented is refused saying what and where."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from question_bank.formats import read_items, write_items
from question_bank.formats.qti import MAP_RESPONSE, MATCH_CORRECT, QB_NS, QTI_NS
from question_bank.formats.tabular import HEADERS, template_workbook
from question_bank.items import Item, ItemValidationError
from question_bank.scoring import (
    ItemType,
    MultiplePolicy,
    ScoringRule,
    score_item,
    score_paper,
)
from question_bank.store import BankStore
from tests.question_bank import qti_authored as qa
from tests.question_bank.test_qbank_refusals_bilingual import bilingual

D = Decimal


@pytest.fixture
def authored(tmp_path: Path) -> dict[str, Item]:
    items = read_items([qa.write_package(tmp_path / "authored.zip")])
    return {i.item_id: i for i in items}


def test_the_whole_item_is_imported_as_written(authored: dict[str, Item]) -> None:
    m = authored["ZD-MAP-01"]
    # text outside the prompt, the picture with its alt text, then the prompt, in order
    assert [(b.text, b.alt) for b in m.blocks()] == [
        ("某单位在窗口服务岗位张贴了下面的宣传画， 开展职业道德教育。", ""),
        ("", "宣传画：爱岗敬业、诚实守信、办事公道"),
        ("下列属于职业道德基本要求的有（  ）。", ""),
    ]
    assert m.blocks()[1].image is not None and m.blocks()[1].image.data == qa.PNG
    assert (
        m.stem
        == "某单位在窗口服务岗位张贴了下面的宣传画， 开展职业道德教育。\n下列属于职业道德基本要求的有（  ）。"
    )
    # foreign identifiers become A..D in order; the key, the map and "fixed" follow them
    assert [o.text for o in m.options] == ["爱岗敬业", "诚实守信", "办事公道", "以上都不对"]
    assert m.key == {"A", "B", "C"} and m.fixed == {"D"} and m.shuffle
    assert m.scoring is not None and m.scoring.rule is ScoringRule.MAP_RESPONSE
    assert m.scoring.to_json() == {
        "rule": "map_response",
        "map": {"A": "1", "B": "1", "C": "1", "D": "-1"},
        "default": "0",
        "lower": "0",
        "upper": "3",
    }
    assert m.points == 3

    seq = authored["ZD-SEQ-03"]
    assert not seq.shuffle and seq.scoring is None  # match_correct on a single: the same
    assert seq.stem == (
        "档案室面积为 20 m²，收文后应依次办理。\n"
        "下列顺序中，最后一项与其他各项的关系是（  ）。\n（按选项原有顺序作答）"
    )
    assert seq.points == 2

    every = authored["ZD-ALL-02"]  # inline match_correct on a multiple: all or nothing
    assert every.scoring is not None and every.scoring.rule is ScoringRule.MATCH_CORRECT
    assert every.points == 1  # no MAXSCORE: what match_correct gives

    partial = authored["ZD-PART-04"]  # single with partial credit; points = the map's best
    assert partial.scoring is not None and partial.points == 2 and partial.fixed == {"D"}
    # the note written after the options stays after them, out of the stem
    assert partial.stem == "办事公道要求工作人员在处理事务时（  ）。"
    assert [b.text for b in partial.after] == ["（选“照顾熟人，兼顾原则”得一半分。）"]

    pic = authored["ZD-PIC-06"]  # the picture first: kept as a body in that order
    assert pic.body and pic.blocks()[0].image is not None
    assert pic.blocks()[0].image.media_type == "image/svg+xml"
    assert pic.blocks()[0].alt == "红色圆圈加斜杠的标志"
    assert pic.blocks()[1].text == "上图所示标志的含义是（  ）。"

    tf = authored["ZD-TF-05"]
    assert tf.type is ItemType.TRUE_FALSE and tf.key == {"T"}


def test_items_score_under_their_own_rules(authored: dict[str, Item]) -> None:
    m = authored["ZD-MAP-01"].keyed()
    expect = {"A": 1, "AB": 2, "ABC": 3, "AD": 0, "ABD": 1, "ABCD": 2, "D": 0, "": 0}
    for picked, points in expect.items():
        got = score_item(m, picked)
        assert (got.awarded, got.rule) == (D(points), ScoringRule.MAP_RESPONSE), picked
    # the plan's all-or-nothing rule would give 0 for one right choice; the map gives 1
    assert score_item(m, "A", MultiplePolicy.ALL_OR_NOTHING).awarded == 1
    # on a paper that gives the item 15 points the map is scaled: 1 of 3 -> 5 of 15
    on_paper = authored["ZD-MAP-01"].keyed(D(15))
    assert score_item(on_paper, "A").awarded == D(5)
    assert score_item(on_paper, "ABC").awarded == D(15)
    # a label the item does not have, or a response that is not a set of its options
    assert score_item(on_paper, "AE").awarded == 0

    every = authored["ZD-ALL-02"].keyed(D(6))
    for policy in MultiplePolicy:  # the author's all-or-nothing beats the plan's policy
        got = score_item(every, "A", policy)
        assert (got.awarded, got.rule) == (0, ScoringRule.MATCH_CORRECT)
        assert score_item(every, "AC", policy).awarded == 6

    partial = authored["ZD-PART-04"].keyed(D(4))
    assert [score_item(partial, x).awarded for x in ("A", "B", "C", "D", "AB")] == [
        4,
        2,
        0,
        0,
        0,
    ]
    # plan rules where the item has none, named as such
    plain = score_paper(
        [authored["ZD-SEQ-03"].keyed(D(2)), authored["ZD-TF-05"].keyed(D(1))],
        {"ZD-SEQ-03.v1": ["B"], "ZD-TF-05.v1": ["F"]},
    )
    assert plain.total == 2 and set(plain.rules.values()) == {ScoringRule.EXACT}


def test_round_trip_keeps_what_was_imported(authored: dict[str, Item], tmp_path: Path) -> None:
    items = list(authored.values())
    for fmt, name in (("qti", "out.zip"), ("qti", "out_dir"), ("json", "out.json")):
        path = tmp_path / name
        write_items(items, path, fmt)
        assert read_items([path], fmt) == items, fmt
    # the export says the same thing in QTI: the author's map, fixed, shuffle, alt
    with zipfile.ZipFile(tmp_path / "out.zip") as z:
        root = ET.fromstring(z.read("items/ZD-MAP-01.xml"))
        manifest = ET.fromstring(z.read("imsmanifest.xml"))
    ns = {"q": QTI_NS}
    mapping = root.find("q:responseDeclaration/q:mapping", ns)
    assert mapping is not None
    assert (mapping.get("lowerBound"), mapping.get("upperBound")) == ("0", "3")
    assert {e.get("mapKey"): e.get("mappedValue") for e in mapping} == {
        "A": "1",
        "B": "1",
        "C": "1",
        "D": "-1",
    }
    rp = root.find("q:responseProcessing", ns)
    assert rp is not None and rp.get("template") == MAP_RESPONSE
    ci = root.find("q:itemBody/q:choiceInteraction", ns)
    assert ci is not None and ci.get("shuffle") == "true"
    assert [c.get("fixed") for c in ci] == [None, None, None, "true"]
    img = root.find("q:itemBody/q:p/q:img", ns)
    assert img is not None and img.get("alt") == "宣传画：爱岗敬业、诚实守信、办事公道"
    metas = {m.get("scoring") for m in manifest.iter(f"{{{QB_NS}}}item")}
    assert metas == {"item", "plan"}
    # and the bank stores what it reads: importing the export again changes nothing
    with BankStore(tmp_path / "b.sqlite3") as bank:
        bank.import_items(items, source="a", now="t1")
        again = bank.import_items(read_items([tmp_path / "out.zip"]), source="b", now="t2")
        assert (again.added, again.updated) == ((), ())
        assert bank.get("ZD-MAP-01") == authored["ZD-MAP-01"]


def test_sheets_keep_map_fixed_shuffle_and_alt(authored: dict[str, Item], tmp_path: Path) -> None:
    # the map item with its picture after the question (in the prompt): a layout a sheet
    # holds
    picture = '<img src="../media/poster.png" alt="宣传画：爱岗敬业、诚实守信、办事公道"/>'
    after = qa.MAP_ITEM.replace(f"<p>{picture}</p>", "").replace("</prompt>", picture + "</prompt>")
    (moved,) = read_items(
        [
            qa.write_package(
                tmp_path / "after.zip", items={"items/m.xml": (after, qa.ITEMS["items/map.xml"][1])}
            )
        ]
    )
    assert not moved.body and moved.image is not None
    simple = [moved, *(i for i in authored.values() if not i.body and not i.after)]
    for fmt in ("xlsx", "csv"):
        path = tmp_path / fmt / f"items.{fmt}"
        path.parent.mkdir()
        write_items(simple, path, fmt)
        assert read_items([path]) == simple, fmt
    wb = openpyxl.load_workbook(tmp_path / "xlsx" / "items.xlsx")
    ws = wb["试题"]
    header = [c.value for c in ws[1]]
    (row,) = [
        dict(zip(header, values, strict=True))
        for values in ws.iter_rows(min_row=2, values_only=True)
        if values[0] == "ZD-MAP-01"
    ]
    assert row["评分规则 (scoring)"] == "A=1，B=1，C=1，D=-1；默认=0；下限=0；上限=3"
    assert (row["固定选项 (fixed options)"], row["选项乱序 (shuffle)"]) == ("D", "是")
    assert row["图片说明 (image alt)"] == "宣传画：爱岗敬业、诚实守信、办事公道"
    # a body a sheet cannot hold (the picture first) is refused, not flattened
    with pytest.raises(ItemValidationError) as exc:
        write_items(list(authored.values()), tmp_path / "all.xlsx", "xlsx")
    got = [(i.item_id, i.field) for i in exc.value.issues]
    assert got == [("ZD-MAP-01", "body"), ("ZD-PIC-06", "body"), ("ZD-PART-04", "after")]
    assert "json 或 qti" in str(exc.value) and "export json or qti" in str(exc.value)
    assert "选项之后还有文字或图片" in str(exc.value)
    assert not (tmp_path / "all.xlsx").exists()


def test_the_template_has_the_new_columns_and_its_examples_import(tmp_path: Path) -> None:
    wb = template_workbook()
    header = [c.value for c in wb["试题"][1]]
    assert header == HEADERS
    for h in (
        "图片说明 (image alt)",
        "选项乱序 (shuffle)",
        "固定选项 (fixed options)",
        "评分规则 (scoring)",
    ):
        assert h in header
    notes = {r[0].value: r[1].value for r in wb["填写说明"].iter_rows(min_row=2) if r[0].value}
    assert "最低不得为负" in notes["评分规则 (scoring)"]
    # the examples sheet, read as the items sheet, is a valid import
    del wb["试题"]
    wb["示例"].title = "试题"
    path = tmp_path / "examples.xlsx"
    wb.save(path)
    items = {i.item_id: i for i in read_items([path])}
    assert items["ZYDD-0001"].fixed == {"D"}
    assert items["ZYNL-0002"].shuffle is False
    dg = items["GWJN-DG-0001"]
    assert dg.scoring is not None and score_item(dg.keyed(), "AB").awarded == 2


def test_refusals_say_what_and_where_all_at_once(tmp_path: Path) -> None:
    text_entry = f"""<assessmentItem {qa.QTI} identifier="FILL-1" title="t" adaptive="false"
        timeDependent="false">
      <responseDeclaration identifier="R" cardinality="single" baseType="string">
        <correctResponse><value>敬业</value></correctResponse>
      </responseDeclaration>
      <itemBody><p>爱岗<textEntryInteraction responseIdentifier="R"/>是职业道德的基础。</p></itemBody>
    </assessmentItem>"""
    order = f"""<assessmentItem {qa.QTI} identifier="ORDER-1" title="t" adaptive="false"
        timeDependent="false">
      <responseDeclaration identifier="R" cardinality="ordered" baseType="identifier"/>
      <itemBody><orderInteraction responseIdentifier="R" shuffle="true">
        <simpleChoice identifier="A">登记</simpleChoice><simpleChoice identifier="B">拟办</simpleChoice>
      </orderInteraction></itemBody>
    </assessmentItem>"""
    # a missing picture together with five other problems of the same item
    many = (
        qa.MAP_ITEM.replace("media/poster.png", "media/gone.png")
        .replace('identifier="ZD-MAP-01"', 'identifier="MANY-1"')
        .replace('mappedValue="-1"', 'mappedValue="-2"')
        .replace('lowerBound="0" ', "")
    )
    negative = qa.MAP_ITEM.replace('identifier="ZD-MAP-01"', 'identifier="NEG-1"').replace(
        'lowerBound="0" ', ""
    )
    custom_rp = qa.TF_ITEM.replace('identifier="ZD-TF-05"', 'identifier="RP-1"').replace(
        f'<responseProcessing template="{qa.TEMPLATES}/match_correct"/>',
        "<responseProcessing><responseCondition><responseIf><gt><variable "
        'identifier="RESPONSE"/><baseValue baseType="float">0</baseValue></gt>'
        "</responseIf></responseCondition></responseProcessing>",
    )
    table = qa.TF_ITEM.replace('identifier="ZD-TF-05"', 'identifier="TAB-1"').replace(
        "<itemBody>", "<itemBody><table><tr><td>甲</td></tr></table>"
    )
    outside = [
        qa.TF_ITEM.replace('identifier="ZD-TF-05"', f'identifier="OUT-{n}"').replace(
            "<itemBody>", f'<itemBody><p><img src="{src}" alt="x"/></p>'
        )
        for n, src in enumerate(
            ("../../../etc/passwd.png", "/etc/x.png", "http://example.org/a.png", "file:a.png")
        )
    ]
    not_image = qa.TF_ITEM.replace('identifier="ZD-TF-05"', 'identifier="FAKE-1"').replace(
        "<itemBody>", '<itemBody><p><img src="../media/fake.png" alt="x"/></p>'
    )
    best = qa.MAP_ITEM.replace('identifier="ZD-MAP-01"', 'identifier="BEST-1"').replace(
        "<value>3</value>", "<value>2</value>"
    )
    meta = {**qa.ETHICS, "knowledgePoint": "kp"}
    items = {
        "items/fill.xml": (text_entry, meta),
        "items/order.xml": (order, meta),
        "items/many.xml": (many, {**meta, "trade": "宇航员"}),
        "items/negative.xml": (negative, meta),
        "items/rp.xml": (custom_rp, meta),
        "items/table.xml": (table, meta),
        **{f"items/out{n}.xml": (x, meta) for n, x in enumerate(outside)},
        "items/fake.xml": (not_image, meta),
        "items/best.xml": (best, meta),
        "items/bare.xml": (qa.TF_ITEM.replace("ZD-TF-05", "BARE-1"), None),
        "items/absent.xml": ("", meta),
    }
    pkg = qa.write_package(
        tmp_path / "bad.zip",
        items=items,
        media={"media/poster.png": qa.PNG, "media/fake.png": b"not a picture"},
    )
    with pytest.raises(ItemValidationError) as exc:
        read_items([pkg])
    issues = exc.value.issues
    by_item: dict[str | None, list[str]] = {}
    for i in issues:
        by_item.setdefault(i.item_id, []).append(str(i))

    (fill,) = by_item["FILL-1"]
    assert "textEntryInteraction（填空）" in fill and "只支持 choiceInteraction" in fill
    assert "the item uses textEntryInteraction" in fill
    assert f"{pkg}:items/fill.xml" in fill and "试题 FILL-1 (item FILL-1)" in fill
    (orders,) = by_item["ORDER-1"]
    assert "orderInteraction（排序）" in orders and "uses orderInteraction" in orders

    many_problems = by_item["MANY-1"]
    assert len(many_problems) == 3, many_problems
    assert any(
        "找不到图片 media/gone.png" in p and "not in the content package" in p
        for p in many_problems
    )
    assert any("工种“宇航员”不在工种目录中" in p for p in many_problems)
    assert any("最低可得 -2 分" in p for p in many_problems)

    assert any("最低可得 -1 分" in p and "set lowerBound to 0" in p for p in by_item["NEG-1"])
    assert any("<gt>" in p and "custom response processing" in p for p in by_item["RP-1"])
    assert any("<table>" in p and "cannot be shown" in p for p in by_item["TAB-1"])
    for n in range(4):
        (out,) = by_item[f"OUT-{n}"]
        assert "内容包之外" in out and "content package" in out
    assert any("不是图片" in p and "not a picture" in p for p in by_item["FAKE-1"])
    assert any(
        "最高可得 3 分，但本题分值为 2 分" in p and "best score 3 differs" in p
        for p in by_item["BEST-1"]
    )
    assert any("没有本题的 qb:item" in p for p in by_item["BARE-1"])
    (absent,) = [str(i) for i in issues if "absent.xml" in i.source]
    # the manifest's resource for it (the test package numbers them in order)
    resource = f"RES-{list(items).index('items/absent.xml') + 1}"
    assert f"清单中列出的试题文件不存在或无法读取（清单中的资源 {resource}）" in absent
    assert f"the item file listed by manifest resource {resource} is missing" in absent
    # nothing passed for a good item among them was stored anywhere; the whole file failed
    assert len(issues) == sum(len(v) for v in by_item.values())
    assert [i.message for i in issues if not bilingual(i.message)] == []


def test_a_formula_is_reported_as_a_formula(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADERS[:17])
    base = ["ZYDD-0101", "单选", "职业道德", "", "五级", "题干", "甲", "乙", "丙"]
    ws.append(
        [*base[:5], '=CONCAT("职业道德的核心是", "（  ）")', *base[6:], *[""] * 5, "B", 1, "易"]
    )
    ws.append([*base[:5], "题干", "甲", "=1/0", "丙", *[""] * 5, "B", "=1+1", "易"])
    ws["A3"] = "ZYDD-0102"
    wb.save(tmp_path / "f.xlsx")
    with pytest.raises(ItemValidationError) as exc:
        read_items([tmp_path / "f.xlsx"])
    got = {(i.row, i.field): i.message for i in exc.value.issues}
    assert 'F2 是公式“=CONCAT("职业道德的核心是", "（  ）")”' in got[(2, "stem")]
    assert "paste it as a value" in got[(2, "stem")]
    assert "H3 是公式“=1/0”" in got[(3, "options")]
    assert "P3 是公式“=1+1”" in got[(3, "points")]
    assert not any("题干为空" in m for m in got.values())
    assert got[(2, "knowledge_point")].startswith("知识点为空")  # the rest still checked


def test_older_exports_still_read_as_they_meant(tmp_path: Path) -> None:
    """An export of the previous qbank (written out here as it wrote them): the picture
    before the prompt with the placeholder alt "题图", ``shuffle="false"`` on every item
    and a generated map on every multiple-choice item, all of which stood for the plan's
    rules and the usual shuffle."""
    old_multiple = f"""<?xml version='1.0' encoding='utf-8'?>
<assessmentItem {qa.QTI} identifier="ZYDD-0042" title="ZYDD-0042" adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="multiple" baseType="identifier">
    <correctResponse><value>A</value><value>B</value><value>D</value></correctResponse>
    <mapping lowerBound="0" upperBound="6" defaultValue="0">
      <mapEntry mapKey="A" mappedValue="2" /><mapEntry mapKey="B" mappedValue="2" />
      <mapEntry mapKey="C" mappedValue="-6" /><mapEntry mapKey="D" mappedValue="2" />
    </mapping>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float">
    <defaultValue><value>0</value></defaultValue></outcomeDeclaration>
  <outcomeDeclaration identifier="MAXSCORE" cardinality="single" baseType="float">
    <defaultValue><value>6</value></defaultValue></outcomeDeclaration>
  <itemBody>
    <p><img src="../images/ZYDD-0042.png" alt="题图" /></p>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="false" maxChoices="4">
      <prompt>下列属于职业守则的有（  ）。</prompt>
      <simpleChoice identifier="A">遵纪守法</simpleChoice>
      <simpleChoice identifier="B">爱岗敬业</simpleChoice>
      <simpleChoice identifier="C">敷衍塞责</simpleChoice>
      <simpleChoice identifier="D">团结协作</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing template="{MAP_RESPONSE}" />
</assessmentItem>"""
    meta = {
        "subject": "职业道德",
        "trade": "",
        "levels": "五级",
        "difficulty": "中",
        "knowledgePoint": "职业守则",
        "points": "6",
        "type": "多选",
        "version": "3",
    }
    path = qa.write_package(
        tmp_path / "old.zip",
        items={"items/ZYDD-0042.xml": (old_multiple, meta)},
        media={"images/ZYDD-0042.png": qa.PNG},
    )
    (item,) = read_items([path])
    assert item.scoring is None and item.shuffle and not item.fixed  # the plan's rules
    assert not item.body and item.stem == "下列属于职业守则的有（  ）。"  # stem, then picture
    assert item.image is not None and item.image_alt == ""
    # the same content (and hash) as the item the old bank held: no new version
    same = Item.from_json({**item.to_json(), "version": 3})
    assert same.content_hash() == item.content_hash()
    assert "image_alt" not in item.content_json() and "scoring" not in item.content_json()
    # an older export with an author's own map in it keeps the map
    authored_map = old_multiple.replace('mappedValue="-6"', 'mappedValue="-1"')
    path = qa.write_package(
        tmp_path / "old2.zip",
        items={"items/ZYDD-0042.xml": (authored_map, meta)},
        media={"images/ZYDD-0042.png": qa.PNG},
    )
    (mapped,) = read_items([path])
    assert mapped.scoring is not None and mapped.scoring.rule is ScoringRule.MAP_RESPONSE


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("A=x", ["“x”不是有效的分值"]),
        ("A=1，Z=1", ["“Z”不是选项字母"]),
        ("A=1；下限=2；上限=1", ["下限 2 高于上限 1"]),
        ("A=1，A=2", ["选项 A 写了两次"]),
        ("A 1", ["应写成 选项=分值"]),
        ("A=1，B=1，E=1；下限=0", ["“E”不是本题的选项"]),
        (
            "A=3，B=1；下限=0",
            ["最高可得 3 分，但本题分值为 2 分", "按评分映射得 1 分，不是最高分 3 分"],
        ),
    ],
)
def test_bad_scoring_cells_are_refused(cell: str, words: list[str], tmp_path: Path) -> None:
    doc = {
        "items": [
            {
                "id": "ZYDD-0201",
                "type": "单选",
                "subject": "职业道德",
                "levels": "五级",
                "stem": "题干",
                "options": ["甲", "乙", "丙"],
                "key": "A" if "A=3" not in cell else "B",
                "points": "2" if "E=1" not in cell else "1",
                "difficulty": "易",
                "knowledge_point": "kp",
                "scoring": cell,
            }
        ]
    }
    path = tmp_path / "x.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ItemValidationError) as exc:
        read_items([path])
    text = str(exc.value)
    assert "[评分规则] (scoring)" in text
    for w in words:
        assert w in text


def test_qti_templates_for_plan_rules_and_own_rules(
    authored: dict[str, Item], tmp_path: Path
) -> None:
    path = tmp_path / "t.zip"
    write_items(list(authored.values()), path, "qti")
    ns = {"q": QTI_NS}
    with zipfile.ZipFile(path) as z:
        got = {}
        for item_id in authored:
            root = ET.fromstring(z.read(f"items/{item_id}.xml"))
            rp = root.find("q:responseProcessing", ns)
            assert rp is not None
            got[item_id] = rp.get("template")
    assert got == {
        "ZD-MAP-01": MAP_RESPONSE,
        "ZD-ALL-02": MATCH_CORRECT,
        "ZD-SEQ-03": MATCH_CORRECT,
        "ZD-PART-04": MAP_RESPONSE,
        "ZD-TF-05": MATCH_CORRECT,
        "ZD-PIC-06": MATCH_CORRECT,
    }


def test_choices_keep_their_characters_and_pictures_in_them_are_refused(tmp_path: Path) -> None:
    sup = qa.ORDERED_ITEM.replace("前一项的结果", "约 20 m<sup>2</sup>").replace(
        "前两项的总结", "H<sub>2</sub>O 的<b>用量</b>"
    )
    (item,) = read_items(
        [
            qa.write_package(
                tmp_path / "a.zip",
                items={"items/s.xml": (sup, qa.ETHICS | {"knowledgePoint": "k"})},
            )
        ]
    )
    assert [o.text for o in item.options][:2] == ["约 20 m²", "H₂O 的用量"]
    pictured = qa.ORDERED_ITEM.replace(
        "前一项的结果", '前一项<img src="../media/poster.png" alt="图"/>'
    ).replace("前两项的总结", "x<sup>y</sup>")
    qa.write_package(
        tmp_path / "b.zip", items={"items/s.xml": (pictured, qa.ETHICS | {"knowledgePoint": "k"})}
    )
    with pytest.raises(ItemValidationError) as exc:
        read_items([tmp_path / "b.zip"])
    text = str(exc.value)
    assert "选项 A 中有图片" in text and "pictures in options are not supported" in text
    assert "选项中的上标/下标 <sup>y</sup>" in text


def test_a_directory_package_may_not_link_out_of_itself(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    outside = tmp_path / "secret.png"
    outside.write_bytes(qa.PNG)
    (pkg / "items").mkdir(parents=True)
    (pkg / "media").mkdir()
    (pkg / "media" / "poster.png").symlink_to(outside)
    (pkg / "imsmanifest.xml").write_text(
        qa.manifest({"items/map.xml": qa.ITEMS["items/map.xml"][1]}), encoding="utf-8"
    )
    (pkg / "items" / "map.xml").write_text(qa.MAP_ITEM, encoding="utf-8")
    with pytest.raises(ItemValidationError) as exc:
        read_items([pkg])
    (issue,) = exc.value.issues
    assert issue.item_id == "ZD-MAP-01" and "符号链接" in issue.message
    assert "symbolic link out of the content package" in issue.message


_IF_MATCH = '<match><variable identifier="RESPONSE"/><correct identifier="RESPONSE"/></match>'
_IF_NULL = '<isNull><variable identifier="RESPONSE"/></isNull>'


def _set(value: str, outcome: str = "SCORE") -> str:
    return (
        f'<setOutcomeValue identifier="{outcome}"><baseValue baseType="float">{value}'
        "</baseValue></setOutcomeValue>"
    )


_MAPPED = (
    '<setOutcomeValue identifier="SCORE"><mapResponse identifier="RESPONSE"/></setOutcomeValue>'
)


def _rp(*conditions: str) -> str:
    return "<responseProcessing>" + "".join(conditions) + "</responseProcessing>"


def _cond(if_test: str, if_do: str, else_do: str | None, *middle: str) -> str:
    tail = f"<responseElse>{else_do}</responseElse>" if else_do is not None else ""
    return (
        f"<responseCondition><responseIf>{if_test}{if_do}</responseIf>{''.join(middle)}"
        f"{tail}</responseCondition>"
    )


#: inline processing made only of the elements the templates use, each scoring otherwise
#: than the template it resembles, and where the first difference is
DEVIANT_RULES = {
    "else-also-1": (_rp(_cond(_IF_MATCH, _set("1"), _set("1"))), "写的是 <baseValue"),
    "right-2": (_rp(_cond(_IF_MATCH, _set("2"), _set("0"))), 'baseType="float">2'),
    "no-else": (_rp(_cond(_IF_MATCH, _set("1"), None)), "模板为 <responseElse>"),
    "other-outcome": (
        _rp(_cond(_IF_MATCH, _set("1", "MAXSCORE"), _set("0"))),
        'identifier="MAXSCORE"',
    ),
    "else-if": (
        _rp(
            _cond(
                _IF_MATCH,
                _set("1"),
                _set("0"),
                f"<responseElseIf>{_IF_NULL}{_set('0.5')}</responseElseIf>",
            )
        ),
        "<responseElseIf>",
    ),
    "twice": (
        _rp(_cond(_IF_MATCH, _set("1"), _set("0")), _cond(_IF_NULL, _set("1"), _set("0"))),
        "写的是 <responseCondition>",
    ),
    "null-scores": (_rp(_cond(_IF_NULL, _set("1"), _MAPPED)), "map_response 模板"),
    "map-when-right": (_rp(_cond(_IF_MATCH, _MAPPED, _set("0"))), "<match>"),
    "other-response": (
        _rp(
            _cond(
                '<match><variable identifier="RESPONSE"/><correct identifier="OTHER"/></match>',
                _set("1"),
                _set("0"),
            )
        ),
        'identifier="OTHER"',
    ),
}


@pytest.mark.parametrize("name", sorted(DEVIANT_RULES))
def test_inline_processing_that_is_not_a_template_is_refused(name: str, tmp_path: Path) -> None:
    rp, where = DEVIANT_RULES[name]
    xml = qa.MATCH_ITEM.replace(
        qa.MATCH_ITEM[
            qa.MATCH_ITEM.index("<responseProcessing>") : qa.MATCH_ITEM.index("</assessmentItem>")
        ],
        rp + "\n",
    )
    if "map-" in name or "null" in name:  # a mapping, so that only the processing is wrong
        xml = xml.replace(
            "</correctResponse>",
            '</correctResponse><mapping defaultValue="0"><mapEntry mapKey="A" mappedValue="1"/>'
            '<mapEntry mapKey="C" mappedValue="1"/></mapping>',
        )
    pkg = qa.write_package(
        tmp_path / "rp.zip", items={"items/rp.xml": (xml, {**qa.ETHICS, "knowledgePoint": "k"})}
    )
    with pytest.raises(ItemValidationError) as exc:
        read_items([pkg])
    (issue,) = exc.value.issues
    text = str(issue)
    assert issue.item_id == "ZD-ALL-02" and issue.field == "scoring"
    assert f"{pkg}:items/rp.xml" in text and "试题 ZD-ALL-02 (item ZD-ALL-02)" in text
    assert "choiceInteraction（responseIdentifier=“RESPONSE”）的内联 responseProcessing" in text
    assert "无法照原样计分" in text and "may score otherwise" in text
    assert where in text, text


def test_inline_templates_are_followed_however_laid_out(tmp_path: Path) -> None:
    """The templates written out, with another response identifier, comments, layout and
    ``1.0`` for ``1``, are the templates."""
    match = (
        qa.MATCH_ITEM.replace('identifier="RESPONSE"', 'identifier="R1"')
        .replace('responseIdentifier="RESPONSE"', 'responseIdentifier="R1"')
        .replace("<responseCondition>", "<!-- all or nothing -->\n<responseCondition>")
        .replace('baseType="float">1<', 'baseType="float">1.0<')
    )
    mapped = qa.MAP_ITEM.replace(
        f'<responseProcessing template="{qa.TEMPLATES}/map_response"/>',
        _rp(_cond(_IF_NULL, _set("0.0"), _MAPPED)).replace("><", ">\n  <"),
    )
    pkg = qa.write_package(
        tmp_path / "ok.zip",
        items={
            "items/match.xml": (match, {**qa.ETHICS, "knowledgePoint": "k"}),
            "items/map.xml": (mapped, {**qa.ETHICS, "knowledgePoint": "k"}),
        },
    )
    got = {i.item_id: i.scoring for i in read_items([pkg])}
    assert got["ZD-ALL-02"] is not None and got["ZD-ALL-02"].rule is ScoringRule.MATCH_CORRECT
    assert got["ZD-MAP-01"] is not None and got["ZD-MAP-01"].rule is ScoringRule.MAP_RESPONSE


@pytest.mark.parametrize(
    ("after", "kept"),
    [
        (
            "</choiceInteraction>\n    <p>（本题考查职业道德的基本要求）</p>",
            [("（本题考查职业道德的基本要求）", "")],
        ),
        ("</choiceInteraction>请在答题卡上作答。", [("请在答题卡上作答。", "")]),
        (
            '</choiceInteraction><div><p>见下图：</p><p><img src="../media/poster.png" '
            'alt="答题示意"/></p></div>',
            [("见下图：", ""), ("", "答题示意")],
        ),
    ],
    ids=["paragraph", "tail-text", "text-and-picture"],
)
def test_what_follows_the_options_stays_after_them(
    after: str, kept: list[tuple[str, str]], tmp_path: Path
) -> None:
    """Text or a picture written after the choiceInteraction is kept after the options:
    not merged into the stem, and written back after the interaction on export."""
    xml = qa.MAP_ITEM.replace("</choiceInteraction>", after)
    pkg = qa.write_package(
        tmp_path / "after.zip", items={"items/after.xml": (xml, qa.ITEMS["items/map.xml"][1])}
    )
    (item,) = read_items([pkg])
    assert [(b.text, b.alt) for b in item.after] == kept
    assert "作答" not in item.stem and "考查" not in item.stem and "见下图" not in item.stem
    assert [b.alt for b in item.blocks()] == ["", "宣传画：爱岗敬业、诚实守信、办事公道", ""]
    out = tmp_path / "out.zip"
    write_items([item], out, "qti")
    assert read_items([out]) == [item]
    with zipfile.ZipFile(out) as z:
        root = ET.fromstring(z.read("items/ZD-MAP-01.xml"))
        names = set(z.namelist())
    body = root.find(f"{{{QTI_NS}}}itemBody")
    assert body is not None
    tags = [child.tag.rsplit("}", 1)[-1] for child in body]
    tail = list(body)[tags.index("choiceInteraction") + 1 :]
    assert ["".join(p.itertext()).strip() or p[0].get("alt") for p in tail] == [
        t or a for t, a in kept
    ]
    pictures = [img.get("src") for img in body.iter(f"{{{QTI_NS}}}img")]
    assert [src.removeprefix("../") in names for src in pictures] == [True] * len(pictures)
