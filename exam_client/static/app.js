// The candidate's screen. Talks only to the agent on 127.0.0.1; exam time comes from the
// agent (the server's clock as the terminal keeps it), never from this PC's clock:
// between polls the countdown advances by performance.now(), which is monotonic.
"use strict";

const I18N = {
  zh: {
    brand: "工勤技能岗位等级考核 · 机考系统", time_left: "剩余时间", seat: "座位",
    login_title: "考生登录", ticket: "准考证号", id_number: "身份证号", login: "登录",
    confirm_title: "请核对考生信息", name: "姓名", trade: "工种", level: "等级", subject: "科目",
    exam_time: "考试时间", info_wrong: "信息有误", info_ok: "信息无误，确认",
    info_wrong_help: "如信息有误，请举手示意监考老师，不要继续作答。",
    rules_title: "应考人员须知", to_start: "距开考还有", prev: "上一题", next: "下一题",
    keys_help: "快捷键：A–H 选择选项，T / F 判断正确 / 错误，← → 上一题 / 下一题，F 标记（判断题及有 F 选项的题用 Shift+F）",
    grid: "答题卡", answered: "已答", unanswered: "未答", flagged: "标记", submit: "交卷",
    submitted_title: "已交卷", receipt_label: "交卷回执码（请记下）：", finish: "完成（监考老师操作）",
    closed_title: "本终端已停止作答", raise_hand: "请举手示意监考老师。", back_to_login: "返回登录",
    error_title: "无法使用考试系统", ok: "知道了", submit_confirm_title: "确认交卷",
    cancel: "继续作答", submit_confirm: "确认交卷", lang_button: "English",
    online: "● 已连接", offline: "● 网络中断：答案已保存在本机，恢复后自动上传",
    offline_idle: "● 暂时无法连接考点服务器，正在自动重连；如持续出现请举手", agent_down: "● 考试程序无响应，请举手",
    pending: "（待上传 {n} 条）", flag: "标记本题", unflag: "取消标记",
    stall: "有 {n} 条答案已超过 {m} 分钟未能保存到考点服务器（{reason}）。答案已保存在本机，请举手告知监考老师。",
    stall_no_reply: "考点服务器没有回复",
    single: "单选题", multiple: "多选题", true_false: "判断题", points: "{p} 分",
    q_of: "第 {n} 题 / 共 {total} 题", progress: "{a}/{total} 已答",
    tf_true: "正确", tf_false: "错误",
    submit_opens: "{time} 后可交卷（还需 {left}）", submit_open: "现在可以交卷",
    modal_all: "全部 {total} 题均已作答。交卷后不能再修改答案。",
    modal_some: "还有 {n} 题未作答。交卷后不能再修改答案。", modal_list: "未答题号：{list}",
    modal_flagged: "有 {n} 题标记了待检查。",
    reason_candidate: "您已交卷，答案已全部保存到考点服务器。",
    reason_deadline: "考试时间到，系统已自动交卷。已作答的答案全部保存。",
    reason_invigilator: "监考老师已为您交卷。", reason_server: "本科目已交卷。",
    submitted_at: "交卷时间：{time}",
    warn: "距考试结束还有 {left}，请注意时间。", minutes: "{n} 分钟", seconds: "{n} 秒",
    time_up_title: "考试时间到", time_up: "正在交卷，请不要离开座位。",
    time_up_offline: "网络恢复后将自动完成交卷，答案已保存在本机。请不要离开座位。",
    paused_title: "考试暂停", paused: "计时已停止，请等待监考老师的通知。",
    message_from: "{sender}通知：{text}", sender_主考: "主考", sender_监考: "监考老师",
    started_no_paper: "已开考，正在打开试卷……", waiting_key: "等待试卷密钥下达，计时暂未开始。",
    wait_note: "开考时试卷将自动打开。",
    refused_item: "第 {n} 题的一次修改未被接受：{msg}",
    level_names: { "1": "一级", "2": "二级", "3": "三级", "4": "四级", "5": "五级" },
    rules: [
      "考生凭准考证和有效身份证件参加考试，按准考证上的考场和座号就座。",
      "开考前 {entry}可登录考试系统；登录后请核对本人信息，如有误立即举手。",
      "开考时试卷自动打开；开考 {late}后不得入场，不能再首次登录。",
      "开考 {submit}后方可交卷；考试结束时间到，系统自动交卷。",
      "每次作答都会立即保存。如遇网络中断可继续作答，答案保存在本机并在恢复后自动上传。",
      "如遇终端故障，请举手示意监考老师，不得自行重启计算机或更换座位。",
      "考场内不得交头接耳，不得使用手机等通讯工具，不得操作与考试无关的程序。",
      "交卷后请记下屏幕上的交卷回执码，并按监考老师指示离开考场。",
    ],
    codes: {
      offline: "暂时无法连接考点服务器，请稍候再试；如持续出现请举手。",
      answers_pending: "还有答案正在保存，请稍候再交卷。",
      submit_too_early: "开考 {submit}后方可交卷。",
      bad_credentials: "准考证号或身份证号不正确，请核对后重新输入。",
      entry_not_open: "尚未到登录时间：开考前 {entry}方可登录，请稍候。",
      late_entry_closed: "开考已超过规定时间，不能再首次登录。请联系监考老师。",
      wrong_seat: "请到准考证上的考场和座位登录；换座须经监考老师批准。",
      relogin_required: "您已在其他终端登录。如需换机，请联系监考老师授权。",
      resume_wrong_sitting: "自动续登的场次与本次登录的场次不符，请重新输入身份证号登录。",
      no_open_sitting: "当前没有您可以参加的考试场次。请核对准考证上的时间。",
      login_locked: "该准考证号登录错误次数过多，已暂停登录。请举手，由监考老师核对身份后解锁。",
      terminal_locked: "本机登录错误次数过多，已暂停登录。请举手，由监考老师解锁本机。",
      not_enrolled: "本机尚未绑定考场座位（或绑定已撤销）。请举手示意监考老师。",
      bad_proof: "本机未能证明其绑定身份。请举手示意监考老师。",
      paper_unverified: "试卷未通过省中心签名验证，不能显示。请勿作答，立即举手报告监考老师。",
      attempt_submitted: "本科目已交卷，不能再作答。",
      attempt_absent: "该考生本科目已记为缺考。", attempt_voided: "该考生本科目成绩已作废。",
      deadline_passed: "考试时间已到。", attempt_paused: "考试已暂停，计时停止。",
      not_started: "尚未开考，试卷开考后才能作答。",
      protocol_mismatch: "考试客户端版本与服务器不匹配，请联系考点管理员更新客户端。",
      seat_required: "本终端尚未绑定座位，请联系监考老师。", paper_error: "试卷无法打开，请举手。",
      id_format: "身份证号应为 18 位（最后一位可以是 X）。",
      chars: "准考证号只能包含{set}：第 {pos} 位是“{ch}”。", length: "准考证号应为 {want} 位，输入了 {n} 位。",
      set_digits: "数字", set_alnum: "数字和大写字母", want_range: "{lo} 至 {hi}",
    },
  },
  en: {
    brand: "Skilled Worker Grading Exam · Computer-based test", time_left: "Time left", seat: "Seat",
    login_title: "Candidate login", ticket: "Admission ticket no.", id_number: "ID number", login: "Log in",
    confirm_title: "Check your details", name: "Name", trade: "Trade", level: "Level", subject: "Subject",
    exam_time: "Exam time", info_wrong: "Something is wrong", info_ok: "Correct, continue",
    info_wrong_help: "If anything is wrong, raise your hand for the invigilator and do not go on.",
    rules_title: "Rules for candidates", to_start: "Starts in", prev: "Previous", next: "Next",
    keys_help: "Keys: A–H choose an option, T / F true / false, ← → previous / next, F flag (Shift+F on true/false items and items with an option F)",
    grid: "Answer sheet", answered: "Answered", unanswered: "Unanswered", flagged: "Flagged", submit: "Submit",
    submitted_title: "Submitted", receipt_label: "Your receipt code (note it down):", finish: "Done (invigilator)",
    closed_title: "This terminal has stopped", raise_hand: "Please raise your hand for the invigilator.",
    back_to_login: "Back to login", error_title: "The exam system cannot be used", ok: "OK",
    submit_confirm_title: "Submit your paper?", cancel: "Keep answering", submit_confirm: "Submit",
    lang_button: "中文",
    online: "● Connected", offline: "● Network down: answers are kept on this PC and sent when it is back",
    offline_idle: "● The centre server cannot be reached; reconnecting. If this persists, raise your hand",
    agent_down: "● Exam program not responding: raise your hand",
    pending: " ({n} waiting to send)", flag: "Flag", unflag: "Unflag",
    stall: "{n} of your answers have not been stored on the centre server for over {m} min ({reason}). They are kept on this computer: raise your hand and tell the invigilator.",
    stall_no_reply: "the centre server does not reply",
    single: "Single choice", multiple: "Multiple choice", true_false: "True / false", points: "{p} points",
    q_of: "Question {n} of {total}", progress: "{a}/{total} answered",
    tf_true: "True", tf_false: "False",
    submit_opens: "Submission opens at {time} (in {left})", submit_open: "You may submit now",
    modal_all: "All {total} questions are answered. After submitting you cannot change anything.",
    modal_some: "{n} questions are unanswered. After submitting you cannot change anything.",
    modal_list: "Unanswered: {list}", modal_flagged: "{n} questions are flagged for review.",
    reason_candidate: "You have submitted; every answer is stored on the centre server.",
    reason_deadline: "Time is up: the system submitted your paper. Every answer you gave is stored.",
    reason_invigilator: "The invigilator submitted your paper.", reason_server: "This subject is submitted.",
    submitted_at: "Submitted at {time}",
    warn: "{left} left until the end.", minutes: "{n} minutes", seconds: "{n} seconds",
    time_up_title: "Time is up", time_up: "Submitting; please stay in your seat.",
    time_up_offline: "Submission completes when the network is back; your answers are kept on this PC. Please stay in your seat.",
    paused_title: "Exam paused", paused: "The clock is stopped; wait for the invigilator.",
    message_from: "Message from the {sender}: {text}", sender_主考: "chief examiner", sender_监考: "invigilator",
    started_no_paper: "The exam has started; opening the paper…",
    waiting_key: "Waiting for the paper key; the clock has not started.",
    wait_note: "The paper opens by itself at the start.",
    refused_item: "A change to question {n} was not accepted: {msg}",
    level_names: { "1": "Level 1", "2": "Level 2", "3": "Level 3", "4": "Level 4", "5": "Level 5" },
    rules: [
      "Bring your admission ticket and ID card; sit at the room and seat on your ticket.",
      "Login opens {entry} before the start; check your details and raise your hand if anything is wrong.",
      "The paper opens by itself at the start; {late} after the start no first login is accepted.",
      "You may submit from {submit} after the start; at the end the system submits for you.",
      "Every answer is saved at once. If the network goes down, keep answering: answers are kept on this PC and sent when it is back.",
      "If the terminal fails, raise your hand; do not restart the PC or change seats yourself.",
      "No talking, no phones or other devices, no programs other than the exam.",
      "After submitting, note down your receipt code and leave as the invigilator directs.",
    ],
    codes: {
      offline: "The centre server cannot be reached right now; try again shortly, or raise your hand.",
      answers_pending: "Some answers are still being saved; submit again in a moment.",
      submit_too_early: "You may submit only from {submit} after the start.",
      bad_credentials: "The ticket number or ID number is wrong; check both and try again.",
      entry_not_open: "Login is not open yet: it opens {entry} before the start.",
      late_entry_closed: "The late-entry window has closed. Please see the invigilator.",
      wrong_seat: "Log in at the room and seat on your ticket; a seat change needs the invigilator.",
      relogin_required: "You are logged in at another terminal. Ask the invigilator to authorise the move.",
      resume_wrong_sitting: "The automatic re-login named another sitting than your login: log in again with your ID number.",
      no_open_sitting: "There is no sitting open for you now. Check the times on your ticket.",
      login_locked: "Too many wrong ID numbers for this ticket: logins are stopped. Raise your hand: the invigilator checks your identity and unlocks it.",
      terminal_locked: "Too many wrong logins at this terminal: logins are stopped. Raise your hand for the invigilator.",
      not_enrolled: "This terminal is not enrolled to a seat (or its enrolment was revoked). Raise your hand for the invigilator.",
      bad_proof: "This terminal could not prove its enrolment. Raise your hand for the invigilator.",
      paper_unverified: "The paper failed central's signature check and is not shown. Do not answer: raise your hand at once.",
      attempt_submitted: "This subject has been submitted; no further answers are accepted.",
      attempt_absent: "This candidate is recorded absent.", attempt_voided: "This attempt was voided.",
      deadline_passed: "Time is up.", attempt_paused: "The exam is paused.",
      not_started: "The sitting has not started yet.",
      protocol_mismatch: "The exam client does not match the server's version; ask the centre admin.",
      seat_required: "This terminal is not bound to a seat; see the invigilator.",
      paper_error: "The paper cannot be opened; raise your hand.",
      id_format: "An ID number has 18 characters (the last may be X).",
      chars: "A ticket number has {set} only: character {pos} is “{ch}”.", length: "A ticket number has {want} characters; you typed {n}.",
      set_digits: "digits", set_alnum: "digits and capital letters", want_range: "{lo} to {hi}",
    },
  },
};

// The province's ticket rule comes from the centre server (state.ticket_rule: lengths,
// character set): the page checks what the keyboard can get wrong at once; the agent then
// checks the whole rule, check character included (python-stdnum), before the server does.
// No rule yet (an older server): only the bounds every rule keeps.
const ANY_RULE = { min_length: 1, max_length: 32, charset: "alnum", alphabet: "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*" };

function ticketRule() { return (state && state.ticket_rule) || ANY_RULE; }

/** What the candidate typed, as the rule compares it: no spaces; letters upper-cased. */
function normaliseTicket(text, rule) {
  const t = text.replace(/\s+/g, "");
  return rule.charset === "alnum" || /[A-Z]/.test(rule.alphabet) ? t.toUpperCase() : t;
}

/** null when `ticket` passes the page's check, else [code, vars] for the message table. */
function checkTicket(ticket, rule) {
  for (let i = 0; i < ticket.length; i++) {
    if (!rule.alphabet.includes(ticket[i])) {
      return ["chars", { set: codeWord("set_" + rule.charset), pos: i + 1, ch: ticket[i] }];
    }
  }
  if (ticket.length < rule.min_length || ticket.length > rule.max_length) {
    const want = rule.min_length === rule.max_length ? String(rule.min_length)
      : codeWord("want_range").replace("{lo}", rule.min_length).replace("{hi}", rule.max_length);
    return ["length", { want, n: ticket.length }];
  }
  return null;
}

function codeWord(key) { return I18N[lang].codes[key] || I18N.zh.codes[key] || key; }

function applyTicketRule() {
  const rule = ticketRule(), input = $("ticket");
  input.maxLength = rule.max_length;
  input.inputMode = rule.charset === "digits" ? "numeric" : "text";
}

let lang = localStorage.getItem("exam.lang") === "en" ? "en" : "zh";
const FONT_SIZES = [17, 19, 21, 24, 28, 32];
let fontIndex = Number(localStorage.getItem("exam.font") || 2);

let state = null;         // last /api/state
let stateAt = 0;          // performance.now() when it arrived
let agentUp = true;
let paper = null;         // /api/paper for paperAttempt
let paperAttempt = null;
let current = 0;          // index into paper.questions
let localAnswers = {};    // item_id -> displayed labels (optimistic, then from state)
let lastScreen = null;

const $ = (id) => document.getElementById(id);

function t(key, vars) {
  let s = I18N[lang][key];
  if (s === undefined) s = I18N.zh[key] ?? key;
  if (typeof s === "string" && vars) s = s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
  return s;
}

function codeMessage(code, fallback, vars) {
  const m = I18N[lang].codes[code];
  if (!m) return fallback || code;
  const all = Object.assign({}, state ? windowVars() : {}, vars || {});
  const needs = (m.match(/\{(\w+)\}/g) || []).map((k) => k.slice(1, -1));
  // A window the page does not know: the server's own message names it.
  if (needs.some((k) => all[k] === undefined)) return fallback || m.replace(/\{(\w+)\}/g, "");
  return m.replace(/\{(\w+)\}/g, (_, k) => String(all[k]));
}

function applyI18n() {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  $("lang").textContent = t("lang_button");
  renderRules();
}

function applyFont() {
  fontIndex = Math.max(0, Math.min(FONT_SIZES.length - 1, fontIndex));
  document.documentElement.style.fontSize = FONT_SIZES[fontIndex] + "px";
  localStorage.setItem("exam.font", String(fontIndex));
}

async function api(path, body) {
  const res = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try { data = await res.json(); } catch (e) { data = { ok: false, code: "offline" }; }
  return data;
}

// --- time ---------------------------------------------------------------------------

function elapsed() { return (performance.now() - stateAt) / 1000; }

function timeLeft() {
  if (!state || state.time_left_s == null) return null;
  const paused = state.sitting && state.sitting.paused;
  return Math.max(0, state.time_left_s - (paused ? 0 : elapsed()));
}

function fmt(seconds) {
  if (seconds == null) return "--:--:--";
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return [h, m, r].map((x) => String(x).padStart(2, "0")).join(":");
}

function beijing(iso, withDate) {
  if (!iso) return "";
  // The centre's time zone, as its server said (one zone on every screen, PDF and CLI line).
  const opts = { timeZone: (state && state.time_zone) || "Asia/Shanghai", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
  if (withDate) Object.assign(opts, { year: "numeric", month: "2-digit", day: "2-digit" });
  return new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", opts).format(new Date(iso));
}

function spanText(seconds) {
  return seconds >= 60 ? t("minutes", { n: Math.round(seconds / 60) }) : t("seconds", { n: Math.round(seconds) });
}

// --- polling ------------------------------------------------------------------------

async function poll() {
  try {
    const res = await fetch("/api/state", { cache: "no-store" });
    state = await res.json();
    stateAt = performance.now();
    agentUp = true;
  } catch (e) {
    agentUp = false;
  }
  render();
  setTimeout(poll, 500);
}

async function ensurePaper() {
  if (!state || !state.paper_ready) return;
  if (paper && paperAttempt === state.attempt_id) return;
  const doc = await api("/api/paper");
  if (doc && doc.questions) {
    paper = doc;
    paperAttempt = state.attempt_id;
    current = 0;
    renderPaper();
  }
}

// --- rendering ----------------------------------------------------------------------

function show(screen) {
  for (const el of document.querySelectorAll(".screen")) el.hidden = el.id !== "screen-" + screen;
}

function render() {
  renderBar();
  if (!state) return;
  const screen = state.screen;
  if (screen !== lastScreen) {
    show(screen);
    lastScreen = screen;
    if (screen === "login") { $("ticket").focus(); paper = null; paperAttempt = null; }
    if (screen === "confirm") $("photo").src = "/api/photo?attempt=" + state.attempt_id;
  }
  if (screen === "login") { $("login-seat").textContent = state.seat; applyTicketRule(); }
  if (screen === "confirm") renderConfirm();
  if (screen === "waiting") renderWaiting();
  if (screen === "paper") { ensurePaper(); syncAnswers(); renderPaper(); }
  if (screen === "submitted") renderSubmitted();
  if (screen === "closed") $("closed-message").textContent = codeMessage(state.closed.code, state.closed.message);
  if (screen === "error") $("error-message").textContent = codeMessage(state.fatal.code, state.fatal.message);
  renderOverlay();
  renderMessages();
  tick();
}

// A message from the invigilator or the chief examiner: on screen until the candidate
// dismisses it (OK, Enter or Escape), then never again. The agent keeps what was dismissed in
// its journal, so a reload, a new kiosk browser or a restarted agent neither loses a message
// nor brings one back; the page only remembers what it has just dismissed until the agent's
// next state says so too.
const dismissedMessages = new Set();
function renderMessages() {
  const banner = $("banner");
  const messages = ((state && state.messages) || []).filter((m) => !dismissedMessages.has(m.at));
  if (!messages.length || state.attempt_id == null) return;
  // A time warning on screen keeps it until its OK; the message follows.
  if (!banner.hidden && banner.dataset.threshold) return;
  const first = messages[0];
  if (!banner.hidden && banner.dataset.message === first.at) return;
  $("banner-text").textContent = t("message_from", { sender: t("sender_" + first.sender), text: first.text });
  banner.hidden = false;
  banner.dataset.threshold = "";
  banner.dataset.message = first.at;
}

function dismissBanner() {
  const banner = $("banner");
  banner.hidden = true;
  const at = banner.dataset.message;
  banner.dataset.message = "";
  banner.dataset.threshold = "";
  if (at) {
    dismissedMessages.add(at);
    api("/api/message_seen", { at })
      .then((res) => { if (!res.ok) dismissedMessages.delete(at); })
      .catch(() => dismissedMessages.delete(at)); // the agent is down: shown again when it is back
  }
  renderMessages();
}

function renderBar() {
  const conn = $("conn");
  if (!agentUp) {
    conn.className = "conn offline"; conn.textContent = t("agent_down");
  } else if (state && !state.online) {
    // "Answers are kept on this PC" only once there is an answer to keep: before it, the
    // sentence would comfort a candidate who has nothing saved anywhere.
    const hasAnswers = state.pending > 0 || Object.keys(state.answers || {}).length > 0;
    conn.className = "conn offline";
    conn.textContent = hasAnswers ? t("offline") + (state.pending ? t("pending", { n: state.pending }) : "") : t("offline_idle");
  } else {
    conn.className = "conn"; conn.textContent = t("online") + (state && state.pending ? t("pending", { n: state.pending }) : "");
  }
  const stall = state && state.stall;
  $("stall").hidden = !stall;
  // no_reply: the server never answered, so there is no message of its own to show
  if (stall) $("stall").textContent = t("stall", { n: stall.count, m: Math.max(1, Math.floor(stall.since_s / 60)), reason: stall.code === "no_reply" ? t("stall_no_reply") : stall.message });
  const c = state && state.candidate;
  $("who").textContent = c ? `${c.name} · ${c.ticket} · ${t("seat")} ${state.seat}` : (state ? `${t("seat")} ${state.seat}` : "");
  $("clock").hidden = !(state && state.sitting && state.screen === "paper");
}

function renderConfirm() {
  const c = state.candidate, s = state.sitting;
  $("c-name").textContent = c.name;
  $("c-ticket").textContent = c.ticket;
  $("c-trade").textContent = c.trade;
  $("c-level").textContent = t("level_names")[c.level] || c.level;
  $("c-subject").textContent = s.subject;
  $("c-time").textContent = `${beijing(s.start, true)} – ${beijing(s.end)}`;
}

// The sitting's own windows (the plan's; the demo's quick mode scales them), from the
// server: never a fixed "30 minutes". Unknown (an older server): the earliest submission
// from the sitting's times, and the rules say no figure they cannot know.
function windowVars() {
  const w = state && state.windows, s = state && state.sitting;
  const vars = {};
  if (w) {
    vars.entry = spanText(w.entry_s);
    vars.late = spanText(w.late_s);
    vars.submit = spanText(w.submit_s);
  } else if (s) {
    vars.submit = spanText((new Date(s.submit_opens) - new Date(s.start)) / 1000);
  }
  return vars;
}

function windowText() { return JSON.stringify(windowVars()); }

function renderRules() {
  const vars = windowVars();
  const ol = $("rules");
  ol.replaceChildren(...t("rules").filter((r) => {
    const needs = r.match(/\{(\w+)\}/g) || [];
    return needs.every((k) => vars[k.slice(1, -1)] !== undefined);
  }).map((r) => {
    const li = document.createElement("li");
    li.textContent = r.replace(/\{(\w+)\}/g, (_, k) => vars[k]);
    return li;
  }));
}

function renderWaiting() {
  if (!$("rules").children.length || $("rules").dataset.lang !== lang + windowText()) {
    renderRules();
    $("rules").dataset.lang = lang + windowText();
  }
  let note = t("wait_note");
  if (state.waiting_key) note = t("waiting_key");
  else if (state.to_start_s != null && state.to_start_s - elapsed() <= 0) note = t("started_no_paper");
  $("waiting-note").textContent = note;
}

function renderSubmitted() {
  const sub = state.submitted;
  $("receipt").textContent = sub.receipt || "—";
  $("submitted-reason").textContent = t("reason_" + (sub.reason || "server"));
  $("submitted-at").textContent = t("submitted_at", { time: beijing(sub.at, true) });
}

const optimistic = {};     // item_id -> {labels, at}: clicks the agent may not have yet

function syncAnswers() {
  // The agent's answers are the truth; a click stays shown until the agent has it.
  localAnswers = Object.assign({}, state.answers);
  const now = performance.now();
  for (const [item, o] of Object.entries(optimistic)) {
    if (now - o.at > 2000) delete optimistic[item];
    else localAnswers[item] = o.labels;
  }
}

function isAnswered(itemId) { return (localAnswers[itemId] || []).length > 0; }

function blockNode(b) {
  // One paragraph, or one picture with its alt text.
  if (b.image) {
    const img = document.createElement("img");
    img.className = "q-image";
    img.src = b.image;
    img.alt = b.alt || "";
    return img;
  }
  const p = document.createElement("p");
  p.className = "stem-text";
  p.textContent = b.text;
  return p;
}

function renderBody(q) {
  // The question as its author wrote it: the body (paragraphs and pictures, in order)
  // before the options, and what the author wrote after them below the options.
  const box = $("q-stem");
  if (box.dataset.item === q.item_id) return;
  box.dataset.item = q.item_id;
  box.replaceChildren(...q.body.map(blockNode));
  const after = $("q-after");
  after.replaceChildren(...(q.after || []).map(blockNode));
  after.hidden = !(q.after || []).length;
}

function renderPaper() {
  if (!paper || !state) return;
  const q = paper.questions[current];
  const section = paper.sections[q.section];
  $("section-title").textContent = section ? section.title : "";
  $("q-number").textContent = t("q_of", { n: q.number, total: paper.questions.length });
  $("q-type").textContent = t(q.type);
  $("q-points").textContent = t("points", { p: q.points });
  renderBody(q);
  const flagged = state.flags.includes(q.item_id);
  const fb = $("flag-button");
  fb.textContent = "⚑ " + (flagged ? t("unflag") : t("flag"));
  fb.setAttribute("aria-pressed", String(flagged));

  const chosen = localAnswers[q.item_id] || [];
  const box = $("q-options");
  const key = q.item_id + "|" + chosen.join("") + "|" + lang;
  if (box.dataset.key !== key) {
    box.dataset.key = key;
    box.replaceChildren(...q.options.map((o) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "opt " + q.type;
      b.setAttribute("role", q.type === "multiple" ? "checkbox" : "radio");
      b.setAttribute("aria-checked", String(chosen.includes(o.label)));
      b.dataset.label = o.label;
      const lab = document.createElement("span");
      lab.className = "lab";
      lab.textContent = q.type === "true_false" ? (o.label === "T" ? "✓" : "✗") : o.label;
      const txt = document.createElement("span");
      txt.className = "txt";
      txt.textContent = q.type === "true_false" ? `${o.text}（${o.label}）` : o.text;
      b.append(lab, txt);
      b.addEventListener("click", () => choose(o.label));
      return b;
    }));
  }
  const refused = (state.refusals || []).filter((r) => r.item_id === q.item_id).pop();
  $("q-refused").textContent = refused ? t("refused_item", { n: q.number, msg: codeMessage(refused.code, refused.message) }) : "";
  $("prev").disabled = current === 0;
  $("next").disabled = current === paper.questions.length - 1;
  renderGrid();
}

function renderGrid() {
  const grid = $("grid");
  if (grid.children.length !== paper.questions.length) {
    grid.replaceChildren(...paper.questions.map((q, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = String(q.number);
      b.addEventListener("click", () => { current = i; renderPaper(); });
      return b;
    }));
  }
  let answered = 0;
  paper.questions.forEach((q, i) => {
    const b = grid.children[i];
    const a = isAnswered(q.item_id);
    answered += a ? 1 : 0;
    b.className = [a ? "answered" : "", state.flags.includes(q.item_id) ? "flagged" : "", i === current ? "current" : ""].join(" ");
    b.setAttribute("aria-label", `${q.number} ${a ? t("answered") : t("unanswered")}`);
  });
  $("progress").textContent = t("progress", { a: answered, total: paper.questions.length });
}

function renderSubmit() {
  if (!state || state.screen !== "paper") return;
  const opensIn = state.submit_opens_in_s == null ? null : state.submit_opens_in_s - elapsed();
  const btn = $("submit-button");
  const locked = opensIn == null || opensIn > 0;
  btn.disabled = locked;
  $("submit-hint").textContent = locked && state.sitting
    ? t("submit_opens", { time: beijing(state.sitting.submit_opens), left: fmt(opensIn) })
    : t("submit_open");
}

function renderOverlay() {
  const ov = $("overlay");
  if (!state || state.screen !== "paper") { ov.hidden = true; return; }
  const left = timeLeft();
  if (state.sitting && state.sitting.paused) {
    $("overlay-title").textContent = t("paused_title");
    $("overlay-text").textContent = t("paused");
    ov.hidden = false;
  } else if (left !== null && left <= 0) {
    $("overlay-title").textContent = t("time_up_title");
    $("overlay-text").textContent = state.online ? t("time_up") : t("time_up_offline");
    ov.hidden = false;
  } else {
    ov.hidden = true;
  }
}

function tick() {
  const left = timeLeft();
  const el = $("time-left");
  if (state && state.screen === "waiting" && state.to_start_s != null) {
    $("countdown").textContent = fmt(Math.max(0, state.to_start_s - elapsed()));
  }
  el.textContent = fmt(left);
  el.classList.toggle("low", left != null && left <= 300);
  renderSubmit();
  checkWarnings(left);
  if (state && state.screen === "paper") renderOverlay();
}

function checkWarnings(left) {
  if (!state || state.screen !== "paper" || left == null || left <= 0) return;
  const s = state.sitting;
  const length = s ? (new Date(s.end) - new Date(s.start)) / 1000 : 0;
  for (const threshold of state.warn_at_s || []) {
    // A warning marks a moment in the sitting: none for thresholds as long as the sitting.
    if (threshold >= length) continue;
    const key = `exam.warned.${state.attempt_id}.${threshold}`;
    if (left <= threshold && !localStorage.getItem(key)) {
      localStorage.setItem(key, "1");
      $("banner-text").textContent = t("warn", { left: spanText(threshold) });
      $("banner").hidden = false;
      $("banner").dataset.threshold = String(threshold);
      $("banner").dataset.message = "";
    }
  }
}

// --- actions ------------------------------------------------------------------------

async function choose(label) {
  if (!paper) return;
  const q = paper.questions[current];
  const chosen = new Set(localAnswers[q.item_id] || []);
  if (q.type === "multiple") {
    if (chosen.has(label)) chosen.delete(label); else chosen.add(label);
  } else {
    chosen.clear(); chosen.add(label);
  }
  const labels = [...chosen].sort();
  localAnswers[q.item_id] = labels;
  optimistic[q.item_id] = { labels, at: performance.now() };
  renderPaper();
  const res = await api("/api/answer", { item_id: q.item_id, labels });
  if (!res.ok) $("q-refused").textContent = codeMessage(res.code, res.message);
}

async function toggleFlag() {
  if (!paper) return;
  const q = paper.questions[current];
  const flagged = !state.flags.includes(q.item_id);
  state.flags = flagged ? [...state.flags, q.item_id] : state.flags.filter((x) => x !== q.item_id);
  renderPaper();
  await api("/api/flag", { item_id: q.item_id, flagged });
}

function go(delta) {
  if (!paper) return;
  current = Math.max(0, Math.min(paper.questions.length - 1, current + delta));
  renderPaper();
}

function openSubmitDialog() {
  const unanswered = paper.questions.filter((q) => !isAnswered(q.item_id)).map((q) => q.number);
  $("modal-text").textContent = unanswered.length
    ? t("modal_some", { n: unanswered.length })
    : t("modal_all", { total: paper.questions.length });
  const flagged = state.flags.length;
  $("modal-unanswered").textContent = [
    unanswered.length ? t("modal_list", { list: unanswered.join("、") }) : "",
    flagged ? t("modal_flagged", { n: flagged }) : "",
  ].filter(Boolean).join(" ");
  $("modal").hidden = false;
  $("modal-cancel").focus();
}

async function submitNow() {
  $("modal-ok").disabled = true;
  const res = await api("/api/submit", {});
  $("modal-ok").disabled = false;
  $("modal").hidden = true;
  $("submit-error").textContent = res.ok ? "" : codeMessage(res.code, res.message);
}

function onKey(e) {
  if (!$("modal").hidden) {
    if (e.key === "Escape") $("modal").hidden = true;
    return;
  }
  if (!$("banner").hidden && (e.key === "Enter" || e.key === "Escape")) { dismissBanner(); return; }
  if (!state || state.screen !== "paper" || !paper || !$("overlay").hidden) return;
  if (e.ctrlKey || e.altKey || e.metaKey) return;
  const q = paper.questions[current];
  const key = e.key.length === 1 ? e.key.toUpperCase() : e.key;
  const labels = q.options.map((o) => o.label);
  if (key === "ArrowLeft" || key === "ArrowUp" || key === "PageUp") { go(-1); e.preventDefault(); return; }
  if (key === "ArrowRight" || key === "ArrowDown" || key === "PageDown") { go(1); e.preventDefault(); return; }
  if (key === "F" && (e.shiftKey || !labels.includes("F"))) { toggleFlag(); e.preventDefault(); return; }
  if (labels.includes(key)) { choose(key); e.preventDefault(); }
}

function bind() {
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const rule = ticketRule();
    const ticket = normaliseTicket($("ticket").value, rule);
    const idNumber = $("id-number").value.trim().toUpperCase();
    const bad = checkTicket(ticket, rule);
    if (bad) { $("login-error").textContent = codeMessage(bad[0], "", bad[1]); $("ticket").focus(); return; }
    if (!/^\d{17}[\dX]$/.test(idNumber)) { $("login-error").textContent = codeMessage("id_format"); $("id-number").focus(); return; }
    $("login-error").textContent = "";
    $("login-button").disabled = true;
    const res = await api("/api/login", { ticket, id_number: idNumber });
    $("login-button").disabled = false;
    if (!res.ok) {
      const own = lang === "en" && res.message_en ? res.message_en : res.message;
      $("login-error").textContent = codeMessage(res.code, own);
      return;
    }
    $("ticket").value = ""; $("id-number").value = "";
    localAnswers = {};
  });
  $("confirm-button").addEventListener("click", async () => { await api("/api/confirm", {}); });
  $("confirm-wrong-button").addEventListener("click", () => { $("confirm-wrong").hidden = false; });
  $("prev").addEventListener("click", () => go(-1));
  $("next").addEventListener("click", () => go(1));
  $("flag-button").addEventListener("click", toggleFlag);
  $("submit-button").addEventListener("click", openSubmitDialog);
  $("modal-cancel").addEventListener("click", () => { $("modal").hidden = true; });
  $("modal-ok").addEventListener("click", submitNow);
  $("banner-ok").addEventListener("click", dismissBanner);
  $("finish-button").addEventListener("click", async () => { await api("/api/finish", {}); });
  $("closed-button").addEventListener("click", async () => { await api("/api/finish", {}); });
  $("font-up").addEventListener("click", () => { fontIndex += 1; applyFont(); });
  $("font-down").addEventListener("click", () => { fontIndex -= 1; applyFont(); });
  $("lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("exam.lang", lang);
    applyI18n();
    render();
  });
  document.addEventListener("keydown", onKey);
  document.addEventListener("contextmenu", (e) => e.preventDefault());
}

document.addEventListener("DOMContentLoaded", () => {
  applyFont();
  applyI18n();
  bind();
  poll();
  setInterval(tick, 250);
});
