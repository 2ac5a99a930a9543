// Unread mail outside the page: the count in the title ("(3) Mailiy") and on the favicon, and,
// in a plain browser that opted in, a notification per new message while the page is not in
// sight. The title and the notification never carry a subject (mail content stays in the page
// unless asked for: a notification says who sent it only when the user allowed that too).

import { $, setText } from "./dom.js";

const TITLE = "Mailiy";
const NOTIFY_KEY = "mailiy.notify";

/** "Mailiy", or "(N) Mailiy" with N unread. */
export function titleFor(unread) {
  return unread > 0 ? `(${unread > 999 ? "999+" : unread}) ${TITLE}` : TITLE;
}

let lastIcon = -1;
function favicon(unread) {
  const n = Math.min(unread, 99);
  if (n === lastIcon) return;
  lastIcon = n;
  const c = document.createElement("canvas");
  c.width = c.height = 32;
  const g = c.getContext("2d");
  if (!g) return;
  g.fillStyle = "#2f6feb";
  g.beginPath();
  g.roundRect(2, 6, 28, 20, 4);
  g.fill();
  g.strokeStyle = "#fff";
  g.lineWidth = 2.5;
  g.beginPath();
  g.moveTo(4, 9);
  g.lineTo(16, 18);
  g.lineTo(28, 9);
  g.stroke();
  if (n > 0) {
    g.fillStyle = "#c93c37";
    g.beginPath();
    g.arc(23, 9, 9, 0, 2 * Math.PI);
    g.fill();
    g.fillStyle = "#fff";
    g.font = "bold 13px sans-serif";
    g.textAlign = "center";
    g.textBaseline = "middle";
    g.fillText(String(n), 23, 10);
  }
  const link = document.querySelector('link[rel="icon"]');
  link.href = c.toDataURL("image/png");
  link.dataset.unread = String(n);
}

export function showUnread(unread) {
  const t = titleFor(unread);
  if (document.title !== t) document.title = t;
  favicon(unread);
}

// ---- browser notifications ------------------------------------------------------------------

/** The desktop window notifies by itself (the shell's notifier); this is for plain browsers. */
function inBrowser() {
  return "Notification" in window && !("__TAURI_INTERNALS__" in window);
}

function wanted() {
  return inBrowser() && localStorage.getItem(NOTIFY_KEY) === "1" && Notification.permission === "granted";
}

/** A new message arrived in `mailbox` (an address): notify when the page is out of sight. */
export function notifyNew(mailbox, summary) {
  if (!wanted() || document.visibilityState === "visible") return;
  const from = summary.from ? summary.from.name || summary.from.address : "someone";
  const n = new Notification(`New mail for ${mailbox}`, { body: `From ${from}`, tag: summary.id });
  n.onclick = () => window.focus();
}

function renderNotifyState() {
  const box = $("set-browser-notify");
  const hint = $("set-browser-notify-state");
  if (!inBrowser()) {
    box.disabled = true;
    setText(hint, "This browser has no notifications.");
    return;
  }
  box.checked = wanted();
  setText(hint, Notification.permission === "denied"
    ? "The browser blocks notifications for this page: allow them in its site settings."
    : "While this page is in the background; sender only, never the subject.");
}

export function initAttention() {
  // The desktop window notifies by itself: no second switch there.
  for (const e of [$("browser-only"), $("set-browser-notify").closest("div")]) e.hidden = !inBrowser();
  $("set-browser-notify").addEventListener("change", async (ev) => {
    if (!ev.target.checked) {
      localStorage.setItem(NOTIFY_KEY, "0");
    } else {
      const p = await Notification.requestPermission();
      localStorage.setItem(NOTIFY_KEY, p === "granted" ? "1" : "0");
    }
    renderNotifyState();
  });
  renderNotifyState();
}
