// The message list: rows kept across renders, drawn at most once a frame while mail streams in,
// the cursor (j/k) that a screen reader follows through aria-activedescendant, ticks for bulk
// actions (x, shift-click), and the list's header (address, counts, search results).

import { $, el, setText, KeyedRows } from "./dom.js";
import { state, app, ALL, currentMailbox, mailboxById } from "./state.js";
import { relativeTime, moveSelection, senderLabel, localDateTime } from "./util.js";
import { showRowTags } from "./tags.js";

// Mail arriving in a burst is drawn once per frame, not once per message, and while it keeps
// coming, at most once per BURST_RENDER_GAP_MS: laying out and painting the list every frame
// kept WebKit's web process busy at a full core, and a page that is never idle does not get its
// garbage collected (its heap grew by ~50 MB between collections). A lone message still shows
// on the next frame.
const BURST_RENDER_GAP_MS = 100;
const pendingRenders = new Set();
let frameRequested = false;
let lastRender = -Infinity;
export function renderSoon(render) {
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
export function flushRenders() {
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
  const to = el("span", "to"); // the All inboxes view's To column
  const snippet = el("span", "snippet");
  li.append(from, time, subject, to, snippet);
  return { el: li, from, time, subject, to, clip: null, snippet };
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
  row.el.id = `msg-${m.id}`;
  // A refilled row may still carry the highlight of the message it showed before.
  row.el.classList.toggle("new", state.fresh.has(m.id) && highlightNow(performance.now()));
  setText(row.from, senderLabel(m.from));
  row.from.title = m.from ? m.from.address || "" : "";
  row.at = m.receivedAt;
  setText(row.time, relativeTime(m.receivedAt));
  row.time.title = localDateTime(m.receivedAt);
  setText(row.subject, m.subject || "(no subject)");
  const mbx = mailboxById(m.mailboxId);
  const to = mbx ? mbx.address : (m.to && m.to[0] && m.to[0].address) || "";
  setText(row.to, to ? `To ${to}` : "");
  row.to.title = to;
  showClip(row, !!m.hasAttachments);
  showRowTags(row, m.tags, row.snippet);
  setText(row.snippet, m.snippet || "");
  row.unread = row.selected = row.open = row.checked = null;
}

function updateMessageRow(row, m, i) {
  const unread = !m.seen;
  const selected = i === state.selected;
  const open = m.id === state.openId;
  const checked = state.checked.has(m.id);
  if (row.unread !== unread) row.el.classList.toggle("unread", (row.unread = unread));
  if (row.open !== open) row.el.classList.toggle("open", (row.open = open));
  if (row.selected !== selected) {
    row.el.classList.toggle("selected", (row.selected = selected));
    row.el.setAttribute("aria-selected", String(selected));
  }
  if (row.checked !== checked) {
    row.el.classList.toggle("checked", (row.checked = checked));
    row.el.setAttribute("aria-checked", String(checked));
  }
}

let messageRows = null;

export function messageRowFor(id) {
  return messageRows.get(id);
}

export function renderHeader() {
  const m = currentMailbox();
  const all = state.current === ALL;
  document.body.classList.toggle("all-view", all);
  setText($("mb-address"), all ? "All inboxes" : m ? m.address : "No address selected");
  let meta = "";
  const n = state.total ?? state.messages.length;
  if (state.query) meta = `${n} match${n === 1 ? "" : "es"} in ${all ? "every mailbox" : "this mailbox"}`;
  else if (all) meta = `${n} messages in ${state.mailboxes.length} mailboxes`;
  else if (m) {
    const count = m.messageCount ?? state.messages.length;
    meta = `${m.tier} · ${count} message${count === 1 ? "" : "s"}`;
  }
  setText($("mb-meta"), meta);
  $("mb-copy").hidden = all || !m;
  const smtp = state.health ? state.health.smtp : "127.0.0.1:1025";
  setText($("empty-smtp"), `smtp://${smtp}`);
  setText($("empty-cmd"), `swaks --to ${m ? m.address : "ADDRESS"} --server ${smtp}`);
}

export function renderMessages() {
  renderHeader();
  const list = state.messages;
  if (state.selected >= list.length) state.selected = list.length - 1;
  messageRows.sync(list);
  state.fresh.clear();
  const lb = $("message-list");
  const cursor = list[state.selected];
  if (cursor) lb.setAttribute("aria-activedescendant", `msg-${cursor.id}`);
  else lb.removeAttribute("aria-activedescendant");
  const none = state.current && list.length === 0;
  $("messages-empty").hidden = !none;
  setText($("messages-empty-title"), state.query ? "Nothing matches the search" : "No mail yet");
  $("empty-send").hidden = !!state.query || state.current === ALL;
  renderBulkBar();
}

function renderBulkBar() {
  for (const id of [...state.checked]) if (!state.messages.some((m) => m.id === id)) state.checked.delete(id);
  const n = state.checked.size;
  $("bulk-bar").hidden = n === 0;
  setText($("bulk-count"), `${n} selected`);
}

/** Moves the cursor by `delta` rows; the list takes focus so a screen reader reads the row. */
export function moveBy(delta) {
  // Mail that came in this frame first, so the move starts from what the state says.
  flushRenders();
  const list = state.messages;
  state.selected = moveSelection(state.selected, delta, list.length);
  renderMessages();
  const row = list[state.selected] && messageRows.get(list[state.selected].id);
  if (row) row.el.scrollIntoView({ block: "nearest" });
  const lb = $("message-list");
  if (document.activeElement !== lb && !lb.closest("[hidden]")) lb.focus({ preventScroll: true });
}

/** Ticks or unticks the row at `i` (x); with `range`, every row from the last tick to it. */
export function toggleChecked(i, range = false) {
  const list = state.messages;
  if (!list[i]) return;
  const on = !state.checked.has(list[i].id);
  if (range && state.anchor >= 0) {
    const [a, b] = state.anchor < i ? [state.anchor, i] : [i, state.anchor];
    for (let k = a; k <= b; k++) if (list[k]) state.checked.add(list[k].id);
  } else if (on) {
    state.checked.add(list[i].id);
  } else {
    state.checked.delete(list[i].id);
  }
  state.anchor = i;
  renderMessages();
}

function onMessageClick(ev) {
  const li = ev.target.closest("li.msg");
  if (!li || !messageRows.get(li.dataset.id)) return;
  const i = state.messages.findIndex((m) => m.id === li.dataset.id);
  if (ev.shiftKey || ev.ctrlKey || ev.metaKey) {
    ev.preventDefault();
    state.selected = i;
    toggleChecked(i, ev.shiftKey);
  } else {
    app.openMessage(li.dataset.id);
  }
}

export function tickList(now) {
  for (const row of messageRows.rows.values()) setText(row.time, relativeTime(row.at, now));
}

export function initList() {
  messageRows = new KeyedRows($("message-list"), {
    create: messageRow, fill: fillMessageRow, update: updateMessageRow,
  });
  const lb = $("message-list");
  lb.addEventListener("click", onMessageClick);
  // Shift-click ticks a range: no text selection on the way.
  lb.addEventListener("mousedown", (ev) => { if (ev.shiftKey) ev.preventDefault(); });
  // The arrival highlight plays once; a row that later moves must not flash again.
  lb.addEventListener("animationend", (ev) => ev.target.classList.remove("new"));
  lb.addEventListener("focus", () => { if (state.selected < 0 && state.messages.length) moveBy(1); });
  $("bulk-clear").addEventListener("click", () => {
    state.checked.clear();
    renderMessages();
  });
}
