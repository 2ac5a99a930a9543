// The search box: the engine's search (`q=` on the list's GET, docs/api.md "Search"), so it
// finds every message of the mailbox (or of all of them), not only the rows loaded. Operators are
// offered under the box; a query the engine cannot parse (400 invalid_query) is said inline.

import { $, el, setText } from "./dom.js";
import { state, app } from "./state.js";

const TYPING_PAUSE_MS = 250;

export const OPERATORS = [
  ["from:", "sender name or address"],
  ["to:", "a To name or address"],
  ["subject:", "words of the subject"],
  ["is:unread", "not read yet"],
  ["has:attachment", "with an attachment"],
  ["has:code", "with a one-time code"],
  ["has:link", "with a link"],
  ["after:", "received since a date (2026-12-01)"],
  ["larger:", "bigger than (10k)"],
  ['"…"', "a phrase"],
  ["-", "before a term: without it"],
];

let timer = null;

/** Runs the query in the box now (Enter), or after a pause in typing. */
export function runSearch(now = false) {
  clearTimeout(timer);
  const go = () => {
    const q = $("filter").value.trim();
    if (q === state.query) return;
    state.query = q;
    state.selected = -1;
    showSearchError(null);
    app.loadMessages();
  };
  if (now) go();
  else timer = setTimeout(go, TYPING_PAUSE_MS);
}

export function clearSearch() {
  $("filter").value = "";
  runSearch(true);
}

/** The engine's message for a query it cannot parse, under the box; null clears it. */
export function showSearchError(message) {
  const e = $("search-error");
  e.hidden = !message;
  setText(e, message ? `Search: ${message}` : "");
  $("filter").setAttribute("aria-invalid", String(!!message));
}

function renderHints() {
  const box = $("search-hints");
  box.replaceChildren();
  for (const [op, what] of OPERATORS) {
    const b = el("button", "hint-op");
    b.type = "button";
    b.append(el("code", "", op), el("span", "", what));
    // Before the box loses focus, so the hint list is still there to be clicked.
    b.addEventListener("mousedown", (ev) => ev.preventDefault());
    b.addEventListener("click", () => {
      const input = $("filter");
      const v = input.value;
      const term = op === '"…"' ? '"' : op;
      input.value = v && !v.endsWith(" ") ? `${v} ${term}` : v + term;
      input.focus();
      if (!term.endsWith(":") && term !== '"' && term !== "-") runSearch();
    });
    box.append(b);
  }
}

export function initSearch() {
  renderHints();
  const input = $("filter");
  input.addEventListener("input", () => runSearch());
  input.addEventListener("focus", () => ($("search-hints").hidden = false));
  input.addEventListener("blur", () => ($("search-hints").hidden = true));
}
