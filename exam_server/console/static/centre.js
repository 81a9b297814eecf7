/* The chief examiner's overview (主考总览): every room's counts, the sitting's key status,
   and a chart of progress drawn as inline SVG (no chart library). */
"use strict";
const S = { overview: null };
const KEYS = ["expected", "present", "answering", "submitted", "absent", "voided", "not_arrived"];

function applyOverview(o) {
  if (!o || o.ok === false) { banner(o ? o.message : "", "error"); return; }
  syncClock(o.server_time); S.overview = o; render();
}
function render() {
  const o = S.overview; if (!o) return;
  const s = o.sitting;
  const key = s.key_released_at ? fmt("key_released", { t: hhmm(s.key_released_at, true) }) : T.key_pending;
  document.getElementById("sitting-status").replaceChildren(el("dl", {},
    el("dt", {}, T.start), el("dd", {}, hhmm(s.start)), el("dt", {}, T.end), el("dd", {}, hhmm(s.end)),
    el("dt", {}, T.late_until), el("dd", {}, hhmm(s.late_entry_until)),
    el("dt", {}, T.key), el("dd", { id: "key-status" }, key),
    el("dt", {}, T.end_key), el("dd", {}, s.end_key ? "✓" : T.key_pending),
    el("dt", {}, T.state), el("dd", {}, s.closed_at ? T.closed : T.open)));
  const head = el("tr", {}, el("th", {}, T.room), KEYS.map((k) => el("th", {}, T[k])), el("th", {}, ""));
  const total = Object.fromEntries(KEYS.map((k) => [k, 0]));
  const rows = o.rooms.map((r) => {
    KEYS.forEach((k) => { total[k] += r[k]; });
    return el("tr", { "data-room": r.room_id }, el("td", {}, `${r.code} ${r.name}` + (r.paused ? " ⏸" : "")),
      KEYS.map((k) => el("td", { "data-count": k }, String(r[k]))),
      el("td", {}, BOOT.role === "chief" ? el("a", { class: "button", href: `/console/sittings/${BOOT.sitting_id}/rooms/${r.room_id}` }, T.open_room) : ""));
  });
  const foot = el("tr", { class: "total" }, el("td", {}, "∑"), KEYS.map((k) => el("td", { "data-total": k }, String(total[k]))), el("td", {}, ""));
  document.getElementById("rooms").replaceChildren(head, ...rows, foot);
  const pauseBtn = document.getElementById("pause");
  if (pauseBtn) pauseBtn.textContent = s.centre_paused ? T.a_resume_centre : T.a_pause_centre;
  if (s.centre_paused) banner(fmt("centre_pause_on", { r: s.centre_pause_reason || "" }), "warn"); else banner("");
}

function drawChart(data) {
  const W = 720, H = 250, P = { l: 44, r: 16, t: 34, b: 30 };
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`); svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", T.progress);
  const t0 = Date.parse(data.start), t1 = Date.parse(data.end);
  const x = (t) => P.l + (W - P.l - P.r) * (Date.parse(t) - t0) / Math.max(1, t1 - t0);
  const y = (pct) => H - P.b - (H - P.t - P.b) * pct / 100;
  const add = (tag, attrs, text) => { const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text) e.textContent = text; svg.append(e); return e; };
  for (const pct of [0, 25, 50, 75, 100]) {
    add("line", { x1: P.l, x2: W - P.r, y1: y(pct), y2: y(pct), class: "gridline" });
    add("text", { x: P.l - 6, y: y(pct) + 4, "text-anchor": "end", class: "axis" }, pct + "%");
  }
  add("text", { x: P.l, y: H - 8, class: "axis" }, hhmm(data.start));
  add("text", { x: W - P.r, y: H - 8, "text-anchor": "end", class: "axis" }, hhmm(data.end));
  const n = Math.max(1, data.expected);
  const lines = [["logged_in", T.logged_in, (p) => 100 * p.logged_in / n], ["answered", T.answered_pct, (p) => p.answered_pct],
    ["submitted", T.submitted, (p) => 100 * p.submitted / n]];
  lines.forEach(([cls, label, f], i) => {
    const pts = data.series.map((p) => `${x(p.t).toFixed(1)},${y(f(p)).toFixed(1)}`).join(" ");
    add("polyline", { points: pts, class: "series s-" + cls, fill: "none" });
    add("rect", { x: P.l + 10 + i * 150, y: 10, width: 12, height: 4, class: "legend s-" + cls });
    add("text", { x: P.l + 28 + i * 150, y: 16, class: "axis" }, label);
  });
  document.getElementById("chart").replaceChildren(svg);
}
function loadChart() {
  fetch(`/console/api/sittings/${BOOT.sitting_id}/progress`, { credentials: "same-origin" })
    .then((r) => r.json()).then(drawChart).catch(() => {});
}

const socket = openSocket();
function refresh() {
  if (socket && socket.connected) socket.emit("join", { sitting_id: BOOT.sitting_id }, applyOverview);
  else fetch(`/console/api/sittings/${BOOT.sitting_id}/overview`, { credentials: "same-origin" }).then((r) => r.json()).then(applyOverview);
}
if (socket) {
  liveIndicator(socket);
  socket.on("connect", refresh);
  socket.on("counts", (m) => {
    if (m.sitting_id !== BOOT.sitting_id || !S.overview) return;
    for (const r of S.overview.rooms) if (m.rooms[r.room_id]) Object.assign(r, m.rooms[r.room_id]);
    render();
  });
  socket.on("room_state", refresh);
} else refresh();
const base = `/console/api/sittings/${BOOT.sitting_id}`;
const pauseBtn = document.getElementById("pause");
if (pauseBtn) pauseBtn.addEventListener("click", () => {
  const resume = S.overview && S.overview.sitting.centre_paused;
  confirmDialog(resume ? T.a_resume_centre : T.a_pause_centre, resume ? [] : [{ name: "reason", label: T.reason, type: "textarea", required: true }],
    (v) => post(`${base}/${resume ? "resume" : "pause"}`, v).then((r) => { if (r.ok) refresh(); return r; }));
});
const bc = document.getElementById("broadcast");
if (bc) bc.addEventListener("click", () =>
  confirmDialog(T.a_broadcast, [{ name: "text", label: T.message, type: "textarea", required: true }], (v) => post(`${base}/broadcast`, v)));
loadChart();
setInterval(loadChart, 15000);
setInterval(refresh, 30000);
