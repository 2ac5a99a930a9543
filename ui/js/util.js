// Pure helpers for the UI: no DOM access, so `node --test ui/js/` can check them.

/** "0 B", "812 B", "4.2 KB", "12 MB" */
export function formatSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** "now", "42s", "5m", "3h", "2d", or a short date beyond a week. */
export function relativeTime(iso, nowMs = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const s = Math.max(0, Math.round((nowMs - t) / 1000));
  if (s < 5) return "now";
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 7) return `${d}d`;
  return new Date(t).toISOString().slice(0, 10);
}

/** Index after a j/k move over `count` items, clamped; -1 when the list is empty. */
export function moveSelection(index, delta, count) {
  if (count <= 0) return -1;
  if (index < 0) return delta > 0 ? 0 : count - 1;
  return Math.min(count - 1, Math.max(0, index + delta));
}

/** The index to select after removing the item at `removed` from a list of `count`. */
export function selectionAfterRemove(selected, removed, count) {
  const left = count - 1;
  if (left <= 0) return -1;
  if (selected < removed) return selected;
  if (selected > removed) return selected - 1;
  return Math.min(removed, left - 1);
}

/** "Name" or the address, for a `{name, address}`. */
export function senderLabel(from) {
  if (!from) return "(unknown sender)";
  return from.name || from.address || "(unknown sender)";
}

/** Parses a hash route: `#/mailbox/ID` and `#/mailbox/ID/message/MID`. */
export function parseRoute(hash) {
  const parts = (hash || "").replace(/^#\/?/, "").split("/").filter(Boolean);
  const dec = (s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  if (parts[0] !== "mailbox" || !parts[1]) return { mailbox: null, message: null };
  const mailbox = dec(parts[1]);
  const message = parts[2] === "message" && parts[3] ? dec(parts[3]) : null;
  return { mailbox, message };
}

/** The hash for a mailbox and optional message. */
export function routeHash(mailbox, message) {
  if (!mailbox) return "#/";
  let h = `#/mailbox/${encodeURIComponent(mailbox)}`;
  if (message) h += `/message/${encodeURIComponent(message)}`;
  return h;
}

/**
 * Inserts a summary into a newest-first list in place, without duplicates, keeping at most
 * `limit` items; returns the list. In place because live mail calls it per message: a copy of
 * the list each time is garbage the page's heap has to grow for.
 */
export function insertNewest(list, msg, limit = Infinity) {
  const dup = list.findIndex((m) => m.id === msg.id);
  if (dup >= 0) list.splice(dup, 1);
  const t = Date.parse(msg.receivedAt);
  let at = 0;
  // Live mail is usually the newest, so this stops at once; of two in the same millisecond, the
  // one that came later goes on top.
  while (at < list.length && !(Date.parse(list[at].receivedAt) <= t)) at++;
  list.splice(at, 0, msg);
  if (list.length > limit) list.length = limit;
  return list;
}

// One formatter for every date shown: making one per call is slow and churns memory in WebKit.
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric",
});

/** The local date and time of `iso` (as `Date#toLocaleString` writes it); "" when unreadable. */
export function localDateTime(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? "" : dateTimeFormat.format(t);
}

/** A duration ahead in words: "in 45 s", "in 59 min", "in 3 h 10 min", "in 2 d 4 h". */
export function inWords(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < 60) return `in ${s} s`;
  // Minutes round up, so "in 1 min" lasts until the seconds take over, never "in 0 min".
  const m = Math.ceil(s / 60);
  if (m < 60) return `in ${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `in ${h} h ${m % 60} min` : `in ${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `in ${d} d ${h % 24} h` : `in ${d} d`;
}

const clockFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayClockFormat = new Intl.DateTimeFormat(undefined, {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
});

/** Minutes before expiry from which it is shown as close (the reader's and the list's red). */
export const EXPIRY_SOON_MS = 5 * 60 * 1000;

/**
 * Expiry in words: { text: "Expires 10:50 · in 59 min", state: "ok" | "soon" | "expired" }.
 * The wall time gets the date too when it is a day or more away; `clock(ms, withDay)` writes
 * it (a parameter so tests need no locale).
 */
export function expiryWords(iso, nowMs = Date.now(), clock = defaultClock) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return { text: "", state: "ok" };
  const left = t - nowMs;
  if (left <= 0) return { text: "Expired", state: "expired" };
  const at = clock(t, left >= 24 * 3600 * 1000);
  return { text: `Expires ${at} · ${inWords(left)}`, state: left <= EXPIRY_SOON_MS ? "soon" : "ok" };
}

function defaultClock(ms, withDay) {
  return (withDay ? dayClockFormat : clockFormat).format(ms);
}

/** The page-wide banner button `id` (made hidden at the top of the body on first use): the
 * loud notices that something is off (faults on, intake paused), each undone by one click. */
export function pageBanner(id, { className, title, onClick }) {
  let b = document.getElementById(id);
  if (!b) {
    b = document.createElement("button");
    b.type = "button";
    b.id = id;
    b.className = className;
    b.title = title;
    b.hidden = true;
    b.addEventListener("click", onClick);
    document.body.prepend(b);
  }
  return b;
}
