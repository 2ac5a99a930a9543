// DOM helpers the inbox's stages share: element making, text setting without churn, the keyed
// row lists, the toast (with an optional action, as Undo), copying to the clipboard.

export const $ = (id) => document.getElementById(id);

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Sets an element's text, touching the DOM only when it changes (and reusing its text node). */
export function setText(node, text) {
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
export class KeyedRows {
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

// ---- feedback -----------------------------------------------------------------------------

let toastTimer = null;
const TOAST_MS = 2200;

/**
 * Shows `text` for a moment. With `action` ({ label, run, ms }), the toast carries a button
 * (Undo) and stays `ms`; a later toast replaces it (its action is then not run).
 */
export function toast(text, action = null) {
  const t = $("toast");
  t.replaceChildren(el("span", "toast-text", text));
  if (action) {
    const b = el("button", "btn-ghost toast-action", action.label);
    b.type = "button";
    b.dataset.testid = "toast-action";
    b.addEventListener("click", () => {
      t.hidden = true;
      action.run();
    });
    t.append(b);
  }
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), action?.ms ?? TOAST_MS);
}

export function flash(button, text) {
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

export async function copy(text, button) {
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

export function showError(e) {
  toast(e && e.message ? e.message : String(e));
}
