// Mailiy inbox: wires the stages (mailboxes.js the address list, list.js the message list,
// message.js the reader, keys.js the keyboard, notices.js the banners, search.js the search box)
// and holds what crosses them: loading and opening, deleting with Undo, bulk actions, the route,
// the live events. Talks only to the API.

import { api, connectEvents } from "./api.js";
import { renderMessage, tickReader } from "./message.js";
import { initFaults, loadFaults, showFaults } from "./faults.js";
import { initIntake, loadIntake, showIntake } from "./pause.js";
import { initTransfer } from "./transfer.js";
import {
  openSettings, closeSettings, initSettings, askForToken, takeTokenFromHash, isAuthError,
} from "./settings.js";
import { $, el, toast, copy, showError } from "./dom.js";
import { state, app, ALL, MAX_ROWS, currentMailbox, mailboxById, remember } from "./state.js";
import {
  initMailboxes, renderMailboxes, loadMailboxes, tickMailboxes, addMailbox, closeMenu,
} from "./mailboxes.js";
import { initList, renderMessages, renderHeader, renderSoon, tickList } from "./list.js";
import { initKeys } from "./keys.js";
import { initNotices, loadRefusals, warnExpiring, noticeExpired } from "./notices.js";
import { initSearch, showSearchError } from "./search.js";
import { initWelcome, renderWelcome } from "./welcome.js";
import { initAttention, showUnread, notifyNew } from "./attention.js";
import { initTheme } from "./theme.js";
import { deleteWithUndo, isPendingDelete } from "./undo.js";
import { selectionAfterRemove, parseRoute, routeHash, insertNewest } from "./util.js";

// All inboxes shows this many of the newest (the header says how many there are in all).
const ALL_LIMIT = 200;

// ---- messages ---------------------------------------------------------------------------

async function loadMessages() {
  if (!state.current) {
    state.messages = [];
    renderMessages();
    return;
  }
  const id = state.current;
  const q = state.query;
  state.live.clear();
  state.loading = true;
  try {
    let list;
    if (id === ALL) {
      const r = await api.allMessages(q, ALL_LIMIT);
      list = r.messages;
      state.total = r.count;
    } else {
      list = await api.messages(id, q);
      state.total = null;
    }
    if (id !== state.current || q !== state.query) return;
    // Mail that arrived (by event) while the list was on its way is kept, not overwritten.
    if (!q) for (const m of state.live.values()) list = insertNewest(list, m);
    state.messages = list.filter((m) => !isPendingDelete(m.id)).slice(0, MAX_ROWS);
    showSearchError(null);
  } catch (e) {
    if (id !== state.current) return;
    if (e.code === "invalid_query") {
      state.messages = [];
      state.total = 0;
      showSearchError(e.message);
    } else if (e.status === 404) {
      forgetMailbox(id);
      toast("That address has expired or was deleted.");
      return;
    } else {
      throw e;
    }
  } finally {
    state.loading = false;
    state.live.clear();
  }
  renderMessages();
}

function openMailbox(id, { keepMessage = false } = {}) {
  closeMenu();
  if (state.current !== id) {
    state.current = id;
    state.messages = [];
    state.total = null;
    state.selected = -1;
    state.checked.clear();
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
  const box = el("div", "empty viewer-empty");
  box.append(el("p", "muted", "Select a message. j / k move, Enter opens, ? lists every key."));
  $("viewer").replaceChildren(box);
}

/** The mailbox a listed message is in (All inboxes lists many). */
function mailboxOf(mid) {
  const s = state.messages.find((m) => m.id === mid);
  return s ? s.mailboxId : state.current === ALL ? state.openMailboxId : state.current;
}

let openSeq = 0;
async function openMessage(mid, { allowRemote = false, tab } = {}) {
  const mbx = mailboxOf(mid);
  if (!mbx) return;
  const seq = ++openSeq;
  state.openId = mid;
  state.openMailboxId = mbx;
  state.allowRemote = allowRemote;
  const idx = state.messages.findIndex((m) => m.id === mid);
  if (idx >= 0) state.selected = idx;
  setHash(routeHash(state.current, mid));
  setView("message");
  let msg;
  try {
    msg = await api.message(mbx, mid, allowRemote);
  } catch (e) {
    if (seq !== openSeq) return;
    $("viewer").replaceChildren(el("div", "error-box", e.status === 404 ? "This message is gone (deleted or expired)." : e.message));
    return;
  }
  if (seq !== openSeq) return;
  const s = state.messages.find((m) => m.id === mid);
  if (s && !s.seen) {
    s.seen = true;
    const mb = mailboxById(mbx);
    if (mb && mb.unreadCount > 0) mb.unreadCount--;
    renderMailboxes();
  }
  renderMessages();
  renderMessage($("viewer"), msg, {
    mailboxId: mbx,
    expiresAt: mailboxById(mbx)?.expiresAt,
    copy,
    allowRemote,
    initialTab: tab,
    onDelete: () => deleteMessages([mid]),
    reload: (allow) => openMessage(mid, { allowRemote: allow, tab: "HTML" }),
  });
  markReady();
}

function closeMessage() {
  setView("messages");
  setHash(routeHash(state.current));
}

/** Delete: the ticked messages if any, else the one under the cursor, else the open one. */
function deleteChosen() {
  const list = state.messages;
  if (state.checked.size) return deleteMessages([...state.checked]);
  const target = list[state.selected] ? list[state.selected].id : state.openId;
  if (target) deleteMessages([target]);
}

/** Takes `ids` off the page now; their DELETEs go when the undo window closes (undo.js). */
function deleteMessages(ids) {
  const summaries = ids
    .map((id) => state.messages.find((m) => m.id === id) || (id === state.openId && { id, mailboxId: state.openMailboxId }))
    .filter(Boolean)
    .map((s) => ({ ...s, mailboxId: s.mailboxId || state.current }));
  deleteWithUndo(summaries, {
    drop: (gone) => {
      for (const id of gone) dropMessage(id);
      state.checked.clear();
      renderMessages();
    },
    restore: restoreMessages,
  });
}

function restoreMessages(summaries) {
  for (const s of summaries) {
    const mb = mailboxById(s.mailboxId);
    if (mb) {
      mb.messageCount = (mb.messageCount || 0) + 1;
      if (!s.seen) mb.unreadCount = (mb.unreadCount || 0) + 1;
    }
    if (s.receivedAt && (state.current === ALL || s.mailboxId === state.current)) {
      state.messages = insertNewest(state.messages, s, MAX_ROWS);
    }
  }
  renderMailboxes();
  renderMessages();
  toast(summaries.length === 1 ? "Message restored" : `${summaries.length} messages restored`);
}

function dropMessage(mid) {
  state.live.delete(mid);
  const list = state.messages;
  const i = list.findIndex((m) => m.id === mid);
  if (i >= 0) {
    const gone = list[i];
    state.messages = list.filter((m) => m.id !== mid);
    const mb = mailboxById(gone.mailboxId || state.current);
    if (mb) {
      mb.messageCount = Math.max(0, (mb.messageCount || 1) - 1);
      if (!gone.seen) mb.unreadCount = Math.max(0, (mb.unreadCount || 1) - 1);
    }
    state.selected = selectionAfterRemove(state.selected, i, list.length);
  }
  if (state.openId === mid) {
    state.openId = null;
    renderViewerEmpty();
    setHash(routeHash(state.current));
    if (document.body.dataset.view === "message") setView("messages");
  }
  if (i < 0 && state.openId !== mid) return;
  renderMailboxes();
  renderMessages();
}

/** A bulk action (POST …/messages/bulk) on `mailbox` (null: every mailbox), then fresh lists. */
async function bulk(mailbox, body, done) {
  try {
    const r = await api.bulk(mailbox === ALL ? null : mailbox, body);
    toast(done ? `${done} (${r.matched})` : `${r.matched} messages`);
  } catch (e) {
    showError(e);
  }
  await refresh();
}

function bulkRead() {
  const ids = [...state.checked];
  state.checked.clear();
  bulk(state.current, { action: "read", ids }, "Marked read");
}

// ---- mailboxes going away ----------------------------------------------------------------

function forgetMailbox(id) {
  const before = state.mailboxes.length;
  state.mailboxes = state.mailboxes.filter((m) => m.id !== id);
  if (state.mailboxes.length === before) return;
  if (state.current === id || (state.current === ALL && state.mailboxes.length < 2)) {
    state.current = null;
    state.messages = [];
    state.openId = null;
    state.selected = -1;
    location.hash = "#/";
    setView("mailboxes");
    renderMessages();
    renderViewerEmpty();
  } else if (state.current === ALL) {
    state.messages = state.messages.filter((m) => m.mailboxId !== id);
    renderMessages();
  }
  renderMailboxes();
}

function mailboxExpired(id) {
  const m = mailboxById(id);
  if (m) noticeExpired(m);
  forgetMailbox(id);
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

function isSettingsRoute() {
  return location.hash === "#/settings";
}

function applyRoute() {
  if (isSettingsRoute()) {
    openSettings();
    return;
  }
  closeSettings();
  const r = parseRoute(location.hash);
  if (!r.mailbox) return;
  const m = r.mailbox === ALL ? { id: ALL } : state.mailboxes.find(
    (x) => x.id === r.mailbox || x.address.toLowerCase() === r.mailbox.toLowerCase(),
  );
  if (!m) {
    toast("That address does not exist any more.");
    return;
  }
  if (r.message) {
    openMailbox(m.id, { keepMessage: true });
    if (m.id === ALL) loadMessages().then(() => openMessage(r.message), showError);
    else openMessage(r.message);
  } else {
    openMailbox(m.id);
  }
}

window.addEventListener("hashchange", (ev) => {
  // Settings return where they were opened from, however they were opened (link, "," key).
  if (isSettingsRoute()) {
    const from = new URL(ev.oldURL).hash;
    if (from !== "#/settings") beforeSettings = from || "#/";
  }
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

// ---- live events --------------------------------------------------------------------------

function setConn(s) {
  const c = $("conn");
  c.dataset.state = s;
  $("conn-text").textContent =
    { open: "Live", closed: "Offline — retrying", reconnecting: "Engine unreachable — reconnecting…" }[s] || "Connecting…";
}

// A search's results are the engine's: new mail re-runs it (after a pause, as mail streams in).
const REQUERY_MS = 500;
let requery = null;

const handlers = {
  "message.received": (d) => {
    if (!d || !d.message) return;
    const mb = mailboxById(d.mailboxId);
    if (mb) {
      mb.messageCount = (mb.messageCount || 0) + 1;
      if (!d.message.seen) mb.unreadCount = (mb.unreadCount || 0) + 1;
      renderSoon(renderMailboxes);
      notifyNew(mb.address, d.message);
    }
    if (d.mailboxId !== state.current && state.current !== ALL) return;
    if (state.query) {
      clearTimeout(requery);
      requery = setTimeout(() => loadMessages().catch(showError), REQUERY_MS);
      return;
    }
    const selectedBefore = state.messages[state.selected]?.id;
    state.messages = insertNewest(state.messages, d.message, MAX_ROWS);
    if (state.loading) remember(state.live, d.message.id, d.message);
    remember(state.fresh, d.message.id);
    // Keep the selection on the same message as new mail streams in above it.
    if (selectedBefore) state.selected = state.messages.findIndex((m) => m.id === selectedBefore);
    renderSoon(renderMessages);
  },
  "message.deleted": (d) => {
    if (d && (d.mailboxId === state.current || state.current === ALL)) dropMessage(d.messageId);
  },
  "mailbox.created": (d) => {
    if (!d || !d.mailbox || mailboxById(d.mailbox.id)) return;
    state.mailboxes.unshift(d.mailbox);
    renderMailboxes();
    loadRefusals();
  },
  // Extended elsewhere, or read or deleted in another window: new expiry and counts.
  "mailbox.updated": (d) => {
    const i = d && d.mailbox ? state.mailboxes.findIndex((m) => m.id === d.mailbox.id) : -1;
    if (i < 0) return;
    state.mailboxes[i] = d.mailbox;
    renderSoon(renderMailboxes);
  },
  "mailbox.expiring": (d) => d && warnExpiring(mailboxById(d.mailbox?.id) || d.mailbox),
  "mailbox.expired": (d) => d && mailboxExpired(d.mailboxId),
  "mailbox.deleted": (d) => d && forgetMailbox(d.mailboxId),
  "faults.updated": (d) => d && showFaults(d.faults),
  "intake.updated": (d) => d && showIntake(d.intake),
  resync: () => refresh(),
};

async function refresh() {
  loadFaults();
  loadRefusals();
  loadIntake();
  try {
    await loadMailboxes();
    if (state.current && state.current !== ALL && !mailboxById(state.current)) forgetMailbox(state.current);
    await loadMessages();
  } catch (e) {
    showError(e);
  }
}

function markReady() {
  document.documentElement.dataset.ready = "true";
}

function tick() {
  const now = Date.now();
  tickMailboxes(now);
  tickList(now);
  tickReader($("viewer"), now, mailboxById(state.openMailboxId)?.expiresAt);
}

// ---- start --------------------------------------------------------------------------------

Object.assign(app, {
  renderMailboxes, renderMessages, loadMessages, openMailbox, openMessage, closeMessage,
  forgetMailbox, mailboxExpired, dropMessage, restoreMessages, setView, deleteChosen,
  deleteMessages, bulk, addMailbox, onUnread: showUnread,
});

async function start() {
  takeTokenFromHash();
  initTheme();
  initSettings({ onClose: leaveSettings, copy });
  initMailboxes();
  initList();
  initKeys();
  initSearch();
  initWelcome();
  initAttention();
  document.addEventListener("mailiy:remotes", (ev) => renderWhere(ev.detail));
  $("mb-copy").addEventListener("click", (ev) => {
    const m = currentMailbox();
    if (m) copy(m.address, ev.currentTarget);
  });
  $("empty-cmd-copy").addEventListener("click", (ev) => copy($("empty-cmd").textContent, ev.currentTarget));
  $("bulk-delete").addEventListener("click", () => deleteMessages([...state.checked]));
  $("bulk-read").addEventListener("click", bulkRead);
  $("back-mailboxes").addEventListener("click", () => setView("mailboxes"));
  $("back-messages").addEventListener("click", closeMessage);
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
  initNotices();
  initIntake();
  initTransfer(() => state.current);
  api.remotes().then(renderWhere, () => renderWhere([]));
  try {
    const [mailboxes, health] = first ?? (await firstData());
    state.health = health;
    $("smtp-addr").textContent = `SMTP ${health.smtp}`;
    renderWelcome(health);
    await loadMailboxes(mailboxes);
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
