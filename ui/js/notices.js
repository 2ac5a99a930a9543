// Notices above the panes: mail refused for an unknown address (GET /v1/refusals, which has no
// event: read at start, on each reconnect, when the page is shown again and every few seconds
// while it is in sight), with "Create this address" and "Accept all addresses (catch-all)";
// a mailbox about to expire (the `mailbox.expiring` event), with an extension if its cap allows
// one; and a mailbox that expired.

import { api } from "./api.js";
import { extendChoices } from "./caps.js";
import { $, el, toast, showError } from "./dom.js";
import { state, app, mailboxById } from "./state.js";
import { expiryWords } from "./util.js";

const REFUSALS_POLL_MS = 4000;
const SHOWN_RECIPIENTS = 3;

let dismissedBefore = ""; // refusals at or before this time were dismissed (RFC 3339 sorts)
let lastRefused = []; // the recipients on show

/**
 * Unknown recipients refused since `after`, newest first, each once, leaving out those that
 * have a mailbox now (`live`, lower-case addresses): [{ address, time }].
 */
export function refusedRecipients(refusals, after = "", live = new Set()) {
  const seen = new Map();
  for (const r of refusals || []) {
    if (r.code !== 550 || !(r.time > after)) continue;
    for (const a of r.recipients || []) {
      const key = a.toLowerCase();
      if (!seen.has(key) && !live.has(key)) seen.set(key, { address: a, time: r.time });
    }
  }
  return [...seen.values()];
}

function notice(kind, testid) {
  const n = el("div", `notice notice-${kind}`);
  n.dataset.testid = testid;
  n.setAttribute("role", kind === "warn" ? "alert" : "status");
  return n;
}

function button(label, run, cls = "btn-ghost") {
  const b = el("button", cls, label);
  b.type = "button";
  b.addEventListener("click", run);
  return b;
}

function renderRefusals(list) {
  lastRefused = list;
  const box = $("refusals");
  box.replaceChildren();
  box.hidden = list.length === 0;
  if (!list.length) return;
  const n = notice("warn", "refusals");
  const head = el("p", "notice-title");
  head.append(
    el("strong", "", list.length === 1 ? "Mail was refused: " : `Mail to ${list.length} unknown addresses was refused: `),
    document.createTextNode("no mailbox has that address, and catch-all is off."),
  );
  const ul = el("ul", "refused");
  for (const r of list.slice(0, SHOWN_RECIPIENTS)) {
    const li = el("li");
    li.dataset.testid = "refused";
    li.append(el("code", "", r.address), button("Create this address", () => createRefused(r.address)));
    ul.append(li);
  }
  if (list.length > SHOWN_RECIPIENTS) ul.append(el("li", "muted", `and ${list.length - SHOWN_RECIPIENTS} more`));
  const actions = el("div", "notice-actions");
  actions.append(
    button("Accept all addresses (catch-all)", acceptAll, "btn-primary"),
    button("Dismiss", () => {
      dismissedBefore = list[0].time;
      renderRefusals([]);
    }),
  );
  n.append(head, ul, actions);
  box.append(n);
}

async function createRefused(address) {
  const at = address.lastIndexOf("@");
  try {
    const m = await app.addMailbox({ localPart: address.slice(0, at), domain: address.slice(at + 1) });
    toast(`Created ${m.address}: mail to it is kept now`);
    await loadRefusals();
  } catch (e) {
    showError(e);
  }
}

async function acceptAll() {
  try {
    // Caught mail gets the tier new addresses get.
    const { defaultTier } = await api.settings();
    await api.updateSettings({ catchAll: defaultTier || "anon" });
    dismissedBefore = lastRefused[0] ? lastRefused[0].time : dismissedBefore;
    renderRefusals([]);
    toast("Catch-all is on: mail to any address is kept (Settings turns it off)");
  } catch (e) {
    showError(e);
  }
}

export async function loadRefusals() {
  try {
    const r = await api.refusals();
    const live = new Set(state.mailboxes.map((m) => m.address.toLowerCase()));
    renderRefusals(refusedRecipients(r.refusals ?? r, dismissedBefore, live));
  } catch {
    // The banner is a hint; the next poll tries again.
  }
}

// ---- expiry --------------------------------------------------------------------------------

const expiryNotices = new Map(); // mailbox id → its notice

function dropExpiryNotice(id) {
  expiryNotices.get(id)?.remove();
  expiryNotices.delete(id);
  $("expiry-notices").hidden = expiryNotices.size === 0;
}

function showExpiryNotice(id, n) {
  dropExpiryNotice(id);
  n.append(button("Dismiss", () => dropExpiryNotice(id)));
  expiryNotices.set(id, n);
  $("expiry-notices").append(n);
  $("expiry-notices").hidden = false;
}

/** `mailbox.expiring`: a warning with the time left, and the longest extension the cap allows. */
export function warnExpiring(m) {
  if (!m) return;
  const n = notice("warn", "expiring");
  n.append(el("p", "notice-title", `${m.address} ${expiryWords(m.expiresAt).text.replace(/^Expires/, "expires")}; its mail goes with it.`));
  const choice = extendChoices(m).filter((c) => c.ok).pop();
  if (choice) {
    n.append(button(`Extend ${choice.label.replace(/^To/, "to")}`, async () => {
      try {
        const u = await api.updateMailbox(m.id, choice.body);
        Object.assign(mailboxById(m.id) || {}, u);
        app.renderMailboxes();
        dropExpiryNotice(m.id);
        toast(expiryWords(u.expiresAt).text);
      } catch (e) {
        showError(e);
      }
    }, "btn-primary"));
  } else {
    n.append(el("span", "muted", extendChoices(m)[0]?.reason || ""));
  }
  showExpiryNotice(m.id, n);
}

/** A mailbox expired (its event, or its time ran out on the page). */
export function noticeExpired(m) {
  const n = notice("info", "expired");
  n.append(el("p", "notice-title", `${m.address} expired; it and its mail are gone.`));
  showExpiryNotice(m.id, n);
}

export function initNotices() {
  loadRefusals();
  setInterval(() => {
    if (document.visibilityState === "visible") loadRefusals();
  }, REFUSALS_POLL_MS);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") loadRefusals();
  });
}
