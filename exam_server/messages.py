"""What a refusal says to a person, by code, in Chinese first and English.

Codes are the machine-readable part (the protocol's ``ErrorReply.code``); these texts are
what a candidate or an invigilator reads, and each says what to do next.

A refusal about a time window says the sitting's own window (its ``params``: a
``timedelta`` is written as minutes or seconds, a ``datetime`` in the centre's time zone), never a
fixed "30 分钟": a plan sets the windows, and the demo's quick mode scales them. Without
the params (a caller that has no sitting at hand) the text names no figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo

from exam_common.i18n import N_, Text

#: texts that name a sitting's window, used when the refusal carries its params
WITH_PARAMS: dict[str, Text] = {
    "entry_not_open": N_(
        "refusal-with-figures", "尚未到登录时间：开考前 {entry}方可登录（{at} 起），请稍候。"
    ),
    "late_entry_closed": N_(
        "refusal-with-figures", "开考已超过 {late}，不能再首次登录。请联系监考老师。"
    ),
    "submit_too_early": N_("refusal-with-figures", "开考 {submit}后方可交卷（{at} 起）。"),
    "bad_ticket": N_("refusal-with-figures", "准考证号有误：{why}"),
}

MESSAGES: dict[str, Text] = {
    "entry_not_open": N_("refusal", "尚未到登录时间，请稍候。"),
    "late_entry_closed": N_("refusal", "开考已超过规定时间，不能再首次登录。请联系监考老师。"),
    "submit_too_early": N_("refusal", "还未到可以交卷的时间。"),
    "bad_ticket": N_("refusal", "准考证号有误，请对照准考证重新输入。"),
    "attempt_submitted": N_("refusal", "本科目已交卷，不能再作答。"),
    "attempt_absent": N_("refusal", "该考生本科目已记为缺考。"),
    "attempt_voided": N_("refusal", "该考生本科目成绩已作废（违纪）。"),
    "attempt_paused": N_("refusal", "考试已暂停，计时停止；恢复后答案会自动保存。"),
    "not_started": N_("refusal", "尚未开考，试卷开考后才能作答。"),
    "deadline_passed": N_("refusal", "考试时间已到。"),
    "illegal_transition": N_("refusal", "当前状态下不能执行该操作。"),
    "not_your_attempt": N_("refusal", "该请求不属于当前登录的考生。"),
    "login_locked": N_(
        "refusal",
        "该准考证号登录错误次数过多，已暂停登录。请举手，由监考老师核对身份后在监控台解锁。",
    ),
    "terminal_locked": N_(
        "refusal", "本机登录错误次数过多，已暂停登录。请举手，由监考老师在监控台解锁本机。"
    ),
    "not_enrolled": N_(
        "refusal",
        "本机尚未绑定考场座位（或绑定已撤销）。请联系考点管理员用绑定码绑定本机：exam-client enrol。",
    ),
    "bad_proof": N_(
        "refusal", "本机未能证明其绑定身份（密钥不符）。请联系考点管理员重新绑定本机。"
    ),
    "enrol_code_invalid": N_(
        "refusal", "绑定码不正确。请核对后重新输入，或请管理员在监控台重新生成。"
    ),
    "enrol_code_used": N_(
        "refusal", "该绑定码已被使用过（每个绑定码只能用一次）。请管理员为本座位重新生成绑定码。"
    ),
    "enrol_code_expired": N_("refusal", "该绑定码已过期。请管理员为本座位重新生成绑定码。"),
    "enrol_throttled": N_("refusal", "绑定码错误次数过多，请稍后再试。"),
    "bad_enrolment": N_("refusal", "绑定请求格式错误或签名不符。请使用 exam-client enrol 绑定。"),
    "centre_not_set_up": N_(
        "refusal",
        "考点尚未完成设置（没有省中心公钥），暂不能绑定终端：请先运行 exam-sync setup 或导入考试包。",
    ),
    "no_such_seat": N_("refusal", "没有这个座位。"),
    "no_tls": N_("refusal", "本服务器以明文 HTTP 运行，没有证书。"),
    "no_such_enrolment": N_("refusal", "没有这个终端绑定（或已撤销）。"),
    "no_such_lock": N_("refusal", "没有这个登录锁定（或已解锁）。"),
    "bad_field": N_("refusal", "提交的数据有误："),
    "not_found": N_("refusal", "没有这个页面或对象。"),
    "too_large": N_("refusal", "请求过大，已拒绝。"),
    "bad_credentials": N_("refusal", "准考证号或身份证号不正确，请核对后重新输入。"),
    "no_open_sitting": N_("refusal", "当前没有您可以参加的考试场次。请核对准考证上的时间。"),
    "not_in_sitting": N_(
        "refusal", "您没有这个场次的考试。请核对准考证上的科目和时间，或联系监考老师。"
    ),
    "seat_required": N_("refusal", "本终端尚未绑定座位，请联系监考老师。"),
    "wrong_seat": N_("refusal", "请到准考证上的考场和座位登录；换座须经监考老师批准。"),
    "relogin_required": N_("refusal", "您已在其他终端登录。如需换机，请联系监考老师授权。"),
    "resume_wrong_sitting": N_(
        "refusal", "自动续登的场次与本次登录的场次不符，请重新输入身份证号登录。"
    ),
    "not_logged_in": N_("refusal", "请先登录。"),
    "unknown_item": N_("refusal", "试卷中没有这道题。"),
    "seq_conflict": N_("refusal", "同一序号收到了不同的答案，已拒收。请重启考试客户端。"),
    "answers_pending": N_("refusal", "还有答案正在保存，请稍候再交卷。"),
    "protocol_mismatch": N_(
        "refusal", "考试客户端版本与服务器不匹配，请联系考点管理员更新客户端。"
    ),
    "bad_message": N_("refusal", "收到格式错误的消息。"),
    "server_busy": N_("refusal", "服务器繁忙，答案会自动重发。"),
    "server_error": N_(
        "refusal", "服务器无法保存这条答案（服务器故障）。答案已保存在本机，请举手告知监考老师。"
    ),
    "key_not_released": N_("refusal", "试卷密钥尚未下达。"),
    "key_too_early": N_(
        "refusal", "还没到下达密钥的时间：试卷密钥在开考时、答案密钥在考试结束时才能录入。"
    ),
    "wrong_key": N_("refusal", "密钥不对：它打不开本场次的试卷。请核对场次代码和离线密钥码。"),
    "unknown_sitting": N_("refusal", "本考点没有这个场次。"),
    "local_only": N_("refusal", "只接受本机同步工具的请求。"),
    "no_photo": N_("refusal", "该考生没有登记照片。"),
    # --- proctoring console (accounts, access, actions) ---
    "bad_login": N_("refusal", "用户名或密码不正确。"),
    "login_throttled": N_(
        "refusal", "登录失败次数过多，请稍后再试（时间见下）。如忘记密码，请联系考点管理员。"
    ),
    "weak_password": N_("refusal", "密码至少 8 位。"),
    "common_password": N_(
        "refusal",
        "密码太常见或太容易猜到，请换一个更长、不常见的密码（例如几个不相关的词加数字）。",
    ),
    "bad_username": N_("refusal", "用户名只能用小写字母、数字、点、横线和下划线。"),
    "user_exists": N_("refusal", "该用户名已存在。"),
    "no_such_user": N_("refusal", "没有这个用户。"),
    "not_invigilator": N_("refusal", "只有监考账户可以分配考场。"),
    "login_required": N_("refusal", "请先登录监控台。"),
    "forbidden_role": N_("refusal", "您的角色无权访问此页面或操作。"),
    "not_your_room": N_("refusal", "您只能查看和处理分配给您的考场。"),
    "reason_required": N_("refusal", "请填写原因。"),
    "reason_too_long": N_("refusal", "原因过长（最多 500 字）。"),
    "bad_extra_time": N_("refusal", "延长时间须为 1 至 120 分钟。"),
    "bad_number": N_("refusal", "请填写数字。"),
    "already_logged_in": N_("refusal", "该考生已登录，无需准予迟到入场。"),
    "candidate_present": N_("refusal", "该考生已登录，不能记为缺考。"),
    "already_paused": N_("refusal", "已处于暂停状态。"),
    "not_paused": N_("refusal", "当前没有暂停。"),
    "sitting_closed": N_("refusal", "本场考试已结束。"),
    "no_such_sitting": N_("refusal", "没有这个场次或考场。"),
    "no_such_attempt": N_("refusal", "没有这名考生的本场记录。"),
    "no_such_gap": N_("refusal", "没有这条失联记录。"),
    "gap_decided": N_("refusal", "这条失联记录已处理。"),
    "message_required": N_("refusal", "请填写通知内容。"),
    "message_too_long": N_("refusal", "通知过长（最多 200 字）。"),
    "unknown_action": N_("refusal", "没有这个操作。"),
    "no_client_js": N_("refusal", "缺少 socket.io-client：请在项目目录运行 npm install。"),
    "csrf_failed": N_("refusal", "页面已过期或请求来源不明，请刷新页面后重试。"),
}


def duration(span: timedelta, lang: str = "zh_CN") -> str:
    """``30 分钟`` / ``30 minutes``; ``90 秒`` / ``90 seconds`` when not whole minutes."""
    seconds = round(span.total_seconds())
    if seconds % 60 == 0:
        n = seconds // 60
        return f"{n} minutes" if lang == "en" else f"{n} 分钟"
    return f"{seconds} seconds" if lang == "en" else f"{seconds} 秒"


def _param(value: object, lang: str, tz: tzinfo | None) -> str:
    if isinstance(value, timedelta):
        return duration(value, lang)
    if isinstance(value, datetime):
        if tz is None:
            raise ValueError("a time in a message needs the centre's time zone (tz)")
        return value.astimezone(tz).strftime("%H:%M")
    if isinstance(value, Text):
        return value.in_(lang)
    if isinstance(value, tuple) and len(value) == 2:  # (Chinese, English)
        return str(value[1] if lang == "en" else value[0])
    return str(value)


#: a refusal whose code has no text of its own
REFUSED = N_("refusal", "操作被拒绝（{code}）。")


def message(
    code: str,
    lang: str = "zh_CN",
    params: Mapping[str, object] | None = None,
    tz: tzinfo | None = None,
) -> str:
    """The text of a refusal; with ``params`` (a sitting's windows, a reason) the text that
    names them, its times in ``tz`` (the centre's configured time zone)."""
    if params and code in WITH_PARAMS:
        try:
            return WITH_PARAMS[code].in_(
                lang, **{k: _param(v, lang, tz) for k, v in params.items()}
            )
        except KeyError:
            pass  # a param the text needs is missing: say it without figures
    text = MESSAGES.get(code)
    return REFUSED.in_(lang, code=code) if text is None else text.in_(lang)
