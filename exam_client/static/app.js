// The candidate's screen. Talks only to the agent on 127.0.0.1; exam time comes from the
// agent (the server's clock as the terminal keeps it), never from this PC's clock:
// between polls the countdown advances by performance.now(), which is monotonic.
"use strict";

// The page's words (const I18N) come from the agent: /i18n.js, exam_client/texts.py.

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
