"""What the candidate's screen says: Chinese first (``zh_CN``), English (``en``).

The texts are marked for the catalogues (:mod:`exam_common.i18n`); the page gets both
languages at once from ``/i18n.js`` (:func:`page_script`), so it switches without asking
the agent again. ``{name}`` fields are filled in by the page.
"""

from __future__ import annotations

import json
from typing import Any

from exam_common.i18n import N_, Text

#: the page's words, by key
PAGE: dict[str, Text] = {
    "brand": N_("terminal", "工勤技能岗位等级考核 · 机考系统"),
    "time_left": N_("terminal", "剩余时间"),
    "seat": N_("terminal", "座位"),
    "login_title": N_("terminal", "考生登录"),
    "ticket": N_("terminal", "准考证号"),
    "id_number": N_("terminal", "身份证号"),
    "login": N_("terminal", "登录"),
    "confirm_title": N_("terminal", "请核对考生信息"),
    "name": N_("terminal", "姓名"),
    "trade": N_("terminal", "工种"),
    "level": N_("terminal", "等级"),
    "subject": N_("terminal", "科目"),
    "exam_time": N_("terminal", "考试时间"),
    "info_wrong": N_("terminal", "信息有误"),
    "info_ok": N_("terminal", "信息无误，确认"),
    "info_wrong_help": N_("terminal", "如信息有误，请举手示意监考老师，不要继续作答。"),
    "rules_title": N_("terminal", "应考人员须知"),
    "to_start": N_("terminal", "距开考还有"),
    "prev": N_("terminal", "上一题"),
    "next": N_("terminal", "下一题"),
    "keys_help": N_(
        "terminal",
        "快捷键：A–H 选择选项，T / F 判断正确 / 错误，← → 上一题 / 下一题，F 标记（判断题及有 F 选项的题用 Shift+F）",
    ),
    "grid": N_("terminal", "答题卡"),
    "answered": N_("terminal", "已答"),
    "unanswered": N_("terminal", "未答"),
    "flagged": N_("terminal", "标记"),
    "submit": N_("terminal", "交卷"),
    "submitted_title": N_("terminal", "已交卷"),
    "receipt_label": N_("terminal", "交卷回执码（请记下）："),
    "finish": N_("terminal", "完成（监考老师操作）"),
    "closed_title": N_("terminal", "本终端已停止作答"),
    "raise_hand": N_("terminal", "请举手示意监考老师。"),
    "back_to_login": N_("terminal", "返回登录"),
    "error_title": N_("terminal", "无法使用考试系统"),
    "ok": N_("terminal", "知道了"),
    "submit_confirm_title": N_("terminal", "确认交卷"),
    "cancel": N_("terminal", "继续作答"),
    "submit_confirm": N_("terminal.submit_confirm", "确认交卷"),
    "lang_button": N_("terminal", "English"),
    "online": N_("terminal", "● 已连接"),
    "offline": N_("terminal", "● 网络中断：答案已保存在本机，恢复后自动上传"),
    "offline_idle": N_("terminal", "● 暂时无法连接考点服务器，正在自动重连；如持续出现请举手"),
    "agent_down": N_("terminal", "● 考试程序无响应，请举手"),
    "pending": N_("terminal", "（待上传 {n} 条）"),
    "flag": N_("terminal", "标记本题"),
    "unflag": N_("terminal", "取消标记"),
    "stall": N_(
        "terminal",
        "有 {n} 条答案已超过 {m} 分钟未能保存到考点服务器（{reason}）。答案已保存在本机，请举手告知监考老师。",
    ),
    "stall_no_reply": N_("terminal", "考点服务器没有回复"),
    "single": N_("terminal", "单选题"),
    "multiple": N_("terminal", "多选题"),
    "true_false": N_("terminal", "判断题"),
    "points": N_("terminal", "{p} 分"),
    "q_of": N_("terminal", "第 {n} 题 / 共 {total} 题"),
    "progress": N_("terminal", "{a}/{total} 已答"),
    "tf_true": N_("terminal", "正确"),
    "tf_false": N_("terminal", "错误"),
    "submit_opens": N_("terminal", "{time} 后可交卷（还需 {left}）"),
    "submit_open": N_("terminal", "现在可以交卷"),
    "modal_all": N_("terminal", "全部 {total} 题均已作答。交卷后不能再修改答案。"),
    "modal_some": N_("terminal", "还有 {n} 题未作答。交卷后不能再修改答案。"),
    "modal_list": N_("terminal", "未答题号：{list}"),
    "modal_flagged": N_("terminal", "有 {n} 题标记了待检查。"),
    "reason_candidate": N_("terminal", "您已交卷，答案已全部保存到考点服务器。"),
    "reason_deadline": N_("terminal", "考试时间到，系统已自动交卷。已作答的答案全部保存。"),
    "reason_invigilator": N_("terminal", "监考老师已为您交卷。"),
    "reason_server": N_("terminal", "本科目已交卷。"),
    "submitted_at": N_("terminal", "交卷时间：{time}"),
    "warn": N_("terminal", "距考试结束还有 {left}，请注意时间。"),
    "minutes": N_("terminal", "{n} 分钟"),
    "seconds": N_("terminal", "{n} 秒"),
    "time_up_title": N_("terminal", "考试时间到"),
    "time_up": N_("terminal", "正在交卷，请不要离开座位。"),
    "time_up_offline": N_(
        "terminal", "网络恢复后将自动完成交卷，答案已保存在本机。请不要离开座位。"
    ),
    "paused_title": N_("terminal", "考试暂停"),
    "paused": N_("terminal", "计时已停止，请等待监考老师的通知。"),
    "message_from": N_("terminal", "{sender}通知：{text}"),
    "sender_主考": N_("terminal", "主考"),
    "sender_监考": N_("terminal", "监考老师"),
    "started_no_paper": N_("terminal", "已开考，正在打开试卷……"),
    "waiting_key": N_("terminal", "等待试卷密钥下达，计时暂未开始。"),
    "wait_note": N_("terminal", "开考时试卷将自动打开。"),
    "refused_item": N_("terminal", "第 {n} 题的一次修改未被接受：{msg}"),
}

#: ``level_names``, by key
LEVEL_NAMES: dict[str, Text] = {
    "1": N_("terminal-level_names", "一级"),
    "2": N_("terminal-level_names", "二级"),
    "3": N_("terminal-level_names", "三级"),
    "4": N_("terminal-level_names", "四级"),
    "5": N_("terminal-level_names", "五级"),
}

#: ``rules``, in order
RULES: list[Text] = [
    N_("terminal-rules", "考生凭准考证和有效身份证件参加考试，按准考证上的考场和座号就座。"),
    N_("terminal-rules", "开考前 {entry}可登录考试系统；登录后请核对本人信息，如有误立即举手。"),
    N_("terminal-rules", "开考时试卷自动打开；开考 {late}后不得入场，不能再首次登录。"),
    N_("terminal-rules", "开考 {submit}后方可交卷；考试结束时间到，系统自动交卷。"),
    N_(
        "terminal-rules",
        "每次作答都会立即保存。如遇网络中断可继续作答，答案保存在本机并在恢复后自动上传。",
    ),
    N_("terminal-rules", "如遇终端故障，请举手示意监考老师，不得自行重启计算机或更换座位。"),
    N_("terminal-rules", "考场内不得交头接耳，不得使用手机等通讯工具，不得操作与考试无关的程序。"),
    N_("terminal-rules", "交卷后请记下屏幕上的交卷回执码，并按监考老师指示离开考场。"),
]

#: ``codes``, by key
CODES: dict[str, Text] = {
    "offline": N_("terminal-codes", "暂时无法连接考点服务器，请稍候再试；如持续出现请举手。"),
    "answers_pending": N_("terminal-codes", "还有答案正在保存，请稍候再交卷。"),
    "submit_too_early": N_("terminal-codes", "开考 {submit}后方可交卷。"),
    "bad_credentials": N_("terminal-codes", "准考证号或身份证号不正确，请核对后重新输入。"),
    "entry_not_open": N_("terminal-codes", "尚未到登录时间：开考前 {entry}方可登录，请稍候。"),
    "late_entry_closed": N_(
        "terminal-codes", "开考已超过规定时间，不能再首次登录。请联系监考老师。"
    ),
    "wrong_seat": N_("terminal-codes", "请到准考证上的考场和座位登录；换座须经监考老师批准。"),
    "relogin_required": N_("terminal-codes", "您已在其他终端登录。如需换机，请联系监考老师授权。"),
    "resume_wrong_sitting": N_(
        "terminal-codes", "自动续登的场次与本次登录的场次不符，请重新输入身份证号登录。"
    ),
    "no_open_sitting": N_("terminal-codes", "当前没有您可以参加的考试场次。请核对准考证上的时间。"),
    "login_locked": N_(
        "terminal-codes",
        "该准考证号登录错误次数过多，已暂停登录。请举手，由监考老师核对身份后解锁。",
    ),
    "terminal_locked": N_(
        "terminal-codes", "本机登录错误次数过多，已暂停登录。请举手，由监考老师解锁本机。"
    ),
    "not_enrolled": N_(
        "terminal-codes", "本机尚未绑定考场座位（或绑定已撤销）。请举手示意监考老师。"
    ),
    "bad_proof": N_("terminal-codes", "本机未能证明其绑定身份。请举手示意监考老师。"),
    "paper_unverified": N_(
        "terminal-codes", "试卷未通过省中心签名验证，不能显示。请勿作答，立即举手报告监考老师。"
    ),
    "attempt_submitted": N_("terminal-codes", "本科目已交卷，不能再作答。"),
    "attempt_absent": N_("terminal-codes", "该考生本科目已记为缺考。"),
    "attempt_voided": N_("terminal-codes", "该考生本科目成绩已作废。"),
    "deadline_passed": N_("terminal-codes", "考试时间已到。"),
    "attempt_paused": N_("terminal-codes", "考试已暂停，计时停止。"),
    "not_started": N_("terminal-codes", "尚未开考，试卷开考后才能作答。"),
    "protocol_mismatch": N_(
        "terminal-codes", "考试客户端版本与服务器不匹配，请联系考点管理员更新客户端。"
    ),
    "seat_required": N_("terminal-codes", "本终端尚未绑定座位，请联系监考老师。"),
    "paper_error": N_("terminal-codes", "试卷无法打开，请举手。"),
    "id_format": N_("terminal-codes", "身份证号应为 18 位（最后一位可以是 X）。"),
    "chars": N_("terminal-codes", "准考证号只能包含{set}：第 {pos} 位是“{ch}”。"),
    "length": N_("terminal-codes", "准考证号应为 {want} 位，输入了 {n} 位。"),
    "set_digits": N_("terminal-codes", "数字"),
    "set_alnum": N_("terminal-codes", "数字和大写字母"),
    "want_range": N_("terminal-codes", "{lo} 至 {hi}"),
}


def page_texts(lang: str) -> dict[str, Any]:
    """Every word of the page in ``lang``, in the shape the page reads."""
    texts: dict[str, Any] = {key: text.in_(lang) for key, text in PAGE.items()}
    texts["level_names"] = {key: text.in_(lang) for key, text in LEVEL_NAMES.items()}
    texts["rules"] = [text.in_(lang) for text in RULES]
    texts["codes"] = {key: text.in_(lang) for key, text in CODES.items()}
    return texts


def page_script() -> str:
    """``/i18n.js``: the page's words in both languages, as the script ``app.js`` reads."""
    both = {"zh": page_texts("zh_CN"), "en": page_texts("en")}
    return f'"use strict";\nconst I18N = {json.dumps(both, ensure_ascii=False)};\n'
