"""Words people see on paper and in spreadsheets: Chinese first (``zh_CN``), English (``en``).

One table, looked up with :func:`t`. A key missing in English falls back to Chinese, never to
the key itself, so a gap shows as Chinese text rather than as ``door.title``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, tzinfo

from seating.model import CHINA_TZ, Gender, level_name

LANGS = ("zh_CN", "en")

TEXT: dict[str, tuple[str, str]] = {
    # common
    "name": ("姓名", "Name"),
    "gender": ("性别", "Gender"),
    "id_number": ("身份证号", "ID number"),
    "ticket": ("准考证号", "Ticket no."),
    "employer": ("工作单位", "Employer"),
    "trade": ("工种", "Trade"),
    "level": ("等级", "Level"),
    "trade_level": ("报考工种及等级", "Trade and level"),
    "centre": ("考点", "Centre"),
    "centre_code": ("考点代码", "Centre code"),
    "address": ("考点地址", "Address"),
    "room": ("考场", "Room"),
    "room_code": ("考场号", "Room no."),
    "room_name": ("考场名称", "Room name"),
    "location": ("考场位置", "Location"),
    "seat": ("座号", "Seat"),
    "subject": ("科目", "Subject"),
    "sitting": ("场次", "Sitting"),
    "date": ("日期", "Date"),
    "time": ("时间", "Time"),
    "variant": ("试卷版本", "Variant"),
    "photo": ("照片", "Photo"),
    "signature": ("签名", "Signature"),
    "remarks": ("备注", "Remarks"),
    "page": ("第 {n} 页", "Page {n}"),
    "male": ("男", "Male"),
    "female": ("女", "Female"),
    "none": ("无", "None"),
    "count": ("人数", "Candidates"),
    "spare": ("备用座位", "Spare seat"),
    "spare_short": ("备用", "spare"),
    "blocked": ("停用", "not in use"),
    "empty": ("空", "empty"),
    "front": ("讲台（前）", "Front (invigilators' desk)"),
    "default_title": ("{year}年度工勤技能岗位等级考核", "{year} Skilled Worker Grade Examination"),
    "minutes": ("{n} 分钟", "{n} min"),
    "age": ("年龄", "Age"),
    "applied_trade": ("申报工种", "Trade"),
    "applied_level": ("申报等级", "Level"),
    "venue": ("考核地点", "Venue"),
    "issuer": ("主办单位：{issuer}", "Issued by {issuer}"),
    # admission ticket
    "admission": ("准考证", "Admission Ticket"),
    "instructions": ("应考人员须知", "Instructions for candidates"),
    "schedule": ("考试安排", "Exam schedule"),
    "cut_here": ("沿此线裁开", "cut here"),
    # door list
    "door_title": ("考场门贴", "Room Door List"),
    "door_room": ("第 {room} 考场", "Room {room}"),
    "door_count": ("本考场考生 {n} 人", "{n} candidates in this room"),
    "continued": ("（续）", " (continued)"),
    # sign-in
    "signin_title": ("考生签到表", "Candidate Sign-in Sheet"),
    "signin_footer": (
        "应到 {n} 人，实到 ____ 人，缺考 ____ 人。监考员签名：______________  ______________",
        "Expected {n}; present ____; absent ____. Invigilators: ______________  ______________",
    ),
    # seat labels
    "label_title": ("桌贴", "Seat Label"),
    # seating chart
    "chart_title": ("考场座位表", "Room Seating Chart"),
    "chart_variants": ("试卷版本依次为：{subjects}", "Variants in order: {subjects}"),
    # room record
    "record_title": ("考场情况记录", "Room Record"),
    "expected": ("应考人数", "Expected"),
    "present": ("实考人数", "Present"),
    "absent_count": ("缺考人数", "Absent"),
    "absences": ("一、缺考考生", "1. Absent candidates"),
    "violations": ("二、违纪情况", "2. Rule violations"),
    "extra_time": ("三、延时记录", "3. Extra time"),
    "seat_changes": ("四、座位调换", "4. Seat changes"),
    "pauses": ("五、暂停记录", "5. Pauses"),
    "notes": ("六、其他情况", "6. Other events"),
    "at": ("时刻", "Time"),
    "description": ("情况", "What happened"),
    "action": ("处理", "Action"),
    "recorded_by": ("记录人", "Recorded by"),
    "granted_by": ("批准人", "Granted by"),
    "reason": ("原因", "Reason"),
    "minutes_h": ("延时（分钟）", "Minutes"),
    "from_seat": ("原座号", "From seat"),
    "to_seat": ("新座号", "To seat"),
    "from_to": ("起止", "From - to"),
    "invigilators_sign": (
        "监考员签名：______________  ______________      主考签名：______________",
        "Invigilators: ______________  ______________      Chief examiner: ______________",
    ),
    "invigilators": ("监考员", "Invigilators"),
    # score report
    "score_title": ("成绩单", "Score Report"),
    "score": ("成绩", "Score"),
    "subject_line": ("单科合格线", "Subject pass line"),
    "total_line": ("总成绩合格线", "Total pass line"),
    "reached": ("是否达线", "Reached"),
    "total": ("总成绩", "Total"),
    "total_mean": ("总成绩（各科平均）", "Total (mean of subjects)"),
    "result": ("考核结果", "Result"),
    "passed": ("合格", "Pass"),
    "failed": ("不合格", "Fail"),
    "pending": ("待定", "Pending"),
    "yes": ("达线", "Yes"),
    "no": ("未达线", "No"),
    "status_absent": ("缺考", "Absent"),
    "status_voided": ("违纪（成绩无效）", "Violation (voided)"),
    "status_missing": ("成绩未出", "Not yet scored"),
    "verdict_line": ("合格/不合格", "pass/fail"),
    "no_line": ("—", "—"),
    "no_total_line": ("不设总成绩合格线", "no total line"),
    "rule_part": ("{subject}不低于 {line} 分", "{subject} at least {line}"),
    "rule_part_verdict": ("{subject}评定为合格", "{subject} passed"),
    "rule_parts_join": ("，", "; "),
    "rule_total": ("，且总成绩不低于 {total} 分", "; and the total at least {total}"),
    "rule_total_mean": (
        "，且各科平均成绩不低于 {total} 分",
        "; and the mean of the scored subjects at least {total}",
    ),
    "rule_sentence": (
        "合格标准：{rules}；缺考或违纪的科目不计成绩。",
        "Pass: {rules}. An absent or voided subject scores nothing.",
    ),
    "results_website": ("考评结果查询网站：{website}", "Results online: {website}"),
    "issued": ("出具日期：{date}", "Issued: {date}"),
}

#: The standard 应考人员须知, used where the plan gives none of its own. ``{entry}``,
#: ``{late}`` and ``{submit}`` are the candidate's sitting windows (a plan file that does
#: not give them prints a figure-free word instead); a line naming ``{website}`` is
#: printed only when the province has set its results website.
INSTRUCTIONS: dict[str, tuple[str, ...]] = {
    "zh_CN": (
        "领取准考证后，应认真核对姓名、身份证号、申报工种、申报等级等信息，发现错误的，务必在考前与发证机关联系。",
        "考生须凭准考证和有效身份证件，于开考前{entry}起进入考场，经监考员核验照片后对号入座，两证不齐者不得入场。",
        "开考{late}后不得入场；开考{submit}后方可交卷离场。考试结束时间到，系统自动交卷。",
        "登录时输入准考证号和身份证号；座位以本准考证所列考场、座号为准，各科目座位不变。",
        "除规定文具外，手机、智能手表等电子设备及书籍资料一律不得带入座位，须关机后放在指定位置。",
        "考试中不得交头接耳、窥视他人屏幕、操作与考试无关的程序；违者按违纪处理，该科成绩无效。",
        "计算机出现故障时举手示意，由监考员处理，不得自行重启或离开座位；因故障耽误的时间予以补足。",
        "考评结果查询网站：{website}。",
    ),
    "en": (
        "Check your name, ID number, trade and level on this ticket; if anything is wrong, "
        "contact the issuing office before the exam.",
        "Bring this ticket and your ID card; the room opens {entry} before the start. Take "
        "your seat after the invigilator has checked your photo.",
        "No entry later than {late} after the start; you may submit from {submit} after the "
        "start. At the end time the system submits for you.",
        "Log in with your ticket number and ID number. Your room and seat are the same for "
        "every subject.",
        "Phones, smart watches and other devices, books and notes stay switched off in the "
        "place the invigilators show you.",
        "Talking, looking at another screen or running other programs is a violation: that "
        "subject's score is void.",
        "If your computer fails, raise your hand; do not restart it or leave. Time lost is "
        "given back.",
        "Results online: {website}.",
    ),
}

#: what a window placeholder says when the plan file gives no windows
NO_FIGURE = {"zh_CN": "规定时间", "en": "the set time"}


def fill_instructions(
    lines: tuple[str, ...] | list[str],
    lang: str,
    *,
    windows_s: tuple[int, int, int] | None,
    website: str,
) -> list[str]:
    """The 须知 with the sitting's windows and the province's website filled in; a line
    naming the website is dropped when none is set, and the website is added as a last
    line when the province set one and its lines do not name it."""
    values: dict[str, str] = {"website": website}
    for key, seconds in zip(
        ("entry", "late", "submit"), windows_s or (None, None, None), strict=True
    ):
        if seconds is None:
            values[key] = NO_FIGURE[lang]
        elif seconds % 60 == 0:
            values[key] = t("minutes", lang, n=seconds // 60)
        else:
            values[key] = f"{seconds} 秒" if lang != "en" else f"{seconds} s"
    out = []
    for line in lines:
        if "{website}" in line and not website:
            continue
        # only our placeholders: a province's text may hold braces of its own
        out.append(_PLACEHOLDER.sub(lambda m: values[m.group(1)], line))
    if website and not any("{website}" in line for line in lines):
        out.append(INSTRUCTIONS[lang][-1].replace("{website}", website))
    return out


_PLACEHOLDER = re.compile(r"\{(entry|late|submit|website)\}")


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: use zh_CN or en")
    return lang


def t(key: str, lang: str = "zh_CN", **kw: object) -> str:
    zh, en = TEXT[key]
    s = en if lang == "en" and en else zh
    return s.format(**kw) if kw else s


def gender_name(g: Gender, lang: str = "zh_CN") -> str:
    return t("male" if g is Gender.MALE else "female", lang)


def level_text(level: int, lang: str = "zh_CN") -> str:
    return level_name(level, lang)


#: the time zone documents print times in: China's unless a centre configured its own
#: (:func:`printing_in` around the printing)
_ZONE: ContextVar[tzinfo] = ContextVar("seating_time_zone", default=CHINA_TZ)


@contextmanager
def printing_in(zone: tzinfo) -> Iterator[None]:
    """Print times in ``zone`` inside the block (the centre's configured time zone)."""
    token = _ZONE.set(zone)
    try:
        yield
    finally:
        _ZONE.reset(token)


def local(dt: datetime) -> datetime:
    """``dt`` in the printing time zone (a naive time is taken to be in it already)."""
    zone = _ZONE.get()
    return dt.replace(tzinfo=zone) if dt.tzinfo is None else dt.astimezone(zone)


def fmt_date(dt: datetime, lang: str = "zh_CN") -> str:
    d = local(dt)
    return d.strftime("%Y-%m-%d") if lang == "en" else f"{d.year}年{d.month}月{d.day}日"


def fmt_span(start: datetime, end: datetime) -> str:
    """``09:00-10:00`` in China time."""
    return f"{local(start):%H:%M}-{local(end):%H:%M}"


def fmt_time(dt: datetime) -> str:
    return f"{local(dt):%H:%M}"
