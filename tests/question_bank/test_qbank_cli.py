"""The qbank command: the exam office's workflow end to end, exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from question_bank.cli import main
from question_bank.formats import write_items
from question_bank.items import Item
from question_bank.store import BankStore


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QBANK_BANK", str(tmp_path / "bank.sqlite3"))
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_help_is_written_for_the_exam_office(run) -> None:  # type: ignore[no-untyped-def]
    out = run("--help")
    assert "题库、组卷与考试包工具" in out and "退出码" in out
    for cmd in (
        "import",
        "validate",
        "export",
        "stats",
        "assemble",
        "build-package",
        "template",
        "keygen",
        "offline-code",
    ):
        assert cmd in out
    assert "全部正确才导入" in run("import", "--help")


def test_full_workflow(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("template", "模板.xlsx")
    assert (tmp_path / "模板.xlsx").exists()
    out = run("sample", "--blueprints", "bp.json")
    assert "新增 465 题" in out
    assert "未变化 465 题" in run("sample")  # idempotent
    stats = json.loads(run("stats", "--json", "--trade", "电工", "--subject", "岗位技能"))
    assert stats["items"] == 75 and {r["level"] for r in stats["coverage"]} == {5, 4, 3, 2}
    assert "岗位技能" in run("stats")
    run("export", "--format", "qti", "-o", "qti.zip", "--subject", "职业道德")
    run("export", "--format", "xlsx", "-o", "all.xlsx")
    assert "共 465 道试题" in run("validate", "all.xlsx")
    out = run(
        "assemble",
        "bp.json",
        "--seed",
        "2026A",
        "--plan",
        "2026A",
        "--only",
        "GWJN-DG-L5",
        "--only",
        "ZYDD-L5",
        "-o",
        "asm.json",
    )
    assert "各卷之间没有重复试题" in out
    run("keygen", "--private", "c.key", "--public", "c.pub")
    run("keygen", "--private", "c.key", "--public", "c2.pub", code=6)  # never overwrite a key
    (tmp_path / "roster.json").write_text('{"candidates": []}', encoding="utf-8")
    out = run(
        "build-package",
        "asm.json",
        "--centre",
        "410101",
        "--signing-key",
        "c.key",
        "--secrets",
        "s.json",
        "--part",
        "roster.json=roster.json",
        "-o",
        "p.zip",
    )
    assert "2 个场次、6 套试卷" in out
    secrets = json.loads((tmp_path / "s.json").read_text())
    assert set(secrets["sittings"]) == {"2026A-GWJN-DG-L5", "2026A-ZYDD-L5"}
    out = run("verify-package", "p.zip", "--public-key", "c.pub", "--centre", "410101")
    assert "校验通过" in out and "roster.json" in out
    out = run("verify-package", "p.zip", "--public-key", "c.pub", "--centre", "410102", code=5)
    assert "WrongCentreError" in out
    code = run("offline-code", "--secrets", "s.json", "2026A-ZYDD-L5").split("：")[-1].strip()
    assert (
        run("offline-code", "--decode", code)
        .strip()
        .endswith(secrets["sittings"]["2026A-ZYDD-L5"]["release_secret"])
    )
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    assert "校验不通过" in run("offline-code", "--decode", typo, code=3)


def test_import_is_all_or_nothing_with_every_error(
    run, tmp_path: Path, sample_items: list[Item]
) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.csv"
    write_items(sample_items[:5], good, "csv")
    lines = good.read_text(encoding="utf-8-sig").splitlines()
    bad = tmp_path / "bad.csv"
    lines[2] = lines[2].replace("职业道德", "职业道的", 1)
    lines[4] = lines[4].replace(",ZYDD", ",ZYDD", 1).replace("五级、四级、三级", "十级")
    bad.write_text("\n".join(lines), encoding="utf-8")
    out = run("import", str(good), str(bad), code=3)
    assert "bad.csv，第 3 行" in out and "[科目]" in out
    assert "bad.csv，第 5 行" in out and "[适用等级]" in out
    assert "与 " in out and "重复" in out  # the same ids in both files
    assert "未导入任何试题" in out
    with BankStore(tmp_path / "bank.sqlite3") as bank:
        assert bank.count() == 0
    assert "新增 5 题" in run("import", str(good))


def test_assemble_reports_shortfall_and_writes_nothing(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("sample", "--blueprints", "bp.json")
    bp = json.loads((tmp_path / "bp.json").read_text())
    one = bp["blueprints"][0]
    one["sections"][0]["count"] = 25
    one["sections"][0]["difficulty"] = {"易": 15, "中": 8, "难": 2}
    one["sections"][1]["count"] = 0
    (tmp_path / "bad.json").write_text(json.dumps(one, ensure_ascii=False), encoding="utf-8")
    out = run("assemble", "bad.json", "--seed", "1", "-o", "x.json", code=3)
    assert "count（题数）须为正整数" in out
    one["sections"][1]["count"] = 5
    one["sections"][0]["points"] = 1.6
    (tmp_path / "bad.json").write_text(json.dumps(one, ensure_ascii=False), encoding="utf-8")
    out = run("assemble", "bad.json", "--seed", "1", "-o", "x.json", code=4)
    assert "难度“易”：每卷需要 15 题，题库中可用 12 题，缺 3 题" in out
    assert not (tmp_path / "x.json").exists()


def test_missing_bank_is_a_clear_error(run) -> None:  # type: ignore[no-untyped-def]
    out = run("stats", "--bank", "nope.sqlite3", code=6)
    assert "题库文件不存在" in out


def test_authored_qti_items_through_the_command(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.question_bank import qti_authored as qa

    qa.write_package(tmp_path / "authored.zip")
    out = run("validate", "authored.zip")
    assert "共 6 道试题" in out
    assert "3 道题按试题自带的评分规则计分（map_response 2 道，match_correct 1 道）" in out
    assert "2 道题有固定位置的选项" in out and "1 道题的选项不打乱" in out
    assert "新增 6 题" in run("import", "authored.zip")
    # a sheet cannot hold a picture before the stem: refused by name, nothing written
    out = run("export", "--format", "xlsx", "-o", "out.xlsx", code=3)
    assert "ZD-PIC-06" in out and "未导出任何文件" in out and not (tmp_path / "out.xlsx").exists()
    run("export", "--format", "qti", "-o", "again.zip")
    assert "未变化 6 题" in run("import", "again.zip")
    # an item of another interaction type: what was found, where, in both languages
    bad = qa.TF_ITEM.replace("choiceInteraction", "orderInteraction")
    qa.write_package(tmp_path / "bad.zip", items={"items/o.xml": (bad, dict(qa.ETHICS))})
    out = run("validate", "bad.zip", code=3)
    assert "bad.zip:items/o.xml" in out and "试题 ZD-TF-05 (item ZD-TF-05)" in out
    assert "orderInteraction（排序）" in out and "only choiceInteraction" in out


def test_a_mapping_under_match_correct_is_imported_with_a_notice(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """match_correct does not use a mapping; the bank does not keep it and an export does
    not write it, so the import says so (the item itself imports: it scores as written)."""
    from question_bank.formats import read_items
    from question_bank.items import ItemIssue
    from tests.question_bank import qti_authored as qa

    mapped = qa.MATCH_ITEM.replace(
        "</correctResponse>",
        '</correctResponse><mapping defaultValue="0"><mapEntry mapKey="A" mappedValue="1"/>'
        "</mapping>",
    )
    qa.write_package(
        tmp_path / "m.zip",
        items={
            "items/m.xml": (mapped, {**qa.ETHICS, "knowledgePoint": "k"}),
            "items/map.xml": qa.ITEMS["items/map.xml"],
        },
        media=qa.MEDIA,
    )
    notices: list[ItemIssue] = []
    items = read_items([tmp_path / "m.zip"], notices=notices)
    assert {i.item_id for i in items} == {"ZD-ALL-02", "ZD-MAP-01"}
    (note,) = notices  # the map_response item's mapping is used: nothing to say
    assert note.item_id == "ZD-ALL-02" and note.source.endswith("m.zip:items/m.xml")
    assert "mapping 不参与计分" in note.message
    assert "not kept in the bank and not exported" in note.message
    for command in ("validate", "import"):
        out = run(command, "m.zip")
        assert "注意：1 处内容未保留 (1 note(s))" in out
        assert "试题 ZD-ALL-02 (item ZD-ALL-02)" in out and "mapping 不参与计分" in out
