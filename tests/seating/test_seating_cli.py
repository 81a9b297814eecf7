"""The seating command end to end on files, and the input readers' error messages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from seating import sample
from seating.cli import main
from seating.inputs import InputError, read_candidates
from seating.planfile import load_plan

from .conftest import pdf_text

HEAD = "身份证号,姓名,性别,工作单位,工种,等级\n"


def write_inputs(tmp: Path, n: int = 40) -> tuple[Path, Path, Path]:
    cands = sample.candidates(n, seed=21)
    cpath = tmp / "考生.csv"
    cpath.write_text(
        HEAD
        + "".join(
            f"{c.id_number},{c.name},{'男' if c.gender.value == 'male' else '女'},{c.employer},{c.trade},{c.level}级\n"
            for c in cands
        ),
        "utf-8",
    )
    rpath = tmp / "考场.csv"
    rpath.write_text(
        "考点代码,考点名称,考场号,考场名称,行数,列数,备用座位数\n0101,第一考点,1,一号机房,5,6,\n0101,第一考点,2,二号机房,5,6,2\n",
        "utf-8",
    )
    spath = tmp / "场次.json"
    spath.write_text(
        json.dumps(
            [
                {
                    "code": s.code,
                    "subject": s.subject,
                    "start": s.start.isoformat(),
                    "end": s.end.isoformat(),
                    "variants": list(s.variants),
                    "levels": sorted(s.levels),
                }
                for s in sample.sittings()
            ],
            ensure_ascii=False,
        ),
        "utf-8",
    )
    return cpath, rpath, spath


def test_allocate_print_export_check(tmp_path: Path, pdf_tools: None) -> None:
    c, r, s = write_inputs(tmp_path)
    runner = CliRunner()
    plan_path = tmp_path / "plan.json"
    res = runner.invoke(
        main,
        [
            "allocate",
            "-c",
            str(c),
            "-r",
            str(r),
            "-s",
            str(s),
            "--year",
            "2026",
            "--seed",
            "3",
            "-o",
            str(plan_path),
            "--xlsx",
            str(tmp_path / "plan.xlsx"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "已安排 40/40" in res.output
    plan = load_plan(plan_path)
    assert len(plan.assignments) == 40 and plan.spares[("0101", "002")] == (29, 30)
    ws = load_workbook(tmp_path / "plan.xlsx").active
    header = [c.value for c in ws[1]]
    assert header[:6] == ["考点代码", "考点", "考场号", "考场名称", "座号", "准考证号"]
    assert ws.max_row == 41

    out = tmp_path / "print"
    res = runner.invoke(
        main, ["print", "all", "--plan", str(plan_path), "--out", str(out), "--room", "1"]
    )
    assert res.exit_code == 0, res.output
    for doc in ("tickets", "door", "signin", "labels", "chart", "record"):
        assert (out / f"{doc}.pdf").stat().st_size > 1000
    room1 = plan.in_room(("0101", "001"))
    assert room1[0].ticket in "".join(pdf_text((out / "tickets.pdf").read_bytes()).split())
    assert plan.in_room(("0101", "002"))[0].ticket not in pdf_text((out / "door.pdf").read_bytes())

    results = tmp_path / "成绩.csv"
    results.write_text(
        "准考证号,职业道德,职业能力,岗位技能\n"
        + "".join(f"{a.ticket},70,缺考,65\n" for a in plan.assignments if "S3" in a.variants),
        "utf-8",
    )
    res = runner.invoke(
        main,
        [
            "export",
            "--plan",
            str(plan_path),
            "--out",
            str(tmp_path / "r.xlsx"),
            "--results",
            str(results),
            "--reports",
            str(tmp_path / "r.pdf"),
        ],
    )
    # no invented line: the plan's single-subject line must be given
    assert res.exit_code == 4 and "--subject-line" in res.output, res.output
    res = runner.invoke(
        main,
        [
            "export",
            "--plan",
            str(plan_path),
            "--out",
            str(tmp_path / "r.xlsx"),
            "--results",
            str(results),
            "--subject-line",
            "35",
            "--website",
            "http://ha.nva.net.cn",
            "--reports",
            str(tmp_path / "r.pdf"),
        ],
    )
    assert res.exit_code == 0, res.output
    ws = load_workbook(tmp_path / "r.xlsx").active
    assert [c.value for c in ws[1]][-2:] == ["总成绩", "考核结果"]
    assert ws.cell(2, 8).value == "缺考" and ws.cell(2, ws.max_column).value == "不合格"
    report = pdf_text((tmp_path / "r.pdf").read_bytes())
    assert "成绩单" in report and "http://ha.nva.net.cn" in report
    assert "不设总成绩合格线" in report and not re.search(r"总成绩合格线 \d", report)

    good = plan.assignments[0].ticket
    res = runner.invoke(main, ["ticket-check", good, "--plan", str(plan_path)])
    assert (
        res.exit_code == 0
        and "有效" in res.output
        and plan.candidate(plan.assignments[0].id_number).name in res.output
    )
    res = runner.invoke(main, ["ticket-check", good[:-2] + good[-1] + good[-2]])
    assert res.exit_code == 3 or good[-1] == good[-2]


def test_late_registration_keeps_seats(tmp_path: Path) -> None:
    c, r, s = write_inputs(tmp_path, 30)
    runner = CliRunner()
    p1 = tmp_path / "p1.json"
    assert (
        runner.invoke(
            main,
            ["allocate", "-c", str(c), "-r", str(r), "-s", str(s), "--year", "2026", "-o", str(p1)],
        ).exit_code
        == 0
    )
    late = sample.candidates(1, seed=777)[0]
    with c.open("a", encoding="utf-8") as f:
        f.write(f"{late.id_number},{late.name},男,{late.employer},{late.trade},{late.level}\n")
    p2 = tmp_path / "p2.json"
    res = runner.invoke(
        main,
        [
            "allocate",
            "-c",
            str(c),
            "-r",
            str(r),
            "-s",
            str(s),
            "--year",
            "2026",
            "-o",
            str(p2),
            "--previous",
            str(p1),
        ],
    )
    assert res.exit_code == 0, res.output
    a, b = load_plan(p1), load_plan(p2)
    assert (
        set(a.assignments) <= set(b.assignments)
        if False
        else all(b.assignment_for(x.id_number) == x for x in a.assignments)
    )
    assert b.assignment_for(late.id_number) is not None


def test_too_few_seats_exit_3(tmp_path: Path) -> None:
    c, r, s = write_inputs(tmp_path, 70)
    res = CliRunner().invoke(
        main,
        [
            "allocate",
            "-c",
            str(c),
            "-r",
            str(r),
            "-s",
            str(s),
            "--year",
            "2026",
            "-o",
            str(tmp_path / "p.json"),
        ],
    )
    assert res.exit_code == 3 and "座位不足" in res.output


def test_bad_candidate_file_names_row_and_field(tmp_path: Path) -> None:
    c, r, s = write_inputs(tmp_path, 3)
    lines = c.read_text("utf-8").splitlines()
    cols = lines[2].split(",")
    cols[0] = cols[0][:-1] + ("0" if cols[0][-1] != "0" else "1")  # wrong check digit
    cols[5] = "七级"
    lines[2] = ",".join(cols)
    c.write_text("\n".join(lines) + "\n", "utf-8")
    with pytest.raises(InputError) as e:
        read_candidates(c)
    msgs = [str(i) for i in e.value.issues]
    assert any("第 3 行「身份证号」" in m for m in msgs) and any(
        "第 3 行「等级」" in m for m in msgs
    )
    res = CliRunner().invoke(
        main,
        [
            "allocate",
            "-c",
            str(c),
            "-r",
            str(r),
            "-s",
            str(s),
            "--year",
            "2026",
            "-o",
            str(tmp_path / "p.json"),
        ],
    )
    assert res.exit_code == 4 and "第 3 行" in res.output


def test_gbk_csv_and_missing_column(tmp_path: Path) -> None:
    c = sample.candidates(2, seed=5)[0]
    p = tmp_path / "gbk.csv"
    p.write_bytes((HEAD + f"{c.id_number},{c.name},女,{c.employer},{c.trade},四级\n").encode("gbk"))
    assert read_candidates(p)[0].level == 4
    p.write_text("身份证号,姓名\n1,2\n", "utf-8")
    with pytest.raises(InputError, match="缺少列“性别”"):
        read_candidates(p)


def test_results_export_takes_its_subjects_from_the_plan(tmp_path: Path) -> None:
    """No subject list is assumed: without --subjects the export scores the subjects of
    the sittings its candidates sit (level one's 理论知识 here, not Henan's three);
    candidates sitting different subjects, or a subject no sitting has, are refused."""
    c, r, s = write_inputs(tmp_path)
    runner = CliRunner()
    plan_path = tmp_path / "plan.json"
    res = runner.invoke(
        main,
        ["allocate", "-c", str(c), "-r", str(r), "-s", str(s), "--year", "2026"]
        + ["--seed", "3", "-o", str(plan_path)],
    )
    assert res.exit_code == 0, res.output
    plan = load_plan(plan_path)
    theory = [a.ticket for a in plan.assignments if "T1" in a.variants]
    three = [a.ticket for a in plan.assignments if "S1" in a.variants]
    assert theory and three

    def export(rows: str, *extra: str) -> tuple[int, str]:
        results = tmp_path / "成绩.csv"
        results.write_text(rows, "utf-8")
        res = runner.invoke(
            main,
            ["export", "--plan", str(plan_path), "--out", str(tmp_path / "r.xlsx")]
            + ["--results", str(results), "--subject-line", "60", *extra],
        )
        return res.exit_code, res.output

    code, out = export("准考证号,理论知识\n" + "".join(f"{t},72\n" for t in theory))
    assert code == 0, out
    ws = load_workbook(tmp_path / "r.xlsx").active
    header = [c.value for c in ws[1]]
    assert "理论知识" in header and "职业道德" not in header
    assert ws.cell(2, ws.max_column).value == "合格"

    code, out = export(f"准考证号,理论知识,职业道德\n{theory[0]},72,\n{three[0]},,70\n")
    assert code == 4 and "成绩文件中的考生所考科目不同（理论知识：" in out, out
    assert "请按科目分开导出，或用 --subjects 写明" in out

    code, out = export(f"准考证号,应知\n{theory[0]},72\n", "--subjects", "应知")
    assert code == 4 and "--subjects 中的“应知”不是计划中场次的科目" in out, out
    assert "计划的科目：职业道德、职业能力、岗位技能、理论知识" in out

    code, out = export(
        f"准考证号,职业道德\n{three[0]},70\n", "--subjects", "职业道德"
    )  # given explicitly: the three-subject candidate scored on one
    assert code == 0, out


def test_help_speaks_to_the_admin() -> None:
    res = CliRunner().invoke(main, ["--help"])
    assert res.exit_code == 0 and "安排考场座位" in res.output and "Exit codes" in res.output
    res = CliRunner().invoke(main, ["print", "--help"])
    assert "准考证" in res.output and "签到表" in res.output


def test_ticket_check_by_the_provinces_rule(tmp_path: Path) -> None:
    """The manual's number fails our own layout's check digit and passes Henan's rule,
    read from a plan file; a rule file that is not one is refused."""
    from exam_common.samples import sample_plan

    runner = CliRunner()
    ours = runner.invoke(main, ["ticket-check", "250800610001"])
    assert ours.exit_code == 3 and "校验不通过" in ours.output
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(sample_plan("henan-2026"), ensure_ascii=False), "utf-8")
    henan = runner.invoke(main, ["ticket-check", "250800610001", "2508006100", "--rule", str(plan)])
    assert henan.exit_code == 3, henan.output
    assert "12 位数字，无校验位" in henan.output
    assert "250800610001  有效" in henan.output and "应为 12 位，输入了 10 位" in henan.output
    junk = tmp_path / "x.json"
    junk.write_text('{"length": 0}', "utf-8")
    refused = runner.invoke(main, ["ticket-check", "1", "--rule", str(junk)])
    assert refused.exit_code == 4 and "不是准考证号规则" in refused.output


def test_the_printed_blank_room_record_is_blank(tmp_path: Path, pdf_tools: None) -> None:
    """`seating print record` prints the record an invigilator fills in by hand: the
    expected count is known, but present / absent are left as lines to write on (the
    issue found "26 / 0" pre-filled: nobody is absent before the sitting), and every event
    table is empty."""
    c, r, s = write_inputs(tmp_path)
    runner = CliRunner()
    plan_path = tmp_path / "plan.json"
    res = runner.invoke(
        main,
        ["allocate", "-c", str(c), "-r", str(r), "-s", str(s), "--year", "2026"]
        + ["--seed", "3", "-o", str(plan_path)],
    )
    assert res.exit_code == 0, res.output
    plan = load_plan(plan_path)
    out = tmp_path / "print"
    res = runner.invoke(main, ["print", "record", "--plan", str(plan_path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    pages = pdf_text((out / "record.pdf").read_bytes(), layout=True).split("\f")[:-1]
    records = [
        (k, sitting.code)
        for sitting in plan.sittings
        for k in plan.used_room_keys()
        if plan.in_room(k, sitting.code)
    ]
    assert records and len(pages) >= len(records)
    blanks = [p for p in pages if "考场情况记录" in p]
    assert len(blanks) == len(records), pages
    for page in blanks:
        assert "____ / ____" in page, page
        # no count filled in: neither "26 / 0" nor any other "N / M"
        assert not re.search(r"\d+\s*/\s*\d+", page), page
        assert "服务器" not in page and "server" not in page, page
    expected = {len(plan.in_room(k, code)) for k, code in records}
    printed = {int(n) for n in re.findall(r"应考人数\s+(\d+)", "".join(blanks))}
    assert printed == expected, blanks[0]  # the expected count is known and printed
