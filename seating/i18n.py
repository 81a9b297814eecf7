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

from exam_common.i18n import LANGS as LANGS
from exam_common.i18n import N_, Text
from exam_common.i18n import check_lang as check_lang
from seating.model import CHINA_TZ, Gender, level_name

TEXT: dict[str, Text] = {
    # common
    "name": N_("documents", "姓名"),
    "gender": N_("documents", "性别"),
    "id_number": N_("documents", "身份证号"),
    "ticket": N_("documents", "准考证号"),
    "employer": N_("documents", "工作单位"),
    "trade": N_("documents", "工种"),
    "level": N_("documents", "等级"),
    "trade_level": N_("documents", "报考工种及等级"),
    "centre": N_("documents", "考点"),
    "centre_code": N_("documents", "考点代码"),
    "address": N_("documents", "考点地址"),
    "room": N_("documents", "考场"),
    "room_code": N_("documents", "考场号"),
    "room_name": N_("documents", "考场名称"),
    "location": N_("documents", "考场位置"),
    "seat": N_("documents", "座号"),
    "subject": N_("documents", "科目"),
    "sitting": N_("documents", "场次"),
    "date": N_("documents", "日期"),
    "time": N_("documents", "时间"),
    "variant": N_("documents", "试卷版本"),
    "photo": N_("documents", "照片"),
    "signature": N_("documents", "签名"),
    "remarks": N_("documents", "备注"),
    "page": N_("documents", "第 {n} 页"),
    "male": N_("documents", "男"),
    "female": N_("documents", "女"),
    "none": N_("documents", "无"),
    "count": N_("documents", "人数"),
    "spare": N_("documents", "备用座位"),
    "spare_short": N_("documents", "备用"),
    "blocked": N_("documents", "停用"),
    "empty": N_("documents", "空"),
    "front": N_("documents", "讲台（前）"),
    "default_title": N_("documents", "{year}年度工勤技能岗位等级考核"),
    "minutes": N_("documents", "{n} 分钟"),
    "age": N_("documents", "年龄"),
    "applied_trade": N_("documents", "申报工种"),
    "applied_level": N_("documents", "申报等级"),
    "venue": N_("documents", "考核地点"),
    "issuer": N_("documents", "主办单位：{issuer}"),
    # admission ticket
    "admission": N_("documents", "准考证"),
    "instructions": N_("documents", "应考人员须知"),
    "schedule": N_("documents", "考试安排"),
    "cut_here": N_("documents", "沿此线裁开"),
    # door list
    "door_title": N_("documents", "考场门贴"),
    "door_room": N_("documents", "第 {room} 考场"),
    "door_count": N_("documents", "本考场考生 {n} 人"),
    "continued": N_("documents", "（续）"),
    # sign-in
    "signin_title": N_("documents", "考生签到表"),
    "signin_footer": N_(
        "documents",
        "应到 {n} 人，实到 ____ 人，缺考 ____ 人。监考员签名：______________  ______________",
    ),
    # seat labels
    "label_title": N_("documents", "桌贴"),
    # seating chart
    "chart_title": N_("documents", "考场座位表"),
    "chart_variants": N_("documents", "试卷版本依次为：{subjects}"),
    # room record
    "record_title": N_("documents", "考场情况记录"),
    "expected": N_("documents", "应考人数"),
    "present": N_("documents", "实考人数"),
    "absent_count": N_("documents", "缺考人数"),
    "absences": N_("documents", "一、缺考考生"),
    "violations": N_("documents", "二、违纪情况"),
    "extra_time": N_("documents", "三、延时记录"),
    "seat_changes": N_("documents", "四、座位调换"),
    "pauses": N_("documents", "五、暂停记录"),
    "notes": N_("documents", "六、其他情况"),
    "at": N_("documents", "时刻"),
    "description": N_("documents", "情况"),
    "action": N_("documents", "处理"),
    "recorded_by": N_("documents", "记录人"),
    "granted_by": N_("documents", "批准人"),
    "reason": N_("documents", "原因"),
    "minutes_h": N_("documents", "延时（分钟）"),
    "from_seat": N_("documents", "原座号"),
    "to_seat": N_("documents", "新座号"),
    "from_to": N_("documents", "起止"),
    "invigilators_sign": N_(
        "documents", "监考员签名：______________  ______________      主考签名：______________"
    ),
    "invigilators": N_("documents", "监考员"),
    # score report
    "score_title": N_("documents", "成绩单"),
    "score": N_("documents", "成绩"),
    "subject_line": N_("documents", "单科合格线"),
    "total_line": N_("documents", "总成绩合格线"),
    "reached": N_("documents", "是否达线"),
    "total": N_("documents", "总成绩"),
    "total_mean": N_("documents", "总成绩（各科平均）"),
    "result": N_("documents", "考核结果"),
    "passed": N_("documents", "合格"),
    "failed": N_("documents", "不合格"),
    "pending": N_("documents", "待定"),
    "yes": N_("documents", "达线"),
    "no": N_("documents", "未达线"),
    "status_absent": N_("documents", "缺考"),
    "status_voided": N_("documents", "违纪（成绩无效）"),
    "status_missing": N_("documents", "成绩未出"),
    "verdict_line": N_("documents", "合格/不合格"),
    "no_line": N_("documents", "—"),
    "no_total_line": N_("documents", "不设总成绩合格线"),
    "rule_part": N_("documents", "{subject}不低于 {line} 分"),
    "rule_part_verdict": N_("documents", "{subject}评定为合格"),
    "rule_parts_join": N_("documents", "，"),
    "rule_total": N_("documents", "，且总成绩不低于 {total} 分"),
    "rule_total_mean": N_("documents", "，且各科平均成绩不低于 {total} 分"),
    "rule_sentence": N_("documents", "合格标准：{rules}；缺考或违纪的科目不计成绩。"),
    "results_website": N_("documents", "考评结果查询网站：{website}"),
    "issued": N_("documents", "出具日期：{date}"),
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


def t(key: str, lang: str = "zh_CN", **kw: object) -> str:
    return TEXT[key].in_(lang, **kw)


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
