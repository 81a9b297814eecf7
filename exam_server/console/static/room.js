/* The live seat map of one room (考场实时座位图). */
"use strict";
const A = BOOT.alerts;
const state = { layout: null, tiles: {}, bySeat: {}, presence: {}, sitting: null, roomPaused: false, selected: null, red: new Set() };
const grid = document.getElementById("grid");
const panel = document.getElementById("panel");
const hover = document.getElementById("hover");
const STATE_LABEL = { not_arrived: T.not_arrived, logged_in: T.logged_in, answering: T.answering,
  paused: T.paused, submitted: T.submitted, absent: T.absent, voided: T.voided };
const LIVE_STATES = new Set(["logged_in", "answering", "paused"]);

function applySnapshot(s) {
  if (!s || s.ok === false) { banner(s ? s.message : "", "error"); return; }
  syncClock(s.server_time);
  state.layout = s.layout; state.sitting = s.sitting; state.roomPaused = s.room_paused;
  state.tiles = {}; state.bySeat = {};
  for (const t of s.tiles) { state.tiles[t.attempt_id] = t; state.bySeat[t.seat] = t.attempt_id; }
  state.presence = s.presence || {};
  buildGrid(); renderAll(); renderLocks(s.locks || []);
}
/* Tickets and terminals locked after too many wrong ID numbers: the invigilator checks
   the candidate in person and unlocks. */
function renderLocks(locks) {
  const box = document.getElementById("locks");
  box.hidden = !locks.length;
  box.replaceChildren(...(locks.length ? [el("b", {}, T.login_locks + ": "), el("span", {}, T.lock_hint)] : []),
    ...locks.map((l) => el("div", { class: "lock", "data-lock": l.id },
      `${l.scope === "ticket" ? T.lock_ticket : T.lock_terminal}: ${l.label} (${l.failures}) `,
      el("button", { type: "button", class: "primary", "data-unlock": l.id, onclick: () =>
        confirmDialog(T.a_unlock + " · " + l.label, [{ name: "reason", label: T.reason, type: "textarea", required: true }],
          (v) => post(`/console/api/locks/${l.id}/unlock`, v).then(done), T.a_unlock) }, T.a_unlock))));
  if (locks.length && state.lockCount !== undefined && locks.length > state.lockCount) beep();
  state.lockCount = locks.length;
}
function buildGrid() {
  const L = state.layout;
  grid.style.gridTemplateColumns = `repeat(${L.cols}, minmax(7.5rem, 1fr))`;
  grid.replaceChildren();
  for (const seat of L.seats) {
    const tile = el("div", { class: "tile", id: "seat-" + seat.number, "data-seat": seat.number,
      tabindex: 0, style: `grid-row:${seat.row};grid-column:${seat.col}` });
    tile.addEventListener("click", () => select(seat.number));
    tile.addEventListener("keydown", (e) => { if (e.key === "Enter") select(seat.number); });
    tile.addEventListener("mouseenter", () => showPhoto(seat.number, tile));
    tile.addEventListener("mouseleave", () => { hover.hidden = true; });
    grid.append(tile);
  }
}
function tileOfSeat(number) { const id = state.bySeat[number]; return id ? state.tiles[id] : null; }
function presenceOf(t) { return t ? state.presence[t.seat_label] : null; }
function silentFor(p) { return p && p.last_contact ? Math.max(0, (serverNow() - Date.parse(p.last_contact)) / 1000) : null; }

function alertOf(t) {
  if (!t || !LIVE_STATES.has(t.state)) return "";
  const p = presenceOf(t);
  if (p && p.stall) return "red";  // answers the server keeps refusing: act before the end
  const s = silentFor(p);
  if (s === null) return "";
  if (s > A.red_s) return "red";
  if (s > A.amber_s || (p && !p.connected)) return "amber";
  return "";
}
function stallText(st) {
  const reason = T["stall_" + st.code] || (T.stall_other + " (" + st.code + ")");
  return fmt("alert_stall", { n: st.count, m: Math.max(1, Math.floor(st.since_s / 60)), r: reason });
}
function flagsOf(t) {
  const f = [];
  const p = presenceOf(t);
  if (p && p.clock_offset_s !== null && Math.abs(p.clock_offset_s) > A.clock_warning_s) f.push(["clock", "钟" + (p.clock_offset_s > 0 ? "+" : "") + Math.round(p.clock_offset_s) + "s", T.clock_off]);
  if (p && p.stall) f.push(["stall", T.stall_flag, stallText(p.stall)]);
  if (p && p.reconnects >= A.reconnect_flag) f.push(["reconnects", "重连" + p.reconnects, T.reconnects]);
  if (t.relogin_authorised) f.push(["move", "待换座", T.pending_move]);
  if (t.checked_in) f.push(["checkin", "✓", T.checked_in]);
  if (t.photo_mismatch) f.push(["mismatch", "照片!", T.photo_mismatch]);
  if (t.admitted_late) f.push(["late", "迟", T.late_admitted]);
  if (t.extra_time_s) f.push(["extra", "+" + Math.round(t.extra_time_s / 60) + "′", T.extra]);
  return f;
}
function renderTile(number) {
  const tile = document.getElementById("seat-" + number);
  if (!tile) return;
  const seat = state.layout.seats.find((s) => s.number === number);
  const t = tileOfSeat(number);
  tile.replaceChildren();
  const head = el("div", { class: "head" }, el("span", { class: "no" }, String(number).padStart(2, "0")));
  if (!t) {
    tile.className = "tile empty" + (seat.spare ? " spare" : "");
    tile.dataset.state = "empty"; tile.dataset.alert = "";
    head.append(el("span", { class: "muted" }, seat.spare ? T.spare : ""));
    tile.append(head, el("div", { class: "name muted" }, T.empty_seat));
    const p = state.presence[seat.label];
    if (p && p.connected) tile.append(el("div", { class: "conn ok" }, "● " + T.terminal));
    return;
  }
  const flags = flagsOf(t);
  const alert = alertOf(t);
  const notArrivedLate = t.state === "not_arrived" && state.sitting &&
    serverNow() > Date.parse(state.sitting.start) + A.not_arrived_s * 1000;
  const proposed = (t.gaps || []).filter((g) => g.status === "proposed");
  tile.className = `tile st-${t.state}` + (alert ? " alert-" + alert : "") + (notArrivedLate ? " late" : "") +
    (state.selected === number ? " selected" : "") + (seat.spare ? " spare" : "");
  tile.dataset.state = t.state; tile.dataset.alert = alert; tile.dataset.attempt = t.attempt_id;
  tile.dataset.flags = flags.map((f) => f[0]).join(" ");
  tile.dataset.answered = t.answered;
  for (const [k, icon, title] of flags) head.append(el("span", { class: "flag f-" + k, title }, icon));
  tile.append(head, el("div", { class: "name" }, t.name));
  let label = STATE_LABEL[t.state];
  const line = el("div", { class: "state" }, label);
  if (t.state === "answering" || t.state === "paused") line.append(" " + t.answered + "/" + t.items);
  tile.append(line);
  if (t.items && (t.state === "answering" || t.state === "paused" || t.state === "submitted")) {
    const pct = Math.round(100 * t.answered / t.items);
    tile.append(el("div", { class: "bar" }, el("span", { style: `width:${pct}%` })));
  }
  const p = presenceOf(t);
  if (LIVE_STATES.has(t.state) || (p && p.connected)) {
    const s = silentFor(p);
    let text = p ? (p.connected ? "● " : "○ " + T.disconnected + " ") : "";
    if (s !== null && (s > A.amber_s || (p && !p.connected))) text += fmt("seconds_ago", { n: Math.round(s) });
    else if (p && p.connected) text += hhmm(p.last_contact, true);
    tile.append(el("div", { class: "conn" + (p && p.connected ? " ok" : "") }, text));
  }
  if (notArrivedLate) tile.append(el("div", { class: "warn" }, T.alert_not_arrived));
  if (p && p.stall && LIVE_STATES.has(t.state)) tile.append(el("div", { class: "warn stall" }, stallText(p.stall)));
  if (proposed.length) tile.append(el("div", { class: "gap" }, T.lost_time + " " +
    Math.round(proposed[0].proposed_s / 60) + T.minutes));
}
function renderAll() {
  for (const seat of state.layout.seats) renderTile(seat.number);
  renderSummary(); renderTimes(); renderPanel();
  document.getElementById("pause").textContent = state.roomPaused ? T.a_resume : T.a_pause;
}
function renderSummary() {
  const c = { expected: 0, present: 0, answering: 0, submitted: 0, absent: 0, voided: 0, not_arrived: 0 };
  for (const t of Object.values(state.tiles)) {
    c.expected++;
    if (t.logged_in_at) c.present++;
    if (t.state === "answering" || t.state === "paused") c.answering++;
    else if (c[t.state] !== undefined) c[t.state]++;
  }
  const box = document.getElementById("summary");
  box.replaceChildren(...["expected", "present", "answering", "submitted", "absent", "voided", "not_arrived"].map((k) =>
    el("div", { class: "count c-" + k, "data-count": k }, el("b", {}, String(c[k])), el("span", {}, T[k]))));
}
function renderTimes() {
  const s = state.sitting; if (!s) return;
  const bits = [T.start + " " + hhmm(s.start), T.late_until + " " + hhmm(s.late_entry_until),
    T.submit_from + " " + hhmm(s.submit_from), T.end + " " + hhmm(s.end), T.server_time + " " + hhmm(new Date(serverNow()).toISOString(), true)];
  document.getElementById("times").textContent = bits.join(" · ");
  if (s.centre_paused) banner(fmt("centre_pause_on", { r: s.centre_pause_reason || "" }), "warn");
  else if (state.roomPaused) banner(T.room_pause_on, "warn");
  else banner("");
}
function showPhoto(number, tile) {
  const t = tileOfSeat(number);
  if (!t || !t.has_photo) return;
  hover.replaceChildren(el("img", { src: `/console/photos/${t.attempt_id}`, alt: t.name }), el("div", {}, t.name));
  const r = tile.getBoundingClientRect();
  const left = r.right + 170 > grid.getBoundingClientRect().right ? r.left - 170 : r.right + 8;
  hover.style.left = (window.scrollX + left) + "px"; hover.style.top = (window.scrollY + r.top) + "px";
  hover.hidden = false;
}
function select(number) { state.selected = number; renderAll(); }

const ACTIONS = [
  ["checkin", T.a_checkin, ["not_arrived", "logged_in", "answering", "paused"]],
  ["admit", T.a_admit, ["not_arrived", "absent"]],
  ["relogin", T.a_relogin, ["logged_in", "answering", "paused"]],
  ["extra", T.a_extra, ["logged_in", "answering", "paused"]],
  ["submit", T.a_submit, ["answering", "paused"]],
  ["absent", T.a_absent, ["not_arrived"]],
  ["void", T.a_void, ["not_arrived", "logged_in", "answering", "paused", "submitted"]],
];
function renderPanel() {
  const t = state.selected !== null ? tileOfSeat(state.selected) : null;
  if (!t) { panel.hidden = true; return; }
  panel.hidden = false;
  const p = presenceOf(t);
  const rows = [[T.seat, t.seat_label], [T.ticket, t.ticket], [T.id_tail, t.id_tail], [T.state, STATE_LABEL[t.state]],
    [T.answered, t.answered + "/" + t.items], [T.terminal, t.terminal_id || "—"],
    [T.last_contact, p && p.last_contact ? hhmm(p.last_contact, true) : "—"], [T.deadline, t.deadline ? hhmm(t.deadline, true) : "—"]];
  const gaps = (t.gaps || []).filter((g) => g.status === "proposed");
  panel.replaceChildren(
    el("h3", {}, t.name),
    t.has_photo ? el("img", { class: "photo", src: `/console/photos/${t.attempt_id}`, alt: t.name }) : el("p", { class: "muted" }, T.no_photo),
    el("dl", {}, rows.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    ...gaps.map((g) => el("div", { class: "gapbox" },
      el("p", {}, `${T.lost_time}: ${Math.round(g.proposed_s / 60)} ${T.minutes} (${hhmm(g.from, true)}–${hhmm(g.to, true)}, ${g.lost_s}s)`),
      el("button", { type: "button", class: "primary", "data-gap": g.id, "data-decision": "accept", onclick: () => decideGap(g, "accept") }, T.a_accept),
      el("button", { type: "button", "data-gap": g.id, "data-decision": "dismiss", onclick: () => decideGap(g, "dismiss") }, T.a_dismiss))),
    el("div", { class: "actions" }, ACTIONS.map(([name, label, states]) =>
      el("button", { type: "button", "data-action": name, disabled: !states.includes(t.state), onclick: () => act(t, name, label) }, label))));
}
function actionFields(t, name) {
  const reason = { name: "reason", label: T.reason, type: "textarea", required: true };
  if (name === "checkin") {
    const node = el("div", { class: "compare" },
      t.has_photo ? el("img", { src: `/console/photos/${t.attempt_id}`, alt: t.name }) : el("p", {}, T.no_photo),
      el("p", {}, `${t.name} · ${T.ticket} ${t.ticket} · ${T.id_tail} ${t.id_tail}`));
    return [{ type: "html", node }, { name: "photo_matches", label: "", type: "radio", options: [["1", T.photo_matches], ["0", T.photo_differs]] },
      { name: "note", label: T.note, type: "textarea" }];
  }
  if (name === "extra") return [{ name: "minutes", label: T.minutes, type: "number", value: 5, min: 1, max: 120, required: true }, reason];
  if (name === "absent") return [{ name: "reason", label: T.reason, type: "textarea" }];
  return [reason];
}
async function act(t, name, label) {
  await confirmDialog(`${label} · ${t.seat_label} ${t.name}`, actionFields(t, name),
    (v) => post(`/console/api/attempts/${t.attempt_id}/${name}`, v).then(done), label);
}
async function decideGap(g, decision) {
  const fields = decision === "accept"
    ? [{ name: "minutes", label: T.minutes, type: "number", value: Math.round(g.proposed_s / 60), min: 1, max: 120, required: true }]
    : [{ name: "reason", label: T.reason, type: "textarea" }];
  await confirmDialog(decision === "accept" ? T.a_accept : T.a_dismiss, fields,
    (v) => post(`/console/api/gaps/${g.id}/${decision}`, v).then(done));
}
function done(r) { if (r.ok) refresh(); return r; }

const base = `/console/api/sittings/${BOOT.sitting_id}/rooms/${BOOT.room_id}`;
document.getElementById("pause").addEventListener("click", () => {
  const resume = state.roomPaused;
  confirmDialog(resume ? T.a_resume : T.a_pause, resume ? [] : [{ name: "reason", label: T.reason, type: "textarea", required: true }],
    (v) => post(`${base}/${resume ? "resume" : "pause"}`, v).then(done));
});
document.getElementById("broadcast").addEventListener("click", () =>
  confirmDialog(T.a_broadcast, [{ name: "text", label: T.message, type: "textarea", required: true }], (v) => post(`${base}/broadcast`, v)));
const soundBtn = document.getElementById("sound");
soundBtn.addEventListener("click", () => { enableSound(!soundOn); soundBtn.textContent = soundOn ? T.sound_off : T.sound_on; });

const socket = openSocket();
function refresh() {
  if (socket && socket.connected) socket.emit("join", { sitting_id: BOOT.sitting_id, room_id: BOOT.room_id }, applySnapshot);
  else fetch(base, { credentials: "same-origin" }).then((r) => r.json()).then(applySnapshot);
}
if (socket) {
  liveIndicator(socket);
  socket.on("connect", refresh);
  socket.on("tiles", (m) => {
    if (m.sitting_id !== BOOT.sitting_id || m.room_id !== BOOT.room_id || !state.layout) return;
    syncClock(m.server_time);
    const touched = new Set();
    for (const t of m.tiles) {
      const old = state.tiles[t.attempt_id];
      if (old && old.seat !== t.seat) { delete state.bySeat[old.seat]; touched.add(old.seat); }
      state.tiles[t.attempt_id] = t; state.bySeat[t.seat] = t.attempt_id; touched.add(t.seat);
    }
    for (const n of touched) renderTile(n);
    renderSummary(); renderPanel();
  });
  socket.on("presence", (m) => {
    if (m.room_id !== BOOT.room_id || !state.layout) return;
    Object.assign(state.presence, m.seats);
    for (const label of Object.keys(m.seats)) {
      const n = parseInt(label.split("-").pop(), 10);
      renderTile(n);
    }
    renderPanel();
  });
  socket.on("room_state", refresh);
} else refresh();
setInterval(refresh, 30000);
setInterval(() => {
  if (!state.layout) return;
  for (const seat of state.layout.seats) {
    const t = tileOfSeat(seat.number);
    const a = alertOf(t);
    if (a === "red" && t && !state.red.has(t.attempt_id)) { state.red.add(t.attempt_id); beep(); }
    if (a !== "red" && t) state.red.delete(t.attempt_id);
    renderTile(seat.number);
  }
  renderTimes();
}, 1000);
