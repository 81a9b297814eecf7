/* 终端绑定: one-time enrolment codes per seat, and revoking an enrolment. */
"use strict";
for (const btn of document.querySelectorAll("button[data-code]")) {
  btn.addEventListener("click", async () => {
    const r = await post(`/console/api/seats/${btn.dataset.code}/enrolment-code`, {});
    if (!r.ok) { banner(r.message || r.code, "error"); return; }
    const node = el("div", { class: "enrol-code" },
      el("p", {}, fmt("code_for", { s: r.seat, t: hhmm(r.expires_at) })),
      el("p", { class: "code" }, el("code", { id: "enrol-code" }, r.code)),
      el("p", {}, T.ca_fingerprint + ": ", el("code", {}, r.ca_fingerprint || T.no_tls_yet)));
    await confirmDialog(T.a_make_code + " · " + r.seat, [{ type: "html", node }], async () => true, T.confirm);
  });
}
for (const btn of document.querySelectorAll("button[data-revoke]")) {
  btn.addEventListener("click", () =>
    confirmDialog(T.a_revoke + " · " + btn.dataset.label, [{ name: "reason", label: T.reason, type: "textarea", required: true }],
      (v) => post(`/console/api/enrolments/${btn.dataset.revoke}/revoke`, v).then((r) => { if (r.ok) location.reload(); return r; })));
}
