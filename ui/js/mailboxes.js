// The address list: one row per mailbox (address, unread count, expiry in words) whose actions
// live in one shared menu, the "All inboxes" row above them, and what the menu does (copy,
// extend within the tier's cap, mark all read, empty, delete with a confirmation when it still
// holds mail).

import { api } from "./api.js";
import { extendChoices } from "./caps.js";
import { $, el, setText, KeyedRows, toast, copy, showError } from "./dom.js";
import { state, app, ALL, mailboxById } from "./state.js";
import { expiryWords, localDateTime } from "./util.js";

function mailboxRow() {
  const li = el("li", "mailbox");
  li.dataset.testid = "mailbox";
  // The row's main control: a button, so Tab and Enter reach every address (its menu is the
  // row's only other stop; the actions themselves are in the menu).
  const open = el("button", "mb-open");
  open.type = "button";
  const addr = el("span", "addr");
  const badge = el("span", "badge");
  const tier = el("span", "tier");
  const cd = el("span", "countdown");
  const remote = el("span", "tier", "remote");
  const app_ = el("span", "tier"); // the SMTP user whose mail made it (an inbox per app)
  const meta = el("span", "meta");
  meta.append(tier, cd, remote, app_);
  open.append(addr, meta, badge);
  const more = el("button", "btn-ghost mb-more", "⋯");
  more.type = "button";
  more.dataset.action = "menu";
  more.setAttribute("aria-haspopup", "menu");
  more.setAttribute("aria-expanded", "false");
  li.append(open, more);
  return { el: li, open, more, addr, badge, tier, cd, remote, app: app_, expires: null };
}

function fillMailboxRow(row, m) {
  row.el.dataset.id = m.id;
  row.open.id = `mb-${m.id}`;
  setText(row.addr, m.address);
  row.addr.title = m.address;
  row.more.setAttribute("aria-label", `Actions for ${m.address}`);
  setText(row.tier, m.tier);
  row.remote.hidden = m.origin !== "remote";
  setText(row.app, m.smtpUser ? `app: ${m.smtpUser}` : "");
  row.app.hidden = !m.smtpUser;
  row.app.title = m.smtpUser ? `Catches what SMTP user ${m.smtpUser} sends` : "";
  row.expires = null;
}

function updateMailboxRow(row, m) {
  const active = m.id === state.current;
  row.el.classList.toggle("active", active);
  if (active) row.open.setAttribute("aria-current", "true");
  else row.open.removeAttribute("aria-current");
  const unread = m.unreadCount || 0;
  setText(row.badge, String(unread));
  row.badge.classList.toggle("zero", !unread);
  const title = `${unread} unread of ${m.messageCount || 0}`;
  if (row.badge.title !== title) row.badge.title = title;
  if (row.expires !== m.expiresAt) {
    row.expires = m.expiresAt;
    row.cd.title = `Expires ${localDateTime(m.expiresAt)}`;
    showExpiry(row, Date.now());
  }
}

function showExpiry(row, now) {
  const { text, state: s } = expiryWords(row.expires, now);
  setText(row.cd, text);
  row.cd.dataset.state = s;
}

let mailboxRows = null;

export function renderMailboxes() {
  mailboxRows.sync(state.mailboxes);
  $("mailboxes-empty").hidden = state.mailboxes.length > 0;
  document.body.toggleAttribute("data-first", state.mailboxes.length === 0);
  const all = $("all-inboxes");
  all.hidden = state.mailboxes.length < 2;
  all.classList.toggle("active", state.current === ALL);
  if (state.current === ALL) all.setAttribute("aria-current", "true");
  else all.removeAttribute("aria-current");
  const unread = state.mailboxes.reduce((n, m) => n + (m.unreadCount || 0), 0);
  setText($("all-unread"), String(unread));
  $("all-unread").classList.toggle("zero", !unread);
  app.onUnread?.(unread);
}

/** Live expiry texts; a mailbox whose time is up goes away without waiting for the event. */
export function tickMailboxes(now) {
  for (const row of mailboxRows.rows.values()) showExpiry(row, now);
  for (const m of [...state.mailboxes]) {
    if (Date.parse(m.expiresAt) <= now) app.mailboxExpired(m.id);
  }
}

/** Shows the addresses: `list` when already fetched, else the engine's. */
export async function loadMailboxes(list) {
  state.mailboxes = list ?? (await api.mailboxes());
  renderMailboxes();
}

/** The order `[` and `]` walk: All inboxes (when shown), then the addresses as listed. */
export function mailboxOrder() {
  const ids = state.mailboxes.map((m) => m.id);
  return state.mailboxes.length >= 2 ? [ALL, ...ids] : ids;
}

export async function createMailbox() {
  const btn = $("new-address");
  const body = {};
  const tier = $("new-tier").value;
  const ttl = $("new-ttl").value;
  const local = $("new-local").value.trim();
  if (tier) body.tier = tier;
  if (ttl) body.ttlMinutes = Number(ttl);
  if (local) body.localPart = local;
  const where = $("new-where").value;
  if (where) body.remote = where;
  btn.disabled = true;
  try {
    const m = await addMailbox(body);
    $("new-local").value = "";
    await copy(m.address, null);
    btn.textContent = "Copied ✓";
    setTimeout(() => (btn.textContent = "New address"), 1500);
  } catch (e) {
    showError(e);
  } finally {
    btn.disabled = false;
  }
}

/** Makes a mailbox (POST /v1/mailbox `body`), lists it and opens it. */
export async function addMailbox(body) {
  const m = await api.createMailbox(body);
  if (!state.mailboxes.some((x) => x.id === m.id)) state.mailboxes.unshift(m);
  app.openMailbox(m.id);
  return m;
}

async function extend(m, body) {
  try {
    const updated = await api.updateMailbox(m.id, body);
    Object.assign(m, updated);
    renderMailboxes();
    app.renderMessages();
    toast(expiryWords(m.expiresAt).text);
  } catch (e) {
    showError(e);
  }
}

async function removeMailbox(m) {
  const n = m.messageCount || 0;
  if (n > 0 && !(await confirmDialog(
    `Delete ${m.address}?`,
    `It still holds ${n} message${n === 1 ? "" : "s"}; they are deleted with it, for good.`,
    "Delete address",
  ))) return;
  try {
    await api.deleteMailbox(m.id);
  } catch (e) {
    if (e.status !== 404) return showError(e);
  }
  app.forgetMailbox(m.id);
  toast(`Deleted ${m.address}`);
}

async function emptyMailbox(m) {
  const n = m.messageCount || 0;
  if (n > 0 && !(await confirmDialog(
    `Empty ${m.address}?`,
    `Its ${n} message${n === 1 ? "" : "s"} are deleted for good; the address stays.`,
    "Empty mailbox",
  ))) return;
  await app.bulk(m.id, { action: "delete", all: true }, `Emptied ${m.address}`);
}

/** Asks yes or no in a modal dialog; resolves true for yes. */
export function confirmDialog(title, text, yes) {
  const d = $("confirm");
  setText($("confirm-title"), title);
  setText($("confirm-text"), text);
  setText($("confirm-yes"), yes);
  d.showModal();
  $("confirm-no").focus();
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(d.returnValue === "yes"), { once: true });
  });
}

// ---- the row menu ---------------------------------------------------------------------------

let menuFor = null; // { mailbox, trigger }

function menuItem(label, run, { ok = true, reason = "", danger = false, testid } = {}) {
  const b = el("button", danger ? "menu-item danger" : "menu-item");
  b.type = "button";
  b.setAttribute("role", "menuitem");
  b.tabIndex = -1;
  b.append(el("span", "menu-label", label));
  if (testid) b.dataset.testid = testid;
  if (!ok) {
    b.setAttribute("aria-disabled", "true");
    b.title = reason;
  } else {
    b.addEventListener("click", () => {
      closeMenu();
      run();
    });
  }
  return b;
}

function openMenu(m, trigger) {
  closeMenu();
  const menu = $("mailbox-menu");
  menu.replaceChildren();
  menu.append(
    menuItem("Copy address", () => copy(m.address, null), { testid: "menu-copy" }),
    el("div", "menu-head", "Extend"),
  );
  const choices = extendChoices(m);
  for (const c of choices) menu.append(menuItem(c.label, () => extend(m, c.body), { ...c, testid: "menu-extend" }));
  const blocked = choices.find((c) => !c.ok);
  if (blocked) {
    const why = el("p", "menu-reason", blocked.reason);
    why.dataset.testid = "menu-reason";
    menu.append(why);
  }
  const unread = m.unreadCount || 0;
  const count = m.messageCount || 0;
  menu.append(
    el("hr"),
    menuItem("Mark all read", () => app.bulk(m.id, { action: "read", all: true }, `Marked ${m.address} read`),
      { ok: unread > 0, reason: "No unread mail", testid: "menu-read" }),
    menuItem("Empty mailbox", () => emptyMailbox(m), { ok: count > 0, reason: "No mail", testid: "menu-empty" }),
    menuItem("Delete address", () => removeMailbox(m), { danger: true, testid: "menu-delete" }),
  );
  menu.setAttribute("aria-label", `Actions for ${m.address}`);
  menu.hidden = false;
  const r = trigger.getBoundingClientRect();
  const w = menu.offsetWidth;
  menu.style.left = `${Math.max(8, Math.min(r.right - w, window.innerWidth - w - 8))}px`;
  const below = r.bottom + 4;
  menu.style.top = `${below + menu.offsetHeight > window.innerHeight ? Math.max(8, r.top - menu.offsetHeight - 4) : below}px`;
  trigger.setAttribute("aria-expanded", "true");
  menuFor = { mailbox: m, trigger };
  focusItem(0);
}

function items() {
  return [...$("mailbox-menu").querySelectorAll(".menu-item")];
}

function focusItem(i) {
  const list = items();
  if (list.length) list[(i + list.length) % list.length].focus();
}

export function closeMenu({ refocus = false } = {}) {
  const menu = $("mailbox-menu");
  if (menu.hidden) return false;
  menu.hidden = true;
  if (menuFor) {
    menuFor.trigger.setAttribute("aria-expanded", "false");
    if (refocus) menuFor.trigger.focus();
  }
  menuFor = null;
  return true;
}

function onMenuKey(ev) {
  const list = items();
  const i = list.indexOf(document.activeElement);
  const keys = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: list.length - 1 };
  if (ev.key in keys) focusItem(keys[ev.key]);
  else if (ev.key === "Escape") closeMenu({ refocus: true });
  else if (ev.key === "Tab") closeMenu();
  else return;
  ev.preventDefault();
  ev.stopPropagation();
}

function onMailboxClick(ev) {
  const li = ev.target.closest("li.mailbox");
  const m = li && mailboxById(li.dataset.id);
  if (!m) return;
  const more = ev.target.closest("button[data-action=menu]");
  if (more) {
    if (menuFor && menuFor.trigger === more) closeMenu();
    else openMenu(m, more);
  } else {
    app.openMailbox(m.id);
  }
}

export function initMailboxes() {
  mailboxRows = new KeyedRows($("mailbox-list"), {
    create: mailboxRow, fill: fillMailboxRow, update: updateMailboxRow,
  });
  $("mailbox-list").addEventListener("click", onMailboxClick);
  $("all-inboxes").addEventListener("click", () => app.openMailbox(ALL));
  $("new-address").addEventListener("click", createMailbox);
  const menu = $("mailbox-menu");
  menu.addEventListener("keydown", onMenuKey);
  document.addEventListener("pointerdown", (ev) => {
    if (!menu.hidden && !menu.contains(ev.target) && !ev.target.closest("[data-action=menu]")) closeMenu();
  });
  window.addEventListener("resize", () => closeMenu());
}
