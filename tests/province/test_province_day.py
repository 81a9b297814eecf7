"""The province's own data, end to end: from the plan to the decided result and the
printed papers, in one process (central's functions, a centre server on a ManualClock,
terminals on its ``/candidate`` namespace).

* Henan, level five: the manual's ticket 250800610001 and trade 防疫员 (003_*.txt) are
  imported, seated, log in, sit three computer-based subjects and are decided on 35 per
  subject with no total line (35/35/35 passes); the admission ticket and the score report
  show what the manual shows.
* Henan, level one: 专业理论 on computer and a 综合评审 graded 合格/不合格, entered at
  central by the prompting form; central decides.
* Hebei, technicians (二级): 应知 on computer, 应会 scored by examiners and imported from
  xlsx, 双60; trades by their codes (06-008).
"""

from __future__ import annotations

import copy
import subprocess
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import Workbook
from sqlalchemy import func, select

from central.models import AuditEvent, ExternalScore, Outcome, Registration
from central.outcomes import ScoreError, decide, enter_score, import_scores, score_reports
from central.publishing import seat_plan_of
from central.registrations import RegistrationError
from exam_common.samples import sample_plan
from exam_server.candidates.models import Candidate
from exam_server.sittings.models import CandidateResult
from seating import documents
from tests.province.harness import Person, Province, answers_for, id_number, write_rows

D = Decimal
BJ = "+08:00"


def pdf_text(data: bytes) -> str:
    out = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    )
    return out.stdout.decode()


def sitting(code: str, subject: str, level: int, day: str, start: str, end: str, trade: str):  # type: ignore[no-untyped-def]
    return {
        "code": code,
        "subject_code": subject,
        "level": level,
        "trade": trade if subject not in ("ZYDD", "ZYNL") else None,
        "trades": [trade],
        "start": f"{day}T{start}:00{BJ}",
        "end": f"{day}T{end}:00{BJ}",
        "variants": ["A", "B"],
        "windows_s": [1800, 1800, 1800],
        "blueprint": "sample",
    }


def sit_all(
    prov: Province,
    plan_scores: dict[str, dict[str, int | None]],
    people: dict[str, Person],
) -> None:
    """Each sitting in turn: log in 10 minutes before, the key at the start, answers worth
    the wanted score, submission 31 minutes in, the answer key and scores at the end.
    ``None``: the candidate does not come (缺考)."""
    terminals = {tk: prov.terminal(prov.seat_of(tk)) for tk in people}
    for sitting_id, code, start, end in prov.sittings():
        key = prov.answer_key(code)
        prov.clock.set(start - timedelta(minutes=10))
        attempts = {}
        for tk, scores in plan_scores.items():
            if code not in scores or scores[code] is None:
                continue
            reply = terminals[tk].login(tk, people[tk].id_number)
            assert reply["ok"], reply
            assert reply["candidate"]["ticket"] == tk and reply["state"] == "waiting"
            attempts[tk] = reply
        prov.start(sitting_id, code, start)
        prov.clock.set(start + timedelta(minutes=5))
        for tk, reply in attempts.items():
            items = [dict(i) for i in reply["items"]]
            papers = [
                k for k in key.values() if {x.item_id for x in k} == {i["item_id"] for i in items}
            ]
            assert len(papers) == 1
            terminals[tk].answer(
                reply["attempt_id"], answers_for(items, papers[0], D(plan_scores[tk][code] or 0))
            )
        prov.clock.set(start + timedelta(minutes=31))
        for tk, reply in attempts.items():
            assert terminals[tk].submit(reply["attempt_id"])["ok"]
        prov.end(sitting_id, code, end)
    for t in terminals.values():
        t.close()


# --- Henan, level five: the manual's candidate ------------------------------------------

LI_HONG = Person(
    ticket="250800610001",
    id_number=id_number("411502", "1986-08-15", 2),
    name="李红",
    gender="女",
    employer="漯河市委",
    trade="防疫员",
    level="五级",
    centre="0801",
)


def henan_level_five() -> dict[str, Any]:
    """The sample Henan plan with the manual's day (2025-01-22) for 防疫员, level five."""
    doc = copy.deepcopy(sample_plan("henan-2026"))
    doc["year"] = 2025
    doc["sittings"] = [
        sitting("HA-ZYDD-L5", "ZYDD", 5, "2025-01-22", "08:00", "09:00", "防疫员"),
        sitting("HA-ZYNL-L5", "ZYNL", 5, "2025-01-22", "09:30", "10:30", "防疫员"),
        sitting("HA-GWJN-FYY-L5", "GWJN", 5, "2025-01-22", "14:30", "15:30", "防疫员"),
    ]
    return doc


def test_henan_manual_ticket_and_trade_from_registration_to_decided_result(
    tmp_path: Path,
) -> None:
    prov = Province(tmp_path, henan_level_five(), "henan")
    others = [
        Person(
            f"25080061000{n}",
            id_number("411502", f"197{n}-03-0{n}", 2 * n + 1),
            name,
            "男",
            "漯河市卫健委",
            "防疫员",
            "五级",
            "0801",
        )
        for n, name in ((2, "王强"), (3, "张伟"), (4, "赵磊"))
    ]
    people = {x.ticket: x for x in [LI_HONG, *others]}

    # The registration file as the province sends it, with three mistakes first: refused
    # all together, nothing imported, each saying what to fix.
    bad = [x.row() for x in people.values()]
    bad[1][6] = "不存在的工种"
    bad[2][6] = "防疫工"
    bad[3][0] = "25080061000"  # a digit short of the province's 12
    with pytest.raises(RegistrationError) as err, prov.central.write() as s:
        from central.catalogue import require
        from central.registrations import import_registrations

        import_registrations(
            s,
            write_rows(tmp_path, bad, "bad.csv"),
            prov.clock.now(),
            plan=prov.plan,
            catalogue=require(s),
        )
    problems = [str(x) for x in err.value.problems]
    assert len(problems) == 3, problems
    assert "第 3 行「工种」：工种“不存在的工种”不在工种目录（henan）中" in problems[0]
    assert "是不是：防疫员？" in problems[1]
    assert "第 5 行「准考证号」" in problems[2] and "应为 12 位，输入了 11 位" in problems[2]
    with prov.central.read() as s:
        assert s.scalar(select(func.count()).select_from(Registration)) == 0

    prov.register(list(people.values()))
    prov.publish_and_import()
    with prov.central.read() as s:
        tickets = set(s.scalars(select(Registration.ticket)))
    assert tickets == set(people)  # kept as the province issued them

    # A terminal learns the province's rule and the sitting's windows; a mistyped number
    # is refused by that rule, saying why.
    term = prov.terminal(prov.seat_of(LI_HONG.ticket))
    rules = term.call("rules", {})
    assert rules["ticket_rule"]["length"] == 12 and rules["ticket_rule"]["check"] is None
    assert [w["late_entry_s"] for w in rules["sittings"]] == [1800, 1800, 1800]
    prov.clock.set(prov.sittings()[0][2] - timedelta(minutes=10))
    refused = term.login("25080061000", LI_HONG.id_number)
    assert refused["code"] == "bad_ticket" and "应为 12 位，输入了 11 位" in refused["message"]
    early = prov.clock.now() - timedelta(minutes=30)
    prov.clock.set(early)
    too_early = term.login(LI_HONG.ticket, LI_HONG.id_number)
    assert too_early["code"] == "entry_not_open"
    assert "开考前 30 分钟方可登录" in too_early["message"]  # the sitting's own window
    term.close()

    codes = [c for _, c, _, _ in prov.sittings()]
    scores = {
        LI_HONG.ticket: dict(zip(codes, (72, 65, 80), strict=True)),
        others[0].ticket: dict(zip(codes, (35, 35, 35), strict=True)),  # exactly on the line
        others[1].ticket: dict(zip(codes, (90, 34, 90), strict=True)),  # one under 35
        others[2].ticket: dict(zip(codes, (60, 60, None), strict=True)),  # absent from one
    }
    sit_all(prov, scores, people)

    # The centre decided every candidate: all three parts are computer-based.
    assert prov.centre is not None
    with prov.centre.read() as session:
        decided = {
            tk: (r.passed, r.total, r.details)
            for r, tk in session.execute(
                select(CandidateResult, Candidate.ticket).join(
                    Candidate, Candidate.id == CandidateResult.candidate_id
                )
            )
        }
    assert {tk: r[0] for tk, r in decided.items()} == {
        LI_HONG.ticket: True,
        others[0].ticket: True,  # 35/35/35: no notice states a total line
        others[1].ticket: False,
        others[2].ticket: False,
    }
    assert decided[LI_HONG.ticket][1] == D(217)
    assert decided[others[0].ticket][2]["rule"]["total_min"] is None

    # Central re-scores every package without a difference and decides the same way.
    reports = prov.push_results()
    assert [(r["differences"], r["problems"]) for r in reports] == [(0, [])] * 3
    with prov.central.write() as s:
        report = decide(s, prov.clock.now(), plan=prov.plan, by="省中心 审核员")
        outcomes = {o.registration_id: o.passed for o in s.scalars(select(Outcome))}
        regs = {r.id: r.ticket for r in s.scalars(select(Registration))}
    assert report.decided == 4 and report.pending == ()
    assert {regs[k]: o for k, o in outcomes.items()} == {tk: r[0] for tk, r in decided.items()}

    # The admission ticket and the score report, read back.
    with prov.central.read() as s:
        seat_plan = seat_plan_of(s, prov.plan)
        score_rows = score_reports(s, prov.plan, date(2025, 2, 20))
    ticket_pdf = pdf_text(documents.admission_tickets(seat_plan, tickets=[LI_HONG.ticket]))
    flat = "".join(ticket_pdf.split())
    for word in ("李红", "女", "年龄38", "250800610001", "漯河市委", "防疫员", "五级"):
        assert word in flat, word
    assert "职业道德2025年1月22日08:00-09:00天壹1号" in flat
    assert "岗位技能2025年1月22日14:30-15:30" in flat  # the manual printed 02:30-03:30
    assert "考试开始30分钟后，迟到人员不得入场" in flat  # the plan's 须知, its windows
    assert "考评结果查询网站：河南省技能人才评价工作网（http://ha.nva.net.cn）" in flat
    assert "主办单位：河南省职业技能等级评价指导中心" in flat
    report_pdf = pdf_text(
        documents.score_reports(
            seat_plan,
            [r for r in score_rows if r.ticket == others[0].ticket],
            website=prov.plan.documents.results_website,
        )
    )
    flat = "".join(report_pdf.split())
    assert "职业道德3535达线" in flat and "岗位技能3535达线" in flat
    assert "不设总成绩合格线" in flat and "考核结果合格" in flat
    assert "http://ha.nva.net.cn" in flat
    prov.close()


# --- Henan, level one -------------------------------------------------------------------


def test_henan_level_one_theory_on_computer_and_a_review_verdict_entered_at_central(
    tmp_path: Path,
) -> None:
    doc = copy.deepcopy(sample_plan("henan-2026"))
    doc["sittings"] = [sitting("HA-ZYLL-DG-L1", "ZYLL", 1, "2026-09-13", "08:00", "10:00", "电工")]
    # No notice prints level one's 专业理论 line, so the sample leaves it for the province
    # to set; this test's province sets 60 (its own choice, not a notice's).
    level_one = next(f for f in doc["forms"] if f["level"] == 1)
    assert level_one["parts"][0]["subject"] == "ZYLL" and level_one["parts"][0]["line"] is None
    level_one["parts"][0]["line"] = 60
    prov = Province(tmp_path, doc, "henan")
    people = {
        tk: Person(
            tk,
            id_number("410105", f"196{n}-05-1{n}", 2 * n + 1),
            name,
            "男",
            "河南省水利厅后勤服务中心",
            "电工",
            "一级",
            "0801",
        )
        for n, (tk, name) in enumerate(
            (("260800610101", "周明"), ("260800610102", "吴杰"), ("260800610103", "郑刚"))
        )
    }
    # 防疫员 is not examined at level one (not among the 42 of 宛人社函〔2021〕 附件1)
    no_level_one = Person(
        "260800610109",
        id_number("410105", "1970-01-01", 9),
        "孙涛",
        "男",
        "单位",
        "防疫员",
        "一级",
        "0801",
    )
    with pytest.raises(RegistrationError) as err:
        prov.register([*people.values(), no_level_one])
    assert "工种 防疫员 不设一级考核" in str(err.value)
    prov.register(list(people.values()))
    prov.publish_and_import()
    code = prov.sittings()[0][1]
    tks = list(people)
    sit_all(prov, {tks[0]: {code: 72}, tks[1]: {code: 59}, tks[2]: {code: 88}}, people)

    # The centre delivers only 专业理论 and decides nothing: 综合评审 is central's to enter.
    assert prov.centre is not None
    with prov.centre.read() as session:
        assert session.scalar(select(func.count()).select_from(CandidateResult)) == 0
    prov.push_results()

    # The form, as a person at central uses it: prompts for ticket, value; blank ends.
    from central.cli import main

    url = f"sqlite:///{tmp_path / 'central.db'}"
    typed = f"{tks[0]}\n合格\n{tks[1]}\n合格\n{tks[2]}\n优秀\n{tks[2]}\n不合格\n\n"
    res = CliRunner().invoke(
        main, ["scores", "enter", "--by", "评审办 刘敏", "--database", url], input=typed
    )
    assert res.exit_code == 0, res.output
    assert "综合评审按合格/不合格评定：请填写 合格、不合格、缺考 或 违纪，现为“优秀”" in res.output
    assert res.output.count("已录入") == 3
    with prov.central.write() as s:
        with pytest.raises(ScoreError, match="没有另行评分的科目“专业理论”"):
            enter_score(
                s,
                prov.clock.now(),
                plan=prov.plan,
                ticket=tks[0],
                subject="专业理论",
                value="90",
                by="x",
            )
        report = decide(s, prov.clock.now(), plan=prov.plan, by="省中心")
        entered = s.scalars(select(ExternalScore)).all()
        audit = [e for e in s.scalars(select(AuditEvent)) if e.kind == "score.entered"]
        outcomes = {o.registration_id: o for o in s.scalars(select(Outcome))}
        by_ticket = {r.ticket: outcomes[r.id] for r in s.scalars(select(Registration))}
    assert {e.entered_by for e in entered} == {"评审办 刘敏"}
    assert [(a.actor, a.data["value"]) for a in audit] == [("评审办 刘敏", "合格")] * 2 + [
        ("评审办 刘敏", "不合格")
    ]
    assert report.decided == 3
    assert by_ticket[tks[0]].passed  # 72 >= 60 and 合格
    assert not by_ticket[tks[1]].passed  # 59 < 60
    assert not by_ticket[tks[2]].passed  # 88, but the review board said 不合格
    assert by_ticket[tks[2]].details["parts"]["综合评审"]["source"].startswith("录入：评审办 刘敏")
    prov.close()


# --- Hebei, technicians -----------------------------------------------------------------


def test_hebei_technicians_knowledge_on_computer_practical_imported_sixty_and_sixty(
    tmp_path: Path,
) -> None:
    doc = copy.deepcopy(sample_plan("hebei-2024"))
    doc["sittings"] = [sitting("HB-YZ-DG-L2", "YZ", 2, "2024-09-28", "09:00", "11:00", "电工")]
    prov = Province(tmp_path, doc, "hebei-2024")
    names = ("刘洋", "陈杰", "杨帆", "黄勇")
    rows = [
        # no ticket: the notice shows none, central numbers them; the trade by its code
        [
            "",
            id_number("130302", f"197{n}-06-1{n}", 2 * n + 1),
            name,
            "男",
            "",
            "秦皇岛市园林局",
            "06-008",
            "技师",
            "1303",
        ]
        for n, name in enumerate(names)
    ]
    for r in rows:
        from stdnum.cn import ric

        r[4] = str(ric.get_birth_date(r[1]))
    path = write_rows(tmp_path, rows)
    with prov.central.write() as s:
        from central.catalogue import require
        from central.registrations import import_registrations

        import_registrations(s, path, prov.clock.now(), plan=prov.plan, catalogue=require(s))
    prov.publish_and_import()
    with prov.central.read() as s:
        regs = [
            (r.ticket or "", r.id_number, r.name, r.employer, r.trade)
            for r in s.scalars(select(Registration).order_by(Registration.id))
        ]
    assert {r[4] for r in regs} == {"电工"}  # 06-008, stored by its name
    people = {r[0]: Person(r[0], r[1], r[2], "男", r[3], r[4], "技师", "1303") for r in regs}
    tks = [r[0] for r in regs]
    code = prov.sittings()[0][1]
    sit_all(
        prov,
        {tks[0]: {code: 72}, tks[1]: {code: 60}, tks[2]: {code: 59}, tks[3]: {code: 90}},
        people,
    )
    prov.push_results()

    # 应会 scores from the examiners' sheet; one row wrong: nothing imported.
    def sheet(values: list[str]) -> Path:
        wb = Workbook()
        ws = wb.active
        assert ws is not None
        ws.append(["准考证号", "姓名", "应会"])
        for tk, v in zip(tks[:3], values, strict=True):
            ws.append([tk, people[tk].name, v])
        out = tmp_path / "应会成绩.xlsx"
        wb.save(out)
        return out

    with pytest.raises(RegistrationError) as err, prov.central.write() as s:
        import_scores(
            s, sheet(["65", "59", "101"]), prov.clock.now(), plan=prov.plan, by="考务科 张敏"
        )
    assert "第 4 行「应会」：应会的成绩 101 不在 0 至 100 之间" in str(err.value)
    with prov.central.write() as s:
        assert s.scalar(select(func.count()).select_from(ExternalScore)) == 0
        imported = import_scores(
            s, sheet(["65", "59", "95.5"]), prov.clock.now(), plan=prov.plan, by="考务科 张敏"
        )
        report = decide(s, prov.clock.now(), plan=prov.plan, by="省中心")
        outcomes = {o.registration_id: o.passed for o in s.scalars(select(Outcome))}
        by_ticket = {r.ticket: outcomes.get(r.id) for r in s.scalars(select(Registration))}
        audit = [
            (e.actor, e.data["file"])
            for e in s.scalars(select(AuditEvent))
            if e.kind == "scores.imported"
        ]
    assert (imported.rows, imported.values, imported.changed) == (3, 3, 3)
    assert audit == [("考务科 张敏", "应会成绩.xlsx")]
    assert report.decided == 3
    assert report.pending == ((tks[3], people[tks[3]].name, ("应会",)),)  # not in yet
    assert by_ticket[tks[0]] is True  # 72 and 65
    assert by_ticket[tks[1]] is False  # 60 and 59
    assert by_ticket[tks[2]] is False  # 59 and 95.5
    assert by_ticket[tks[3]] is None  # 应会 not in: undecided

    with prov.central.read() as s:
        seat_plan = seat_plan_of(s, prov.plan)
        rows_ = [r for r in score_reports(s, prov.plan, date(2024, 9, 30)) if r.ticket == tks[0]]
    flat = "".join(
        pdf_text(
            documents.score_reports(seat_plan, rows_, website=prov.plan.documents.results_website)
        ).split()
    )
    assert "应知7260达线" in flat and "应会6560达线" in flat and "考核结果合格" in flat
    assert "合格标准：应知不低于60分，应会不低于60分" in flat
    assert "https://www.hebpta.com.cn" in flat

    # The same through the commands a person at central types.
    from central.cli import main

    url = f"sqlite:///{tmp_path / 'central.db'}"
    run = CliRunner().invoke
    decided = run(main, ["outcomes", "decide", "--by", "省中心", "--database", url])
    assert decided.exit_code == 3, decided.output  # someone still waits for 应会
    assert f"待定 {tks[3]}" in decided.output and "缺 应会" in decided.output
    out = tmp_path / "成绩单.pdf"
    printed = run(main, ["outcomes", "report", "--out", str(out), "--database", url])
    assert printed.exit_code == 0, printed.output
    text = pdf_text(out.read_bytes())
    assert text.count("成绩单") >= 4 and "待定" in text  # the fourth: 应会 not in yet
    tickets_pdf = tmp_path / "准考证.pdf"
    made = run(main, ["tickets", "--out", str(tickets_pdf), "--database", url])
    assert made.exit_code == 0, made.output
    flat = "".join(pdf_text(tickets_pdf.read_bytes()).split())
    assert "申报等级二级（技师）" in flat and "考评结果查询网站：河北省人事考试网" in flat
    prov.close()
