"""What a refusal says to a person, by code, in Chinese first and English.

Codes are the machine-readable part (the protocol's ``ErrorReply.code``); these texts are
what a candidate or an invigilator reads, and each says what to do next.

A refusal about a time window says the sitting's own window (its ``params``: a
``timedelta`` is written as minutes or seconds, a ``datetime`` as Beijing time), never a
fixed "30 分钟": a plan sets the windows, and the demo's quick mode scales them. Without
the params (a caller that has no sitting at hand) the text names no figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

#: texts that name a sitting's window, used when the refusal carries its params
WITH_PARAMS: dict[str, tuple[str, str]] = {
    "entry_not_open": (
        "尚未到登录时间：开考前 {entry}方可登录（{at} 起），请稍候。",
        "Login is not open yet: it opens {entry} before the start (at {at}). Please wait.",
    ),
    "late_entry_closed": (
        "开考已超过 {late}，不能再首次登录。请联系监考老师。",
        "More than {late} have passed since the start: a first login is no longer possible. "
        "Please see the invigilator.",
    ),
    "submit_too_early": (
        "开考 {submit}后方可交卷（{at} 起）。",
        "You may submit only from {submit} after the start (from {at}).",
    ),
    "bad_ticket": ("准考证号有误：{why}", "The ticket number is wrong: {why}"),
}

MESSAGES: dict[str, tuple[str, str]] = {
    "entry_not_open": (
        "尚未到登录时间，请稍候。",
        "Login is not open yet. Please wait.",
    ),
    "late_entry_closed": (
        "开考已超过规定时间，不能再首次登录。请联系监考老师。",
        "The late-entry window has closed; a first login is no longer possible. Please see the invigilator.",
    ),
    "submit_too_early": (
        "还未到可以交卷的时间。",
        "It is too early to submit.",
    ),
    "bad_ticket": (
        "准考证号有误，请对照准考证重新输入。",
        "The ticket number is wrong; type it again from the admission ticket.",
    ),
    "attempt_submitted": (
        "本科目已交卷，不能再作答。",
        "This subject has been submitted; no further answers are accepted.",
    ),
    "attempt_absent": (
        "该考生本科目已记为缺考。",
        "This candidate is recorded absent for this subject.",
    ),
    "attempt_voided": ("该考生本科目成绩已作废（违纪）。", "This attempt was voided (violation)."),
    "attempt_paused": (
        "考试已暂停，计时停止；恢复后答案会自动保存。",
        "The exam is paused and the clock is stopped; answers are saved after it resumes.",
    ),
    "not_started": (
        "尚未开考，试卷开考后才能作答。",
        "The sitting has not started; the paper opens at the start.",
    ),
    "deadline_passed": ("考试时间已到。", "Time is up for this candidate."),
    "illegal_transition": (
        "当前状态下不能执行该操作。",
        "That action is not possible in the attempt's current state.",
    ),
    "not_your_attempt": (
        "该请求不属于当前登录的考生。",
        "This request is not for the candidate logged in on this terminal.",
    ),
    "login_locked": (
        "该准考证号登录错误次数过多，已暂停登录。请举手，由监考老师核对身份后在监控台解锁。",
        "Too many wrong ID numbers for this ticket: logins are stopped. Raise your hand: the "
        "invigilator checks your identity and unlocks it on the console.",
    ),
    "terminal_locked": (
        "本机登录错误次数过多，已暂停登录。请举手，由监考老师在监控台解锁本机。",
        "Too many wrong logins at this terminal: logins are stopped. Raise your hand: the "
        "invigilator unlocks this terminal on the console.",
    ),
    "not_enrolled": (
        "本机尚未绑定考场座位（或绑定已撤销）。请联系考点管理员用绑定码绑定本机：exam-client enrol。",
        "This terminal is not enrolled to a seat (or its enrolment was revoked). Ask the "
        "centre admin for an enrolment code: exam-client enrol.",
    ),
    "bad_proof": (
        "本机未能证明其绑定身份（密钥不符）。请联系考点管理员重新绑定本机。",
        "This terminal could not prove its enrolment (wrong key). Ask the centre admin to "
        "enrol it again.",
    ),
    "enrol_code_invalid": (
        "绑定码不正确。请核对后重新输入，或请管理员在监控台重新生成。",
        "The enrolment code is wrong. Check it, or ask the admin for a new one.",
    ),
    "enrol_code_used": (
        "该绑定码已被使用过（每个绑定码只能用一次）。请管理员为本座位重新生成绑定码。",
        "That enrolment code was already used (each works once). Ask the admin for a new one.",
    ),
    "enrol_code_expired": (
        "该绑定码已过期。请管理员为本座位重新生成绑定码。",
        "That enrolment code has expired. Ask the admin for a new one.",
    ),
    "enrol_throttled": (
        "绑定码错误次数过多，请稍后再试。",
        "Too many wrong enrolment codes from here: wait before trying again.",
    ),
    "bad_enrolment": (
        "绑定请求格式错误或签名不符。请使用 exam-client enrol 绑定。",
        "The enrolment request is malformed or its proof does not match: use exam-client enrol.",
    ),
    "centre_not_set_up": (
        "考点尚未完成设置（没有省中心公钥），暂不能绑定终端：请先运行 exam-sync setup 或导入考试包。",
        "The centre is not set up yet (no central public key): run exam-sync setup or import "
        "the package before enrolling terminals.",
    ),
    "no_such_seat": ("没有这个座位。", "No such seat."),
    "no_tls": (
        "本服务器以明文 HTTP 运行，没有证书。",
        "This server runs plain HTTP: it has no certificate.",
    ),
    "no_such_enrolment": (
        "没有这个终端绑定（或已撤销）。",
        "No such enrolment (or already revoked).",
    ),
    "no_such_lock": ("没有这个登录锁定（或已解锁）。", "No such login lock (or already unlocked)."),
    "bad_field": ("提交的数据有误：", "The data sent is wrong: "),
    "not_found": ("没有这个页面或对象。", "No such page or item."),
    "too_large": ("请求过大，已拒绝。", "The request is too large and was refused."),
    "bad_credentials": (
        "准考证号或身份证号不正确，请核对后重新输入。",
        "The ticket number or ID number is wrong; check both and try again.",
    ),
    "no_open_sitting": (
        "当前没有您可以参加的考试场次。请核对准考证上的时间。",
        "There is no sitting open for you now. Check the times on your admission ticket.",
    ),
    "not_in_sitting": (
        "您没有这个场次的考试。请核对准考证上的科目和时间，或联系监考老师。",
        "You are not seated in that sitting. Check the subjects and times on your ticket, or see the invigilator.",
    ),
    "seat_required": (
        "本终端尚未绑定座位，请联系监考老师。",
        "This terminal is not bound to a seat; please see the invigilator.",
    ),
    "wrong_seat": (
        "请到准考证上的考场和座位登录；换座须经监考老师批准。",
        "Log in at the room and seat on your ticket; a seat change needs the invigilator's approval.",
    ),
    "relogin_required": (
        "您已在其他终端登录。如需换机，请联系监考老师授权。",
        "You are logged in at another terminal. Ask the invigilator to authorise the move.",
    ),
    "resume_wrong_sitting": (
        "自动续登的场次与本次登录的场次不符，请重新输入身份证号登录。",
        "The automatic re-login named another sitting than the candidate's login; "
        "log in again with the ID number.",
    ),
    "not_logged_in": ("请先登录。", "Log in first."),
    "unknown_item": ("试卷中没有这道题。", "That item is not on this candidate's paper."),
    "seq_conflict": (
        "同一序号收到了不同的答案，已拒收。请重启考试客户端。",
        "A different answer arrived with the same sequence number; restart the exam client.",
    ),
    "answers_pending": (
        "还有答案正在保存，请稍候再交卷。",
        "Some answers are still being saved; submit again in a moment.",
    ),
    "protocol_mismatch": (
        "考试客户端版本与服务器不匹配，请联系考点管理员更新客户端。",
        "The exam client's version does not match the server's; ask the centre admin to update it.",
    ),
    "bad_message": ("收到格式错误的消息。", "A malformed message was received."),
    "server_busy": (
        "服务器繁忙，答案会自动重发。",
        "The server is busy; the answer will be re-sent.",
    ),
    "server_error": (
        "服务器无法保存这条答案（服务器故障）。答案已保存在本机，请举手告知监考老师。",
        "The server cannot store this answer (a server fault). It is kept on this computer; "
        "raise your hand and tell the invigilator.",
    ),
    "key_not_released": ("试卷密钥尚未下达。", "The paper key has not been released yet."),
    "key_too_early": (
        "还没到下达密钥的时间：试卷密钥在开考时、答案密钥在考试结束时才能录入。",
        "Too early for this key: the paper key is due at the start, the answer key at the end.",
    ),
    "wrong_key": (
        "密钥不对：它打不开本场次的试卷。请核对场次代码和离线密钥码。",
        "Wrong key: it does not open this sitting's papers. Check the sitting code and the code.",
    ),
    "unknown_sitting": ("本考点没有这个场次。", "This centre has no such sitting."),
    "local_only": (
        "只接受本机同步工具的请求。",
        "Only the sync tool on this machine may do this.",
    ),
    "no_photo": ("该考生没有登记照片。", "No photo is registered for this candidate."),
    # --- proctoring console (accounts, access, actions) ---
    "bad_login": ("用户名或密码不正确。", "The user name or password is wrong."),
    "login_throttled": (
        "登录失败次数过多，请稍后再试（时间见下）。如忘记密码，请联系考点管理员。",
        "Too many failed logins from here: wait before trying again (see below). If you "
        "forgot the password, ask the centre admin.",
    ),
    "weak_password": ("密码至少 8 位。", "A password needs at least 8 characters."),
    "common_password": (
        "密码太常见或太容易猜到，请换一个更长、不常见的密码（例如几个不相关的词加数字）。",
        "That password is common or easy to guess: choose a longer, uncommon one (e.g. a "
        "few unrelated words and a number).",
    ),
    "bad_username": (
        "用户名只能用小写字母、数字、点、横线和下划线。",
        "A user name may use lower-case letters, digits, '.', '-' and '_' only.",
    ),
    "user_exists": ("该用户名已存在。", "That user name exists already."),
    "no_such_user": ("没有这个用户。", "There is no such user."),
    "not_invigilator": (
        "只有监考账户可以分配考场。",
        "Only invigilator accounts are bound to rooms.",
    ),
    "login_required": ("请先登录监控台。", "Log in to the console first."),
    "forbidden_role": (
        "您的角色无权访问此页面或操作。",
        "Your role may not reach this page or action.",
    ),
    "not_your_room": (
        "您只能查看和处理分配给您的考场。",
        "You may see and act on your own room only.",
    ),
    "reason_required": ("请填写原因。", "A reason is required."),
    "reason_too_long": (
        "原因过长（最多 500 字）。",
        "The reason is too long (500 characters at most).",
    ),
    "bad_extra_time": ("延长时间须为 1 至 120 分钟。", "Extra time must be 1 to 120 minutes."),
    "bad_number": ("请填写数字。", "Enter a number."),
    "already_logged_in": (
        "该考生已登录，无需准予迟到入场。",
        "This candidate has logged in already; no late admission is needed.",
    ),
    "candidate_present": (
        "该考生已登录，不能记为缺考。",
        "This candidate has logged in and cannot be marked absent.",
    ),
    "already_paused": ("已处于暂停状态。", "The clock is already stopped."),
    "not_paused": ("当前没有暂停。", "Nothing is paused."),
    "sitting_closed": ("本场考试已结束。", "This sitting is over."),
    "no_such_sitting": ("没有这个场次或考场。", "There is no such sitting or room."),
    "no_such_attempt": ("没有这名考生的本场记录。", "There is no such candidate in this sitting."),
    "no_such_gap": ("没有这条失联记录。", "There is no such out-of-contact record."),
    "gap_decided": ("这条失联记录已处理。", "This out-of-contact record has been decided already."),
    "message_required": ("请填写通知内容。", "Write the message first."),
    "message_too_long": (
        "通知过长（最多 200 字）。",
        "The message is too long (200 characters at most).",
    ),
    "unknown_action": ("没有这个操作。", "There is no such action."),
    "no_client_js": (
        "缺少 socket.io-client：请在项目目录运行 npm install。",
        "socket.io-client is missing: run npm install in the project folder.",
    ),
    "csrf_failed": (
        "页面已过期或请求来源不明，请刷新页面后重试。",
        "The page has expired or the request's origin is unknown: reload the page and try again.",
    ),
}


BEIJING = timezone(timedelta(hours=8))


def duration(span: timedelta, lang: str = "zh_CN") -> str:
    """``30 分钟`` / ``30 minutes``; ``90 秒`` / ``90 seconds`` when not whole minutes."""
    seconds = round(span.total_seconds())
    if seconds % 60 == 0:
        n = seconds // 60
        return f"{n} minutes" if lang == "en" else f"{n} 分钟"
    return f"{seconds} seconds" if lang == "en" else f"{seconds} 秒"


def _param(value: object, lang: str) -> str:
    if isinstance(value, timedelta):
        return duration(value, lang)
    if isinstance(value, datetime):
        return value.astimezone(BEIJING).strftime("%H:%M")
    if isinstance(value, tuple) and len(value) == 2:  # (Chinese, English)
        return str(value[1] if lang == "en" else value[0])
    return str(value)


def message(code: str, lang: str = "zh_CN", params: Mapping[str, object] | None = None) -> str:
    """The text of a refusal; with ``params`` (a sitting's windows, a reason) the text that
    names them."""
    if params and code in WITH_PARAMS:
        zh, en = WITH_PARAMS[code]
        try:
            return (en if lang == "en" else zh).format(
                **{k: _param(v, lang) for k, v in params.items()}
            )
        except KeyError:
            pass  # a param the text needs is missing: say it without figures
    zh, en = MESSAGES.get(code, (f"操作被拒绝（{code}）。", f"Refused ({code})."))
    return en if lang == "en" else zh
