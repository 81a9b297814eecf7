/* Shared by the console's pages: boot data, words, CSRF'd requests, dialogs, time. */
"use strict";
const BOOT = JSON.parse(document.getElementById("boot").textContent);
const T = BOOT.text;
const CSRF = document.querySelector('meta[name="csrf-token"]').content;
// The centre's time zone (configured, TIME_ZONE): every time on the console is in it.
const TIME_ZONE = (document.querySelector('meta[name="time-zone"]') || {}).content || "Asia/Shanghai";
let serverSkewMs = 0; // server time minus this browser's time

function fmt(key, vars) {
  let s = T[key] || key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace("{" + k + "}", v);
  return s;
}
function serverNow() { return Date.now() + serverSkewMs; }
function syncClock(iso) { if (iso) serverSkewMs = Date.parse(iso) - Date.now(); }
function hhmm(iso, seconds) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString("zh-CN", {
    timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit",
    second: seconds ? "2-digit" : undefined, hour12: false });
}
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) e.append(c.nodeType ? c : String(c));
  return e;
}
async function post(url, body) {
  const resp = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": CSRF },
    body: JSON.stringify(body || {}) });
  let data = {};
  try { data = await resp.json(); } catch (e) { data = { ok: false, message: resp.statusText }; }
  if (resp.status === 401) { location.href = "/console/login?next=" + encodeURIComponent(location.pathname); }
  return data;
}
function banner(text, kind) {
  const b = document.getElementById("banner");
  if (!b) return;
  b.hidden = !text; b.textContent = text || ""; b.className = "banner " + (kind || "");
}

/* After an action: a line that stays a few seconds where the eye is (top of the page), and
   is read out by screen readers, so an invigilator sees that the click did something. */
function notify(text) {
  let n = document.getElementById("notice");
  if (!n) {
    n = el("div", { id: "notice", class: "notice", role: "status", "aria-live": "polite" });
    document.body.append(n);
  }
  n.textContent = text; n.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => { n.hidden = true; }, 6000);
}

/* A confirmation dialog: fields = [{name, label, type, value, required, options}].
   Resolves with the values, or null if cancelled; `submit(values)` may reject with a
   message, which is shown in the dialog (it stays open). */
function confirmDialog(title, fields, submit, okLabel) {
  const dlg = document.getElementById("dialog");
  document.getElementById("dialog-title").textContent = title;
  const body = document.getElementById("dialog-body");
  body.replaceChildren();
  const err = document.getElementById("dialog-error");
  err.textContent = "";
  const inputs = {};
  for (const f of fields) {
    if (f.type === "html") { body.append(f.node); continue; }
    let input;
    if (f.type === "textarea") input = el("textarea", { name: f.name, rows: 3, required: f.required });
    else if (f.type === "radio") {
      input = el("div", { class: "radios" }, f.options.map(([v, label], i) =>
        el("label", {}, el("input", { type: "radio", name: f.name, value: v, checked: i === 0 }), label)));
    } else input = el("input", { name: f.name, type: f.type || "text", required: f.required, min: f.min, max: f.max });
    if (f.value !== undefined && input.tagName !== "DIV") input.value = f.value;
    inputs[f.name] = input;
    body.append(el("label", { class: "field" }, f.label, input));
  }
  document.getElementById("dialog-ok").textContent = okLabel || T.confirm;
  const cancel = document.getElementById("dialog-cancel");
  cancel.textContent = T.cancel;
  return new Promise((resolve) => {
    const ok = document.getElementById("dialog-ok");
    const done = (v) => { ok.onclick = null; cancel.onclick = null; dlg.close(); resolve(v); };
    cancel.onclick = () => done(null);
    ok.onclick = async (ev) => {
      ev.preventDefault();
      const values = {};
      for (const [name, input] of Object.entries(inputs)) {
        values[name] = input.tagName === "DIV"
          ? (input.querySelector("input:checked") || {}).value : input.value;
        const spec = fields.find((f) => f.name === name);
        if (spec.required && !String(values[name] || "").trim()) { err.textContent = T.rule_reason_required; return; }
      }
      ok.disabled = true;
      try {
        const r = await submit(values);
        if (r && r.ok === false) { err.textContent = r.message || r.code; return; }
        done(values);
        notify(fmt("done_action", { what: title }));
      } finally { ok.disabled = false; }
    };
    dlg.showModal();
  });
}

/* Web Audio beep: no audio files. Browsers allow sound only after a click on the page. */
let audio = null;
let soundOn = false;
window.__beeps = 0;
function enableSound(on) {
  soundOn = on;
  if (on && !audio) { try { audio = new (window.AudioContext || window.webkitAudioContext)(); } catch (e) { audio = null; } }
}
function beep() {
  window.__beeps += 1;
  if (!soundOn || !audio) return;
  const o = audio.createOscillator(), g = audio.createGain();
  o.type = "square"; o.frequency.value = 880;
  g.gain.setValueAtTime(0.15, audio.currentTime);
  g.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
  o.connect(g); g.connect(audio.destination); o.start(); o.stop(audio.currentTime + 0.6);
}
function liveIndicator(socket) {
  const live = document.getElementById("live");
  const set = (ok) => { live.textContent = ok ? T.live_ok : T.live_lost; live.className = "live " + (ok ? "on" : "off"); };
  socket.on("connect", () => set(true));
  socket.on("disconnect", () => set(false));
  socket.on("connect_error", (e) => { set(false); if (e && e.message === "login_required") location.href = "/console/login"; });
}
function openSocket() {
  if (typeof io === "undefined") { banner(T.no_client_js, "error"); return null; }
  return io("/proctor", { transports: ["websocket"], withCredentials: true });
}
