"""The trade catalogues as data: the notices' catalogues transcribed (checked by count and
against the notices themselves), a province's own file loaded with every problem
reported, unknown trades refused with the closest names."""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from pathlib import Path

import pytest
from openpyxl import Workbook

from question_bank import catalogue
from question_bank.catalogue import (
    CatalogueError,
    Subject,
    UnknownTrade,
    load_catalogue,
    parse_levels,
    shipped,
)

#: the notices, beside the checkout (../shared/seeds) or where these machines keep them
SEEDS = next(
    (
        p
        for p in (
            Path(__file__).resolve().parents[3] / "shared" / "seeds",
            Path("/work/shared/seeds"),
        )
        if p.is_dir()
    ),
    Path(__file__).resolve().parents[3] / "shared" / "seeds",
)

#: 冀人社字〔2024〕146号 附件2: trades per 行业, in the notice's order
HEBEI_INDUSTRIES = {
    "农业类": 14,
    "林业类": 11,
    "水利类": 17,
    "地质类": 8,
    "质检类": 13,
    "机电类": 12,
    "建设类": 4,
    "环保类": 4,
    "测绘类": 4,
    "交通类": 15,
    "卫生类": 10,
    "文旅类": 12,
    "广电类": 6,
    "印刷类": 11,
    "民政类": 3,
    "其他": 5,
}


def test_hebei_2024_has_149_trades_in_16_industries_with_their_codes() -> None:
    cat = shipped("hebei-2024")
    assert len(cat) == 149
    assert {k: len(v) for k, v in cat.industries().items()} == HEBEI_INDUSTRIES
    codes = [t.code for t in cat]
    assert len(set(codes)) == 149 and all(re.fullmatch(r"\d{2}-\d{3}", c) for c in codes)
    # each industry numbers its trades 001.. in order, under its own two-digit prefix
    by_prefix = sorted(cat.industries().items(), key=lambda kv: kv[1][0].code)
    for n, (industry, rows) in enumerate(by_prefix, start=1):
        assert [t.code for t in rows] == [f"{n:02d}-{i:03d}" for i in range(1, len(rows) + 1)]
        assert all(t.industry == industry for t in rows)
    assert cat.get("01-005").name == "动物检验员"
    assert cat.get("防疫员").code == "11-005"
    assert cat.get("保安员").code == "16-005"
    # the notice's own typos are kept as published; the correct spelling is an alias
    paving = cat.get("10-010")
    assert paving.name == "沥清混凝土搅和设备操作工"
    assert cat.get("沥青混凝土搅拌设备操作工") is paving
    assert "12-001" in cat.get("体育场地工").source and "缺工种代码" in cat.get("体育场地工").source


def test_henan_has_the_42_level_one_trades_and_the_manuals_trades() -> None:
    cat = shipped("henan")
    level_one = cat.for_level(1)
    assert len(level_one) == 42
    assert all("附件1" in t.source for t in level_one)
    assert level_one[0].name == "保管工" and level_one[-1].name == "钻探工"
    assert all(t.code == "" for t in cat)  # Henan's notices publish no codes
    epidemic = cat.get("防疫员")
    assert epidemic.levels == (5, 4, 3, 2) and "003" in epidemic.source
    assert "防疫员" not in {t.name for t in level_one}


@pytest.mark.skipif(
    not SEEDS.is_dir() and os.environ.get("CI") != "true",
    reason="the notices (../shared/seeds) are not here",
)
def test_transcriptions_match_the_notices_text() -> None:
    """Read the catalogues out of the notices again and compare, row by row."""
    hebei = (next(SEEDS.glob("004_*.txt"))).read_text("utf-8")
    block = hebei[hebei.index("河北省机关事业单位工人技能等级考核工种目录\n") :]
    block = block[: block.index("附件 3")]
    found: dict[str, str] = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.split("\t") if c.strip()]
        if cells and cells[0].isdigit():
            code = cells[-1] if re.fullmatch(r"\d{2}-\d{3}", cells[-1]) else ""
            name = cells[-2] if code else cells[-1]
            found[name] = code
    cat = shipped("hebei-2024")
    assert len(found) == 149
    assert {t.name: t.code for t in cat} == {**found, "体育场地工": "12-001"}
    nanyang = (next(SEEDS.glob("002_*.txt"))).read_text("utf-8")
    listing = nanyang[nanyang.index("考评工种目录\n\n\t序号") : nanyang.index("附件2\n河南省")]
    names = [c.strip() for c in listing.split("\n") if c.strip() and not c.strip().isdigit()]
    names = [n for n in names if n not in ("考评工种目录", "序号", "工种名称")]
    assert [t.name for t in shipped("henan").for_level(1)] == names


def test_unknown_trade_is_refused_with_the_closest_names() -> None:
    cat = shipped("hebei-2024")
    with pytest.raises(UnknownTrade) as e:
        cat.get("防疫工")
    assert e.value.suggestions[0] == "防疫员"
    assert "是不是：防疫员" in str(e.value)
    with pytest.raises(UnknownTrade) as e:
        cat.get("不存在的工种")
    assert "不在工种目录（hebei-2024）中" in str(e.value)


def test_a_provinces_own_catalogue_from_xlsx_and_csv(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["工种代码", "工种名称", "行业", "等级", "来源"])
    ws.append(["A-01", "防疫员", "卫生", "五级至二级", "省目录"])
    ws.append(["A-02", "电工", "机电", "5-1", "省目录"])
    wb.save(tmp_path / "province.xlsx")
    cat = load_catalogue(tmp_path / "province.xlsx")
    assert cat.get("A-01").levels == (5, 4, 3, 2)
    with catalogue.using(cat):
        assert catalogue.find_trade("A-02") is cat.get("电工")
    assert catalogue.find_trade("A-02") is None  # outside the block: the shipped trades

    bad = tmp_path / "bad.csv"
    with bad.open("w", encoding="gb18030", newline="") as f:  # GBK, as Excel saves it
        w = csv.writer(f)
        w.writerow(["工种代码", "工种名称", "等级"])
        w.writerow(["01 001", "农艺工", "5-1"])
        w.writerow(["01-002", "", "5-1"])
        w.writerow(["01-003", "农机驾驶员", "六级"])
        w.writerow(["01-004", "农机驾驶员", "5-1"])
    with pytest.raises(CatalogueError) as err:
        load_catalogue(bad)
    problems = err.value.problems
    assert len(problems) == 4
    assert problems[0].startswith("第 2 行「工种代码」")
    assert "第 3 行「工种名称」：不能为空" in problems[1]
    assert "第 4 行「等级」" in problems[2] and "六级" in problems[2]
    assert problems[3] == "第 5 行「工种名称」：农机驾驶员 与第 4 行重复"


@pytest.mark.parametrize(
    "text, levels",
    [("5-1", (5, 4, 3, 2, 1)), ("五级至二级", (5, 4, 3, 2)), ("一级", (1,)), ("5,3", (5, 3))],
)
def test_level_cells(text: str, levels: tuple[int, ...]) -> None:
    assert parse_levels(text) == levels


def test_subjects_are_data_with_their_source() -> None:
    codes = Counter(s.code for s in catalogue.subjects())
    assert set(codes) == {"ZYDD", "ZYNL", "GWJN", "ZYLL", "YZ"}
    assert Subject("专业理论") is Subject("ZYLL") and Subject("ZYLL").needs_trade
    assert "004" in Subject("应知").source
    with pytest.raises(ValueError, match="无法识别的科目“应会”"):
        Subject("应会")  # a practical exam is not in the bank: the plan marks it external
