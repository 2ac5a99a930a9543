// Faults on demand (GET/PUT /v1/faults): a banner on every page while any fault is on, with one
// click to turn them all off, and the settings view's "Faults" section (the JSON, an editor).

import { api } from "./api.js";
import { pageBanner } from "./util.js";

const $ = (id) => document.getElementById(id);

/** One line saying what the faults do now ("RCPT answers 451 4.3.0 Try again; greylisting 5 s"). */
export function faultSummary(f) {
  if (!f || !f.active) return "";
  const parts = [];
  for (const r of f.rules || []) {
    if (r.count === 0) continue;
    const stage = r.stage === "dataEnd" ? "end of DATA" : r.stage.toUpperCase();
    let what = r.code ? `answers ${r.code}${r.text ? " " + r.text : ""}` : "";
    if (r.disconnectAfterBytes != null) what = `disconnects after ${r.disconnectAfterBytes} bytes`;
    if (r.delayMs) what = what ? `waits ${r.delayMs} ms, then ${what}` : `waits ${r.delayMs} ms`;
    const when = r.count != null ? ` (next ${r.count})` : r.probability != null ? ` (${Math.round(r.probability * 100)} %)` : "";
    parts.push(`${stage} ${what}${when}`);
  }
  for (const m of f.mailboxes || []) parts.push(`${m.address} answers as ${m.answer}`);
  if (f.greylist) parts.push(`greylisting ${f.greylist.delaySeconds} s`);
  if (f.rateLimit) parts.push(`${f.rateLimit.messages} messages per ${f.rateLimit.windowSeconds} s`);
  return parts.join("; ");
}

function banner() {
  return pageBanner("faults-banner", {
    className: "faults-banner",
    title: "Turn every fault off (PUT /v1/faults {})",
    onClick: () => turnOff(),
  });
}

/** Shows the faults in force: the banner and the settings section. */
export function showFaults(f) {
  const b = banner();
  const summary = faultSummary(f);
  b.hidden = !summary;
  b.textContent = summary ? `Faults are on: ${summary}. Click to turn them off.` : "";
  const state = $("faults-state");
  if (state) state.textContent = summary ? `On: ${summary}` : "Off: SMTP answers as it normally does.";
  const editor = $("faults-json");
  // Never overwrite what the user is typing.
  if (editor && document.activeElement !== editor) {
    const { active, ...config } = f || {};
    editor.value = JSON.stringify(config, null, 2);
  }
}

async function turnOff() {
  try {
    showFaults(await api.setFaults({}));
  } catch (e) {
    status(e.message);
  }
}

function status(text) {
  const s = $("faults-status");
  if (s) s.textContent = text;
}

async function apply() {
  let body;
  try {
    body = JSON.parse($("faults-json").value || "{}");
  } catch (e) {
    status(`Not valid JSON: ${e.message}`);
    return;
  }
  try {
    showFaults(await api.setFaults(body));
    status("Applied.");
  } catch (e) {
    status(e.message);
  }
}

/** Reads the faults in force and wires the settings section; call again after a reconnect. */
export async function loadFaults() {
  try {
    showFaults(await api.faults());
  } catch {
    // The banner stays as it was; the next event or reconnect reads again.
  }
}

export function initFaults() {
  banner();
  $("faults-apply")?.addEventListener("click", apply);
  $("faults-off")?.addEventListener("click", turnOff);
  return loadFaults();
}
