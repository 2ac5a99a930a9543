// Pause intake (GET/PUT /v1/intake): while paused, every new SMTP session is answered 421 and
// closed. The banner says so loudly on every page, with one click to resume; the settings view
// has the switch. Live through the intake.updated event.

import { api } from "./api.js";
import { pageBanner } from "./util.js";

const $ = (id) => document.getElementById(id);

/** The banner's words for an intake state ("" while mail is taken). */
export function intakeSummary(intake, timeOf = (iso) => new Date(iso).toLocaleTimeString()) {
  if (!intake || !intake.paused) return "";
  const since = intake.pausedAt ? ` since ${timeOf(intake.pausedAt)}` : "";
  return `Intake is paused${since}: every SMTP client is answered "${intake.code} ${intake.text}" and its mail is not taken.`;
}

function banner() {
  return pageBanner("intake-banner", {
    className: "intake-banner",
    title: 'Take mail again (PUT /v1/intake {"paused": false})',
    onClick: () => setPaused(false),
  });
}

/** Shows an intake state: the banner and the settings switch. */
export function showIntake(intake) {
  const b = banner();
  const summary = intakeSummary(intake);
  b.hidden = !summary;
  b.textContent = summary ? `${summary} Click to resume.` : "";
  const toggle = $("intake-paused");
  if (toggle) toggle.checked = Boolean(intake && intake.paused);
}

async function setPaused(paused) {
  const status = $("intake-status");
  try {
    showIntake(await api.setIntake({ paused }));
    if (status) status.textContent = "";
  } catch (e) {
    if (status) status.textContent = e.message;
  }
}

/** Reads the intake state; call again after a reconnect. */
export async function loadIntake() {
  try {
    showIntake(await api.intake());
  } catch {
    // The banner stays as it was; the next event or reconnect reads again.
  }
}

export function initIntake() {
  banner();
  $("intake-paused")?.addEventListener("change", (ev) => setPaused(ev.target.checked));
  return loadIntake();
}
