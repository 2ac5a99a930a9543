// The keyboard: j/k (or arrows) move, Enter opens, x ticks, Delete deletes (with Undo), [ and ]
// switch mailbox, / searches, c copies the address, ? shows every key, Esc goes back to where
// you were (the list from a message, the addresses from a list; dialogs close by themselves).

import { $, copy } from "./dom.js";
import { state, app, currentMailbox } from "./state.js";
import { moveBy, toggleChecked } from "./list.js";
import { mailboxOrder, closeMenu } from "./mailboxes.js";
import { clearSearch, runSearch } from "./search.js";

/** The keys, as the help overlay lists them: [keys, what]. */
export const KEYS = [
  ["j / ↓", "next message"],
  ["k / ↑", "previous message"],
  ["Enter", "open the message"],
  ["x", "tick the message (shift-click ticks a range)"],
  ["Delete", "delete the message (or the ticked ones), with Undo"],
  ["[ / ]", "previous / next mailbox"],
  ["/", "search"],
  ["c", "copy the address"],
  [",", "settings"],
  ["?", "this help"],
  ["Esc", "back to where you were"],
];

function switchMailbox(delta) {
  const order = mailboxOrder();
  if (!order.length) return;
  const i = order.indexOf(state.current);
  const next = order[i < 0 ? (delta > 0 ? 0 : order.length - 1) : (i + delta + order.length) % order.length];
  app.openMailbox(next);
  document.getElementById(`mb-${next}`)?.scrollIntoView({ block: "nearest" });
}

function openHelp() {
  const d = $("help");
  if (!d.open) d.showModal();
}

function back() {
  const view = document.body.dataset.view;
  if (view === "message") {
    app.closeMessage();
    $("message-list").focus({ preventScroll: true });
  } else if (view === "messages") {
    app.setView("mailboxes");
    document.getElementById(`mb-${state.current}`)?.focus();
  }
}

function onTyping(ev, t) {
  if (t.id !== "filter") return;
  if (ev.key === "Escape") {
    clearSearch();
    t.blur();
  } else if (ev.key === "Enter") {
    runSearch(true);
    t.blur();
    if (state.selected < 0) moveBy(1);
  }
}

function onKey(ev) {
  // Dialogs (settings, token, help, confirm) handle their own keys; so does the row menu.
  if (document.querySelector("dialog[open]")) return;
  if (ev.key === "Escape" && closeMenu({ refocus: true })) return;
  const t = ev.target;
  const typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  if (typing) return onTyping(ev, t);
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const list = state.messages;
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
      // On a button or link, Enter is theirs.
      if (t.closest && t.closest("button, a")) return;
      if (list[state.selected]) app.openMessage(list[state.selected].id);
      else return;
      break;
    case "x":
      toggleChecked(state.selected);
      break;
    case "Delete":
      app.deleteChosen();
      break;
    case "[":
      switchMailbox(-1);
      break;
    case "]":
      switchMailbox(1);
      break;
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
    case "?":
      openHelp();
      break;
    case "Escape":
      back();
      break;
    default:
      return;
  }
  ev.preventDefault();
}

export function initKeys() {
  const tbody = $("help-keys");
  for (const [k, what] of KEYS) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    for (const part of k.split(" / ")) {
      const kbd = document.createElement("kbd");
      kbd.textContent = part;
      if (th.childNodes.length) th.append(" ");
      th.append(kbd);
    }
    const td = document.createElement("td");
    td.textContent = what;
    tr.append(th, td);
    tbody.append(tr);
  }
  $("help-close").addEventListener("click", () => $("help").close());
  $("open-help").addEventListener("click", openHelp);
  document.addEventListener("keydown", onKey);
}
