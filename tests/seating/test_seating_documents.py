"""Every document read back with pdftotext: names, tickets, seats, subjects and times in
Chinese (which only extracts when the font is embedded with its Unicode map)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from question_bank.scoring import CutoffRule, PartRule, SubjectResult, SubjectStatus, TotalBasis
from seating import documents, sample
from seating.allocation import allocate
from seating.model import CHINA_TZ, SeatPlan
from seating.records import (
    Absence,
    ExtraTime,
    Note,
    Pause,
    RoomRecord,
    ScoreReport,
    SeatChange,
    Violation,
)

from .conftest import pdf_fonts, pdf_info, pdf_pages, pdf_text

pytestmark = pytest.mark.usefixtures("pdf_tools")

ROOM = ("0101", "001")


def squash(s: str) -> str:
    return "".join(s.split())


def test_font_is_embedded_subset(small_plan: SeatPlan, tmp_path: Path) -> None:
    pdf = documents.door_lists(small_plan, rooms=[ROOM])
    fonts = pdf_fonts(pdf, tmp_path)
    line = next(ln for ln in fonts.splitlines() if "WenQuanYi" in ln or "TrueType" in ln)
    assert line.split()[-5:-2] == ["yes", "yes", "yes"]  # embedded, subset, Unicode map
    assert "STSong" not in fonts and "CID" not in fonts


def test_admission_tickets(small_plan: SeatPlan, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    pdf = documents.admission_tickets(small_plan, progress=lambda d, n: seen.append((d, n)))
    n = len(small_plan.assignments)
    assert seen[-1] == (n, n)
    assert pdf_info(pdf, tmp_path)["Pages"] == str((n + 1) // 2)
    assert pdf_info(pdf, tmp_path)["Page size"].startswith("595.276 x 841.89 pts (A4)")
    pages = pdf_pages(pdf)
    order = sorted(small_plan.assignments, key=lambda a: (a.centre, a.room, a.seat))
    for i, a in enumerate(order):
        text = pages[i // 2]
        c = small_plan.candidate(a.id_number)
        assert c.name in text and c.id_number in text
        assert a.ticket in squash(text)
        assert "准考证" in text and "应考人员须知" in text
        assert f"第 {a.room} 考场" in text
        for s in small_plan.sittings_of(a.id_number):
            assert s.subject in text
            assert f"{s.local_start():%H:%M}-{s.local_end():%H:%M}" in text
        assert "2026年11月28日" in text


def test_admission_ticket_for_one_candidate_in_english(small_plan: SeatPlan) -> None:
    a = small_plan.assignments[3]
    text = pdf_text(documents.admission_tickets(small_plan, tickets=[a.ticket], lang="en"))
    assert "Admission Ticket" in text and "Instructions for candidates" in text
    assert a.ticket in squash(text)
    assert small_plan.candidate(a.id_number).name in text


def test_door_lists(small_plan: SeatPlan) -> None:
    pdf = documents.door_lists(small_plan)
    text = pdf_text(pdf)
    for key in small_plan.used_room_keys():
        assert f"第 {key[1]} 考场" in text
    for a in small_plan.assignments:
        assert small_plan.candidate(a.id_number).name in text
        assert a.ticket in text
    assert small_plan.candidates[0].id_number not in text  # hangs in the corridor
    room = pdf_pages(documents.door_lists(small_plan, rooms=[ROOM]))
    people = small_plan.in_room(ROOM)
    assert len(room) == -(-len(people) // 20) and "（续）" in room[-1]
    assert all(f"座号 {a.seat:02d}" in "".join(room) for a in people)


def test_sign_in_sheets_split_with_repeated_header(tmp_path: Path) -> None:
    # a 9 x 11 room of 99 seats: one room's sheet runs over several pages
    from seating.model import Centre, Room

    big = Centre("0101", "大考点", (Room("001", "大厅", 9, 11, spare_seats=0),))
    cands = [dataclasses.replace(c, level=3) for c in sample.candidates(99, seed=12)]
    plan = allocate(cands, [big], sample.sittings()[:1], year=2026)
    pdf = documents.sign_in_sheets(plan)
    pages = pdf_pages(pdf)
    assert len(pages) >= 6
    for p in pages:
        assert "签名" in p and "准考证号" in p  # header row on every page
        assert "第 001 考场 · 职业道德" in p  # footer names the section
    text = "".join(pages)
    for a in plan.assignments:
        assert a.ticket in text and plan.candidate(a.id_number).id_number in text
    assert "应到 99 人" in pages[-1]


def test_sign_in_sheet_per_sitting(small_plan: SeatPlan) -> None:
    pdf = documents.sign_in_sheets(small_plan, sittings=["S2"], rooms=[ROOM])
    text = pdf_text(pdf)
    assert "考生签到表" in text and "职业能力" in text and "10:30-11:30" in text
    takes = small_plan.in_room(ROOM, "S2")
    for a in small_plan.in_room(ROOM):
        assert (a.ticket in text) == (a in takes)


def test_seat_labels_include_spares(small_plan: SeatPlan) -> None:
    pages = pdf_pages(documents.seat_labels(small_plan, rooms=[ROOM]))
    text = "".join(pages)
    people = small_plan.in_room(ROOM)
    spares = small_plan.spares[ROOM]
    assert len(pages) == -(-(len(people) + len(spares)) // 10)
    for a in people:
        assert small_plan.candidate(a.id_number).name in text and a.ticket in text
    assert text.count("备用座位") == len(spares)


def test_seating_chart(small_plan: SeatPlan, tmp_path: Path) -> None:
    pdf = documents.seating_charts(small_plan, rooms=[ROOM], sitting="S1")
    assert pdf_info(pdf, tmp_path)["Page size"].startswith("841.89 x 595.276 pts (A4)")  # landscape
    text = pdf_text(pdf)
    assert "考场座位表" in text and "讲台" in text and "职业道德" in text
    for a in small_plan.in_room(ROOM, "S1"):
        assert small_plan.candidate(a.id_number).name in text
    assert "备用" in text


def test_room_record(small_plan: SeatPlan) -> None:
    people = small_plan.in_room(ROOM, "S1")
    tk = [a.ticket for a in people]
    t0 = datetime(2026, 11, 28, 9, 20, tzinfo=CHINA_TZ)
    rec = RoomRecord(
        "0101",
        "001",
        "S1",
        (
            Absence(tk[0]),
            Absence(tk[1], "病假"),
            Violation(tk[2], t0, "携带手机", "收缴，本科成绩无效", "张三"),
            ExtraTime(tk[3], t0, 12, "终端死机", "李四"),
            SeatChange(tk[4], t0, people[4].seat, 36, "显示器故障", "李四"),
            Pause(t0, datetime(2026, 11, 28, 9, 31, tzinfo=CHINA_TZ), "停电", "王主考"),
            Note(t0, "空调故障已报修", "张三"),
        ),
        ("张三", "李四"),
    )
    text = pdf_text(documents.room_records(small_plan, [rec, RoomRecord("0101", "002", "S2")]))
    assert "考场情况记录" in text and "职业道德" in text and "09:00-10:00" in text
    assert f"{len(people) - 2} / 2" in text
    for ticket in tk[:5]:
        assert ticket in text
    for word in (
        "病假",
        "携带手机",
        "终端死机",
        "12",
        "显示器故障",
        "09:20-09:31",
        "停电",
        "空调故障已报修",
        "张三、李四",
    ):
        assert word in text
    assert "无" in text  # the second record's empty tables say so


def test_score_reports(small_plan: SeatPlan) -> None:
    rule = CutoffRule.uniform(("职业道德", "职业能力", "岗位技能"), D(60), D(180))
    a, b, c = small_plan.in_room(ROOM, "S3")[:3]
    reports = [
        ScoreReport(
            a.ticket,
            rule,
            (
                SubjectResult("职业道德", SubjectStatus.SCORED, D("72.5")),
                SubjectResult("职业能力", SubjectStatus.SCORED, D(65)),
                SubjectResult("岗位技能", SubjectStatus.SCORED, D(80)),
            ),
            date(2026, 12, 10),
        ),
        ScoreReport(
            b.ticket,
            rule,
            (
                SubjectResult("职业道德", SubjectStatus.SCORED, D(90)),
                SubjectResult("职业能力", SubjectStatus.ABSENT),
                SubjectResult("岗位技能", SubjectStatus.VOIDED),
            ),
        ),
        ScoreReport(
            c.ticket,
            CutoffRule.uniform(rule.subjects, D(35), D(60), TotalBasis.MEAN),
            (SubjectResult("职业道德", SubjectStatus.SCORED, D(40)),),
        ),
    ]
    pages = pdf_pages(documents.score_reports(small_plan, reports))
    assert len(pages) == 3
    p1, p2, p3 = pages
    assert small_plan.candidate(a.id_number).name in p1 and a.ticket in p1
    assert "72.5" in p1 and "217.5" in p1 and "合格" in p1 and "不合格" not in p1
    assert "单科合格线" in p1 and "总成绩合格线 180" in p1
    assert "缺考" in p2 and "违纪" in p2 and "不合格" in p2
    assert "待定" in p3 and "各科平均" in p3 and "35" in p3  # Henan's 35-point single-subject line


def test_score_report_of_a_form_with_a_verdict_part_and_no_total_line(
    small_plan: SeatPlan,
) -> None:
    """Henan level one: 专业理论 on computer and 综合评审 graded 合格/不合格; the lines and
    the rule sentence come from the rule, and the province's results website is printed."""
    rule = CutoffRule(
        (PartRule("专业理论", D(60), D(100)), PartRule("综合评审", None, verdict=True))
    )
    a, b = small_plan.in_room(ROOM, "S3")[:2]
    reports = [
        ScoreReport(
            a.ticket,
            rule,
            (
                SubjectResult("专业理论", SubjectStatus.SCORED, D(71)),
                SubjectResult("综合评审", SubjectStatus.SCORED, verdict=True),
            ),
        ),
        ScoreReport(b.ticket, rule, (SubjectResult("专业理论", SubjectStatus.SCORED, D(88)),)),
    ]
    p1, p2 = pdf_pages(
        documents.score_reports(
            small_plan, reports, website="河南省技能人才评价工作网（http://ha.nva.net.cn）"
        )
    )
    flat = "".join(p1.split())
    assert "专业理论不低于60分，综合评审评定为合格" in flat
    assert "不设总成绩合格线" in p1 and "总成绩合格线 " not in p1
    assert "合格/不合格" in p1 and "http://ha.nva.net.cn" in p1
    assert "不合格" not in p1.replace("合格/不合格", "")
    assert "待定" in p2 and "成绩未出" in p2  # the review board has not decided yet


def test_placeholder_photo_is_a_picture_not_blank() -> None:
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(documents.placeholder_photo_png())).convert("L")
    lo, hi = img.getextrema()
    assert hi - lo > 40  # a figure on a background, not an empty box


def test_missing_font_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from seating.documents import fonts

    monkeypatch.setenv(fonts.FONT_ENV, "/nonexistent/font.ttc")
    with pytest.raises(fonts.FontNotFoundError, match="apt-get install -y fonts-wqy-microhei"):
        fonts.find_cjk_font()
    monkeypatch.delenv(fonts.FONT_ENV)
    monkeypatch.setattr(fonts, "FONT_PATHS", ("/nonexistent/a.ttc",))
    with pytest.raises(fonts.FontNotFoundError, match="fonts-wqy-microhei"):
        fonts.find_cjk_font()
