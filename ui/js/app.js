// Mailiy inbox: mailboxes, live message list, message view. Talks only to the API.

import { api, connectEvents } from "./api.js";
import { renderMessage, tickReader } from "./message.js";
import { initFaults, loadFaults, showFaults } from "./faults.js";
import { initIntake, loadIntake, showIntake } from "./pause.js";
import { initTransfer } from "./transfer.js";
import {
  openSettings, closeSettings, initSettings, askForToken, takeTokenFromHash, isAuthError,
} from "./settings.js";
import {
  countdown, msLeft, relativeTime, moveSelection, selectionAfterRemove, matchesFilter,
  senderLabel, parseRoute, routeHash, insertNewest, localDateTime,
} from "./util.js";

const $ = (id) => document.getElementById(id);

const state = {
  health: null,
  mailboxes: [],
  current: null, // mailbox id
  messages: [], // summaries of the current mailbox, newest first
  selected: -1, // index into the filtered list
  openId: null, // open message id
  filter: "",
  allowRemote: false,
  fresh: new Set(), // ids that arrived since the last list render (animated once); at most MAX_ROWS
  live: new Map(), // summaries pushed by events while a list fetch is in flight; at most MAX_ROWS
  loading: false, // a list fetch is in flight
};

// The list keeps the newest rows only: a mailbox flooded with 10,000 messages must not hold
// 10,000 rows in the page (the mailbox's count still says how many there are).
const MAX_ROWS = 500;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Sets an element's text, touching the DOM only when it changes (and reusing its text node). */
function setText(node, text) {
  const t = node.firstChild;
  if (t && t.nodeType === Node.TEXT_NODE && !t.nextSibling) {
    if (t.data !== text) t.data = text;
  } else if (node.textContent !== text) {
    node.textContent = text;
  }
}

/**
 * The rows of a list element, one per item id, kept across renders: `sync(items)` touches only
 * rows whose item came, went or moved, and a row whose item left the list is refilled for an item
 * that came in the same render. So mail streaming into a full list moves one row from the bottom
 * to the top and changes its texts: no list rebuilt per frame (which grew WebKit's web process to
 * a gigabyte) and no nodes made and dropped per message (which still grew it by ~0.5 MB/s).
 * `create()` returns an empty record `{ el, ... }`; `fill(record, item)` writes an item into it;
 * `update(record, item, index)` refreshes what changes while the item stays (state classes).
 */
class KeyedRows {
  constructor(parent, { create, fill, update }) {
    this.parent = parent;
    this.create = create;
    this.fill = fill;
    this.update = update;
    this.rows = new Map(); // id → record (which knows its id)
    this.pass = 0;
  }

  get(id) {
    return this.rows.get(id);
  }

  sync(items) {
    const pass = ++this.pass;
    for (const item of items) {
      const row = this.rows.get(item.id);
      if (row) row.pass = pass;
    }
    const spare = [];
    // No allocation per row below (this runs every frame while mail streams in).
    for (const row of this.rows.values()) {
      if (row.pass !== pass) {
        row.el.remove();
        this.rows.delete(row.id);
        spare.push(row);
      }
    }
    let next = this.parent.firstElementChild;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      let row = this.rows.get(item.id);
      if (!row) {
        row = spare.pop() || this.create();
        row.id = item.id;
        row.pass = pass;
        this.fill(row, item);
        this.rows.set(item.id, row);
      }
      this.update(row, item, i);
      if (row.el === next) next = next.nextElementSibling;
      else this.parent.insertBefore(row.el, next);
    }
  }
}

// ---- feedback ---------------------------------------------------------------------------

let toastTimer = null;
function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 2200);
}

function flash(button, text) {
  if (!button) return;
  const old = button.dataset.label || button.textContent;
  button.dataset.label = old;
  button.textContent = text;
  button.classList.add("done");
  setTimeout(() => {
    button.textContent = old;
    button.classList.remove("done");
  }, 1500);
}

function fallbackCopy(text) {
  const ta = document.createElement("textarea");
  ta.value = text;
  ta.setAttribute("readonly", "");
  ta.style.position = "fixed";
  ta.style.opacity = "0";
  document.body.append(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

async function copy(text, button) {
  let ok = false;
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      ok = true;
    }
  } catch {
    ok = false;
  }
  if (!ok) ok = fallbackCopy(text);
  if (ok) {
    flash(button, "Copied ✓");
    toast(`Copied ${text}`);
  } else {
    toast(`Copy it by hand: ${text}`);
  }
  return ok;
}

function showError(e) {
  toast(e && e.message ? e.message : String(e));
}

// ---- mailboxes ----------------------------------------------------------------------------

function currentMailbox() {
  return state.mailboxes.find((m) => m.id === state.current) || null;
}

// Row buttons: one listener on the list (rows are kept across renders, so they hold none).
const mailboxActions = {
  copy: (m, b) => copy(m.address, b),
  extend10: (m) => extend(m, 10),
  extend60: (m) => extend(m, 60),
  delete: (m) => removeMailbox(m),
};

function mailboxRow() {
  const li = el("li", "mailbox");
  li.dataset.testid = "mailbox";
  const addr = el("span", "addr");
  const badge = el("span", "badge");
  const tier = el("span", "tier");
  const cd = el("span", "countdown");
  const remote = el("span", "tier", "remote");
  const app = el("span", "tier"); // the SMTP user whose mail made it (an inbox per app)
  const meta = el("div", "meta");
  meta.append(tier, cd, remote, app);
  const actions = el("div", "actions");
  const mk = (label, title, action) => {
    const b = el("button", "btn-ghost", label);
    b.type = "button";
    b.title = title;
    b.dataset.action = action;
    actions.append(b);
    return b;
  };
  mk("Copy", "Copy address", "copy");
  mk("+10 min", "Extend by 10 minutes", "extend10");
  mk("+1 h", "Extend by an hour", "extend60");
  mk("Delete", "Delete the address and its mail now", "delete").classList.add("btn-danger");
  li.append(addr, meta, badge, actions);
  return { el: li, addr, badge, tier, cd, remote, app, expires: null };
}

function fillMailboxRow(row, m) {
  row.el.dataset.id = m.id;
  setText(row.addr, m.address);
  row.addr.title = m.address;
  setText(row.tier, m.tier);
  row.remote.hidden = m.origin !== "remote";
  setText(row.app, m.smtpUser ? `app: ${m.smtpUser}` : "");
  row.app.hidden = !m.smtpUser;
  row.app.title = m.smtpUser ? `Catches what SMTP user ${m.smtpUser} sends` : "";
  row.expires = null;
}

function updateMailboxRow(row, m) {
  row.el.classList.toggle("active", m.id === state.current);
  const unread = m.unreadCount || 0;
  setText(row.badge, String(unread));
  row.badge.classList.toggle("zero", !unread);
  const title = `${unread} unread of ${m.messageCount || 0}`;
  if (row.badge.title !== title) row.badge.title = title;
  if (row.expires !== m.expiresAt) {
    row.expires = m.expiresAt;
    row.cd.title = `Expires ${localDateTime(m.expiresAt)}`;
    showCountdown(row, Date.now());
  }
}

function showCountdown(row, now) {
  const left = msLeft(row.expires, now);
  setText(row.cd, left > 0 ? countdown(left) : "expired");
  row.cd.classList.toggle("soon", left < 60000);
}

let mailboxRows = null;
function renderMailboxes() {
  mailboxRows.sync(state.mailboxes);
  $("mailboxes-empty").hidden = state.mailboxes.length > 0;
}

function onMailboxClick(ev) {
  const li = ev.target.closest("li.mailbox");
  const m = li && state.mailboxes.find((x) => x.id === li.dataset.id);
  if (!m) return;
  const button = ev.target.closest("button[data-action]");
  if (button) mailboxActions[button.dataset.action](m, button);
  else openMailbox(m.id);
}

/** Shows the addresses: `list` when already fetched, else the engine's. */
async function loadMailboxes(list) {
  state.mailboxes = list ?? (await api.mailboxes());
  renderMailboxes();
}

async function createMailbox() {
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
    const m = await api.createMailbox(body);
    if (!state.mailboxes.some((x) => x.id === m.id)) state.mailboxes.unshift(m);
    $("new-local").value = "";
    openMailbox(m.id);
    await copy(m.address, null);
    btn.textContent = "Copied ✓";
    setTimeout(() => (btn.textContent = "New address"), 1500);
  } catch (e) {
    showError(e);
  } finally {
    btn.disabled = false;
  }
}

async function extend(m, minutes) {
  try {
    const updated = await api.extendMailbox(m.id, minutes);
    Object.assign(m, updated);
    renderMailboxes();
    if (m.id === state.current) renderHeader();
    toast(`Now expires in ${countdown(msLeft(m.expiresAt))}`);
  } catch (e) {
    showError(e);
  }
}

async function removeMailbox(m) {
  try {
    await api.deleteMailbox(m.id);
  } catch (e) {
    if (e.status !== 404) return showError(e);
  }
  forgetMailbox(m.id);
  toast(`Deleted ${m.address}`);
}

function forgetMailbox(id) {
  const before = state.mailboxes.length;
  state.mailboxes = state.mailboxes.filter((m) => m.id !== id);
  if (state.mailboxes.length === before) return;
  if (state.current === id) {
    state.current = null;
    state.messages = [];
    state.openId = null;
    state.selected = -1;
    location.hash = "#/";
    setView("mailboxes");
    renderMessages();
    renderViewerEmpty();
  }
  renderMailboxes();
}

// Live countdowns; a mailbox whose countdown reaches 0 goes away without waiting for the event.
function tick() {
  const now = Date.now();
  for (const row of mailboxRows.rows.values()) showCountdown(row, now);
  for (const m of [...state.mailboxes]) {
    if (msLeft(m.expiresAt, now) <= 0) forgetMailbox(m.id);
  }
  for (const row of messageRows.rows.values()) setText(row.time, relativeTime(row.at, now));
  tickReader($("viewer"), now, currentMailbox()?.expiresAt);
}

// ---- messages ---------------------------------------------------------------------------

function filtered() {
  if (!state.filter.trim()) return state.messages;
  return state.messages.filter((m) => matchesFilter(m, state.filter));
}

function renderHeader() {
  const m = currentMailbox();
  setText($("mb-address"), m ? m.address : "No address selected");
  setText($("mb-meta"), m ? `${m.tier} · ${m.messageCount ?? state.messages.length} messages` : "");
  $("mb-copy").disabled = !m;
  const smtp = state.health ? state.health.smtp : "127.0.0.1:1025";
  setText($("empty-smtp"), `smtp://${smtp}`);
  setText($("empty-cmd"), `swaks --to ${m ? m.address : "ADDRESS"} --server ${smtp}`);
}

// Mail arriving in a burst is drawn once per frame, not once per message, and while it keeps
// coming, at most once per BURST_RENDER_GAP_MS: laying out and painting the list every frame
// kept WebKit's web process busy at a full core, and a page that is never idle does not get its
// garbage collected (its heap grew by ~50 MB between collections). A lone message still shows
// on the next frame.
const BURST_RENDER_GAP_MS = 100;
const pendingRenders = new Set();
let frameRequested = false;
let lastRender = -Infinity;
function renderSoon(render) {
  pendingRenders.add(render);
  if (frameRequested) return;
  frameRequested = true;
  const inFrame = () =>
    requestAnimationFrame(() => {
      frameRequested = false;
      flushRenders();
    });
  const wait = lastRender + BURST_RENDER_GAP_MS - performance.now();
  if (wait > 0) setTimeout(inFrame, wait);
  else inFrame();
}

/** Runs the renders waiting for the next frame now, so the DOM matches the state. */
function flushRenders() {
  lastRender = performance.now();
  const due = [...pendingRenders];
  pendingRenders.clear();
  for (const r of due) r();
}

function messageRow() {
  const li = el("li", "msg");
  li.setAttribute("role", "option");
  li.dataset.testid = "message";
  const from = el("span", "from");
  const time = el("span", "time");
  const subject = el("span", "subject");
  const snippet = el("span", "snippet");
  li.append(from, time, subject, snippet);
  return { el: li, from, time, subject, clip: null, snippet };
}

/** The paper clip, made the first time the row shows a message with attachments. */
function showClip(row, shown) {
  if (shown && !row.clip) {
    row.clip = el("span", "clip", "attachment");
    row.clip.title = "Has attachments";
    row.clip.setAttribute("aria-label", "has attachments");
    row.snippet.before(row.clip);
  }
  if (row.clip) row.clip.hidden = !shown;
}

// The arrival highlight repaints its row every frame while it plays: in a flood, only a few rows
// get it (all of them would keep the whole list repainting).
const HIGHLIGHTS_AT_ONCE = 3;
const HIGHLIGHT_MS = 1200; // the `arrive` animation in app.css
const highlightStarts = []; // the newest HIGHLIGHTS_AT_ONCE, oldest first

function highlightNow(now) {
  if (highlightStarts.length === HIGHLIGHTS_AT_ONCE) {
    if (now - highlightStarts[0] < HIGHLIGHT_MS) return false;
    highlightStarts.shift();
  }
  highlightStarts.push(now);
  return true;
}

function fillMessageRow(row, m) {
  row.el.dataset.id = m.id;
  // A refilled row may still carry the highlight of the message it showed before.
  row.el.classList.toggle("new", state.fresh.has(m.id) && highlightNow(performance.now()));
  setText(row.from, senderLabel(m.from));
  row.from.title = m.from ? m.from.address || "" : "";
  row.at = m.receivedAt;
  setText(row.time, relativeTime(m.receivedAt));
  row.time.title = localDateTime(m.receivedAt);
  setText(row.subject, m.subject || "(no subject)");
  showClip(row, !!m.hasAttachments);
  setText(row.snippet, m.snippet || "");
  row.unread = row.selected = row.open = null;
}

function updateMessageRow(row, m, i) {
  const unread = !m.seen;
  const selected = i === state.selected;
  const open = m.id === state.openId;
  if (row.unread !== unread) row.el.classList.toggle("unread", (row.unread = unread));
  if (row.open !== open) row.el.classList.toggle("open", (row.open = open));
  if (row.selected !== selected) {
    row.el.classList.toggle("selected", (row.selected = selected));
    row.el.setAttribute("aria-selected", String(selected));
  }
}

let messageRows = null;
function renderMessages() {
  renderHeader();
  const list = filtered();
  if (state.selected >= list.length) state.selected = list.length - 1;
  messageRows.sync(list);
  state.fresh.clear();
  const none = state.current && list.length === 0;
  $("messages-empty").hidden = !none;
  setText(
    $("messages-empty-title"),
    state.messages.length && state.filter ? "Nothing matches the filter" : "No mail yet",
  );
}

function onMessageClick(ev) {
  const li = ev.target.closest("li.msg");
  if (li && messageRows.get(li.dataset.id)) openMessage(li.dataset.id);
}

async function loadMessages() {
  if (!state.current) {
    state.messages = [];
    renderMessages();
    return;
  }
  const id = state.current;
  state.live.clear();
  state.loading = true;
  try {
    let list = await api.messages(id);
    if (id !== state.current) return;
    // Mail that arrived (by event) while the list was on its way is kept, not overwritten.
    for (const m of state.live.values()) list = insertNewest(list, m);
    state.messages = list.slice(0, MAX_ROWS);
  } catch (e) {
    if (e.status === 404) {
      forgetMailbox(id);
      toast("That address has expired or was deleted.");
      return;
    }
    throw e;
  } finally {
    state.loading = false;
    state.live.clear();
  }
  renderMessages();
}

function openMailbox(id, { keepMessage = false } = {}) {
  if (state.current !== id) {
    state.current = id;
    state.messages = [];
    state.selected = -1;
    if (!keepMessage) state.openId = null;
    renderMailboxes();
    renderMessages();
    if (!keepMessage) renderViewerEmpty();
    loadMessages().catch(showError);
  }
  if (!keepMessage) {
    setHash(routeHash(id));
    setView("messages");
  }
}

function renderViewerEmpty() {
  const v = $("viewer");
  v.replaceChildren();
  const box = el("div", "empty viewer-empty");
  const p = el("p", "muted", "Select a message. Keys: j / k move, Enter opens, Delete deletes, c copies the address, / filters.");
  box.append(p);
  v.append(box);
}

let openSeq = 0;
async function openMessage(mid, { allowRemote = false, tab } = {}) {
  const mbx = state.current;
  if (!mbx) return;
  const seq = ++openSeq;
  state.openId = mid;
  state.allowRemote = allowRemote;
  const idx = filtered().findIndex((m) => m.id === mid);
  if (idx >= 0) state.selected = idx;
  setHash(routeHash(mbx, mid));
  setView("message");
  let msg;
  try {
    msg = await api.message(mbx, mid, allowRemote);
  } catch (e) {
    if (seq !== openSeq) return;
    const v = $("viewer");
    v.replaceChildren(el("div", "error-box", e.status === 404 ? "This message is gone (deleted or expired)." : e.message));
    return;
  }
  if (seq !== openSeq) return;
  const s = state.messages.find((m) => m.id === mid);
  if (s && !s.seen) {
    s.seen = true;
    const mb = currentMailbox();
    if (mb && mb.unreadCount > 0) mb.unreadCount--;
    renderMailboxes();
  }
  renderMessages();
  renderMessage($("viewer"), msg, {
    mailboxId: mbx,
    expiresAt: currentMailbox()?.expiresAt,
    copy,
    allowRemote,
    initialTab: tab,
    onDelete: () => deleteMessage(mid),
    reload: (allow) => openMessage(mid, { allowRemote: allow, tab: "HTML" }),
  });
  markReady();
}

async function deleteMessage(mid) {
  const mbx = state.current;
  if (!mbx || !mid) return;
  try {
    await api.deleteMessage(mbx, mid);
  } catch (e) {
    if (e.status !== 404) return showError(e);
  }
  dropMessage(mid);
}

function dropMessage(mid) {
  state.live.delete(mid);
  const list = filtered();
  const i = list.findIndex((m) => m.id === mid);
  if (i < 0 && !state.messages.some((m) => m.id === mid)) return;
  const gone = state.messages.find((m) => m.id === mid);
  state.messages = state.messages.filter((m) => m.id !== mid);
  const mb = currentMailbox();
  if (mb) {
    mb.messageCount = Math.max(0, (mb.messageCount || 1) - 1);
    if (gone && !gone.seen) mb.unreadCount = Math.max(0, (mb.unreadCount || 1) - 1);
  }
  if (i >= 0) state.selected = selectionAfterRemove(state.selected, i, list.length);
  if (state.openId === mid) {
    state.openId = null;
    renderViewerEmpty();
    setHash(routeHash(state.current));
    if (document.body.dataset.view === "message") setView("messages");
  }
  renderMailboxes();
  renderMessages();
}

// ---- navigation ---------------------------------------------------------------------------

let settingHash = false;
function setHash(h) {
  if (location.hash === h) return;
  settingHash = true;
  location.hash = h;
}

function setView(v) {
  document.body.dataset.view = v;
}

// The route to go back to when settings close.
let beforeSettings = "#/";

function applyRoute() {
  if (isSettingsRoute()) {
    openSettings();
    return;
  }
  closeSettings();
  const r = parseRoute(location.hash);
  if (!r.mailbox) return;
  const m = state.mailboxes.find(
    (x) => x.id === r.mailbox || x.address.toLowerCase() === r.mailbox.toLowerCase(),
  );
  if (!m) {
    toast("That address does not exist any more.");
    return;
  }
  if (r.message) {
    openMailbox(m.id, { keepMessage: true });
    openMessage(r.message);
  } else {
    openMailbox(m.id);
  }
}

window.addEventListener("hashchange", () => {
  if (settingHash) {
    settingHash = false;
    return;
  }
  const r = parseRoute(location.hash);
  if (!r.mailbox && !isSettingsRoute()) {
    closeSettings();
    setView("mailboxes");
    return;
  }
  applyRoute();
});

function isSettingsRoute() {
  return location.hash === "#/settings";
}

function leaveSettings() {
  closeSettings();
  location.hash = beforeSettings;
}

/** Offers "create on a remote account" once there are any. */
function renderWhere(remotes) {
  const sel = $("new-where");
  const keep = sel.value;
  sel.replaceChildren(new Option("This machine", ""));
  for (const r of remotes) sel.append(new Option(`${r.name} (remote)`, r.id));
  sel.value = remotes.some((r) => r.id === keep) ? keep : "";
  for (const e of document.querySelectorAll(".where")) e.hidden = remotes.length === 0;
}

// ---- keyboard -----------------------------------------------------------------------------

function moveBy(delta) {
  // Mail that came in this frame first, so the move starts from what the state says.
  flushRenders();
  const list = filtered();
  state.selected = moveSelection(state.selected, delta, list.length);
  renderMessages();
  const row = list[state.selected] && messageRows.get(list[state.selected].id);
  if (row) row.el.scrollIntoView({ block: "nearest" });
}

document.addEventListener("keydown", (ev) => {
  // Dialogs (settings, token) handle their own keys.
  if (document.querySelector("dialog[open]")) return;
  const t = ev.target;
  const typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  if (typing) {
    if (ev.key === "Escape" && t.id === "filter") {
      t.value = "";
      state.filter = "";
      renderMessages();
      t.blur();
    } else if (ev.key === "Enter" && t.id === "filter") {
      t.blur();
      if (state.selected < 0) moveBy(1);
    }
    return;
  }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const list = filtered();
  switch (ev.key) {
    case "j":
    case "ArrowDown":
      moveBy(1);
      break;
    case "k":
    case "ArrowUp":
      moveBy(-1);
      break;
    case "Enter":
      if (list[state.selected]) openMessage(list[state.selected].id);
      else return;
      break;
    case "Delete": {
      const target = list[state.selected] ? list[state.selected].id : state.openId;
      if (target) deleteMessage(target);
      break;
    }
    case "c": {
      const m = currentMailbox();
      if (m) copy(m.address, $("mb-copy"));
      break;
    }
    case "/":
      $("filter").focus();
      break;
    case ",":
      location.hash = "#/settings";
      break;
    case "Escape":
      if (document.body.dataset.view === "message") setView("messages");
      else if (document.body.dataset.view === "messages") setView("mailboxes");
      break;
    default:
      return;
  }
  ev.preventDefault();
});

// ---- live events --------------------------------------------------------------------------

function setConn(s) {
  const c = $("conn");
  c.dataset.state = s;
  $("conn-text").textContent =
    { open: "Live", closed: "Offline — retrying", reconnecting: "Engine unreachable — reconnecting…" }[s] || "Connecting…";
}

const handlers = {
  "message.received": (d) => {
    if (!d || !d.message) return;
    const mb = state.mailboxes.find((m) => m.id === d.mailboxId);
    if (mb) {
      mb.messageCount = (mb.messageCount || 0) + 1;
      if (!d.message.seen) mb.unreadCount = (mb.unreadCount || 0) + 1;
      renderSoon(renderMailboxes);
    }
    if (d.mailboxId === state.current) {
      const selectedBefore = filtered()[state.selected]?.id;
      state.messages = insertNewest(state.messages, d.message, MAX_ROWS);
      if (state.loading) remember(state.live, d.message.id, d.message);
      remember(state.fresh, d.message.id);
      // Keep the selection on the same message as new mail streams in above it.
      if (selectedBefore) state.selected = filtered().findIndex((m) => m.id === selectedBefore);
      renderSoon(renderMessages);
    }
  },
  "message.deleted": (d) => {
    if (d && d.mailboxId === state.current) dropMessage(d.messageId);
  },
  "mailbox.created": (d) => {
    if (!d || !d.mailbox || state.mailboxes.some((m) => m.id === d.mailbox.id)) return;
    state.mailboxes.unshift(d.mailbox);
    renderMailboxes();
  },
  // Extended elsewhere, or read or deleted in another window: new expiry and counts.
  "mailbox.updated": (d) => {
    const i = d && d.mailbox ? state.mailboxes.findIndex((m) => m.id === d.mailbox.id) : -1;
    if (i < 0) return;
    state.mailboxes[i] = d.mailbox;
    renderSoon(renderMailboxes);
  },
  "mailbox.expired": (d) => d && forgetMailbox(d.mailboxId),
  "mailbox.deleted": (d) => d && forgetMailbox(d.mailboxId),
  "faults.updated": (d) => d && showFaults(d.faults),
  "intake.updated": (d) => d && showIntake(d.intake),
  resync: () => refresh(),
};

/**
 * Adds to a Set or Map that events feed, keeping the newest MAX_ROWS: while no frame is drawn
 * (a hidden page) or a list load hangs, a flood must not grow them without end.
 */
function remember(coll, key, value) {
  if (coll instanceof Map) coll.set(key, value);
  else coll.add(key);
  if (coll.size > MAX_ROWS) coll.delete(coll.keys().next().value);
}

async function refresh() {
  loadFaults();
  loadIntake();
  try {
    await loadMailboxes();
    if (state.current && !state.mailboxes.some((m) => m.id === state.current)) forgetMailbox(state.current);
    await loadMessages();
  } catch (e) {
    showError(e);
  }
}

function markReady() {
  document.documentElement.dataset.ready = "true";
}

// ---- start --------------------------------------------------------------------------------

async function start() {
  takeTokenFromHash();
  initSettings({ onClose: leaveSettings, copy });
  mailboxRows = new KeyedRows($("mailbox-list"), {
    create: mailboxRow, fill: fillMailboxRow, update: updateMailboxRow,
  });
  messageRows = new KeyedRows($("message-list"), {
    create: messageRow, fill: fillMessageRow, update: updateMessageRow,
  });
  $("mailbox-list").addEventListener("click", onMailboxClick);
  $("message-list").addEventListener("click", onMessageClick);
  // The arrival highlight plays once; a row that later moves must not flash again.
  $("message-list").addEventListener("animationend", (ev) => ev.target.classList.remove("new"));
  $("open-settings").addEventListener("click", () => {
    if (!isSettingsRoute()) beforeSettings = location.hash || "#/";
  });
  document.addEventListener("mailiy:remotes", (ev) => renderWhere(ev.detail));
  $("new-address").addEventListener("click", createMailbox);
  $("mb-copy").addEventListener("click", (ev) => {
    const m = currentMailbox();
    if (m) copy(m.address, ev.currentTarget);
  });
  $("empty-cmd-copy").addEventListener("click", (ev) => copy($("empty-cmd").textContent, ev.currentTarget));
  $("filter").addEventListener("input", (ev) => {
    state.filter = ev.target.value;
    state.selected = -1;
    renderMessages();
  });
  $("back-mailboxes").addEventListener("click", () => {
    setView("mailboxes");
  });
  $("back-messages").addEventListener("click", () => {
    setView("messages");
    setHash(routeHash(state.current));
  });
  setInterval(tick, 1000);
  renderMessages();

  // The first data in one round trip: the addresses (a 401 here: the token is wanted) and the
  // engine's health.
  const firstData = () => Promise.all([api.mailboxes(), api.health()]);
  let first = null;
  try {
    first = await firstData();
  } catch (e) {
    // The token dialog reloads the page once a token is given.
    if (isAuthError(e)) await askForToken(document.cookie.includes("mailiy_token="));
  }
  connectEvents(handlers, setConn, refresh);
  initFaults();
  initIntake();
  initTransfer(() => state.current);
  api.remotes().then(renderWhere, () => renderWhere([]));
  try {
    const [mailboxes, health] = first ?? (await firstData());
    await loadMailboxes(mailboxes);
    state.health = health;
    $("smtp-addr").textContent = `SMTP ${health.smtp}`;
    renderHeader();
    if (parseRoute(location.hash).mailbox || isSettingsRoute()) applyRoute();
    else if (state.mailboxes.length && window.matchMedia("(min-width: 721px)").matches) {
      // Wide window: show the newest address straight away.
      openMailbox(state.mailboxes[0].id);
    }
    if (state.current) await loadMessages().catch(showError);
  } catch (e) {
    showError(e);
  }
  markReady();
}

start();
