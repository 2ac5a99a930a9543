// The inbox's state, shared by its stages (mailbox list, message list, keys, banners), and the
// few calls they make into each other: app.js fills `app` at start, so a stage reaches another's
// renderer without importing it (no import cycles, and a new stage hooks in the same way).

/** `state.current` of the "All inboxes" view (GET /v1/messages): never a mailbox id. */
export const ALL = "*all";

// The list keeps the newest rows only: a mailbox flooded with 10,000 messages must not hold
// 10,000 rows in the page (the mailbox's count still says how many there are).
export const MAX_ROWS = 500;

export const state = {
  health: null,
  mailboxes: [],
  current: null, // mailbox id, ALL, or null
  messages: [], // summaries of the current list (the search's results when `query` is set), newest first
  total: null, // how many the current list has in all (the API's count), when known
  selected: -1, // index into the list
  checked: new Set(), // ids ticked for a bulk action (x, shift-click)
  anchor: -1, // where the last tick was, for shift-click ranges
  openId: null, // open message id
  openMailboxId: null, // the open message's mailbox (differs from `current` in All inboxes)
  query: "", // the server-side search in force
  allowRemote: false,
  fresh: new Set(), // ids that arrived since the last list render (animated once); at most MAX_ROWS
  live: new Map(), // summaries pushed by events while a list fetch is in flight; at most MAX_ROWS
  loading: false, // a list fetch is in flight
};

/** Filled by app.js: renderMailboxes, renderMessages, loadMessages, openMailbox, openMessage,
 * forgetMailbox, dropMessage, restoreMessages, setView, deleteMessages. */
export const app = {};

export function currentMailbox() {
  return state.mailboxes.find((m) => m.id === state.current) || null;
}

export function mailboxById(id) {
  return state.mailboxes.find((m) => m.id === id) || null;
}

/**
 * Adds to a Set or Map that events feed, keeping the newest MAX_ROWS: while no frame is drawn
 * (a hidden page) or a list load hangs, a flood must not grow them without end.
 */
export function remember(coll, key, value) {
  if (coll instanceof Map) coll.set(key, value);
  else coll.add(key);
  if (coll.size > MAX_ROWS) coll.delete(coll.keys().next().value);
}
