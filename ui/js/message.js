// The message view: header (with expiry in words), one-time code and main link, tabs (HTML /
// HTML source / Text / Headers / Source, plus Links and Attachments when there are any). Mail
// data goes into the DOM only as textContent or attribute values; the already-sanitized HTML is
// shown in a sandboxed frame loaded from /frame/… with its own CSP.
//
// One scroll: the reader is a flex column as tall as its pane; header, code and tabs take what
// they need and the tab panel takes the rest. The HTML frame fills that panel exactly, so the
// mail scrolls inside the frame and nothing else scrolls. The frame runs no script and has an
// opaque origin, so the page cannot measure the mail's height to grow the frame to it (and the
// server cannot know it either: it depends on the width and the fonts); filling the pane is the
// one size that needs no measuring. Links and attachments are tabs beside it, never below it.

import { api } from "./api.js";
import { checkTabs } from "./checks.js";
import { envelopeRows, transcriptText } from "./envelope.js";
import { mainLink, tabAfterKey } from "./reader.js";
import { headerTags } from "./tags.js";
import { releaseControl } from "./release.js";
import { expiryWords, formatSize, senderLabel } from "./util.js";

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

function addrList(list) {
  return (list || [])
    .map((a) => (a.name ? `${a.name} <${a.address}>` : a.address))
    .join(", ");
}

/** The envelope as a table, and the SMTP session that delivered it, loaded when opened. */
function envelopePanel(msg, mbx) {
  const table = el("table", { class: "headers", "data-testid": "envelope" });
  for (const [k, v] of envelopeRows(msg.envelope)) table.append(el("tr", {}, el("td", { text: k }), el("td", { text: v })));
  const pre = el("pre", { class: "source", text: "Loading…" });
  const details = el("details", {}, el("summary", { text: "SMTP session" }), pre);
  details.addEventListener("toggle", () => {
    if (!details.open || pre.dataset.loaded) return;
    pre.dataset.loaded = "1";
    api.session(mbx, msg.id).then(
      (s) => { pre.textContent = transcriptText(s.lines); },
      (e) => { pre.textContent = e.message; },
    );
  });
  return el("div", { class: "envelope" }, el("h3", { text: "Envelope" }), table, details, el("h3", { text: "Headers" }));
}

/** The `<a>` elements of the sanitized HTML as { href, text }, parsed inertly (no script runs
 * and nothing loads in a DOMParser document). */
function anchorsOf(html) {
  if (!html) return [];
  const doc = new DOMParser().parseFromString(html, "text/html");
  return [...doc.querySelectorAll("a[href]")].map((a) => ({ href: a.getAttribute("href"), text: a.textContent.trim() }));
}

/** Updates the expiry line under `root` to `now` (and to `expiresAt` when given, as after an
 * extension): called by the page's one-second tick. */
export function tickReader(root, now = Date.now(), expiresAt = undefined) {
  for (const e of root.querySelectorAll(".expiry[data-expires]")) {
    if (expiresAt && e.dataset.expires !== expiresAt) e.dataset.expires = expiresAt;
    const { text, state } = expiryWords(e.dataset.expires, now);
    if (e.textContent !== text) e.textContent = text;
    if (e.dataset.state !== state) e.dataset.state = state;
  }
}

function header(msg, ctx) {
  const dl = el("dl");
  const row = (k, v, secondary) => {
    if (!v) return;
    // The full value stays in the title (and the Headers tab) when the row is clamped.
    dl.append(el("dt", { text: k, class: secondary ? "secondary" : null }), el("dd", { text: v, title: v, class: secondary ? "secondary" : null }));
  };
  const from = msg.from ? (msg.from.name ? `${msg.from.name} <${msg.from.address}>` : msg.from.address) : "";
  row("From", from || senderLabel(msg.from));
  row("To", addrList(msg.to));
  row("Cc", addrList(msg.cc), true);
  row("Bcc", (msg.bcc || []).join(", "), true);
  if (msg.replyTo) row("Reply-To", Array.isArray(msg.replyTo) ? addrList(msg.replyTo) : String(msg.replyTo.address || msg.replyTo), true);
  const when = msg.date || msg.receivedAt;
  row("Date", when ? new Date(when).toLocaleString() : "");
  row("Size", formatSize(msg.size), true);

  const delBtn = el("button", { type: "button", class: "btn-ghost btn-danger", text: "Delete", title: "Delete (Delete key)" });
  delBtn.addEventListener("click", () => ctx.onDelete());
  const rawLink = el("a", { class: "btn-ghost", href: api.rawUrl(ctx.mailboxId, msg.id), download: `${msg.id}.eml`, text: "Download .eml" });
  const tools = el("div", { class: "msg-tools" }, delBtn, rawLink, releaseControl(ctx.mailboxId, msg.id));
  if (ctx.expiresAt) {
    const expiry = el("span", { class: "expiry", "data-expires": ctx.expiresAt, "data-testid": "expiry", title: "When this address and its mail are deleted" });
    tools.append(expiry);
    tickReader(tools);
  }
  const head = el("div", { class: "msg-head" }, el("h1", { text: msg.subject || "(no subject)" }), dl, tools);
  const tags = headerTags(msg.tags);
  if (tags) head.querySelector("h1").after(tags);
  return head;
}

/** The one-time code and the main link, side by side; null when the mail has neither. */
function actionBox(msg, ctx) {
  const codes = msg.codes || [];
  const link = mainLink(msg.links, anchorsOf(msg.html));
  if (!codes.length && !link) return null;
  const box = el("div", { class: "code-box" });
  if (codes.length) {
    const btn = el("button", { type: "button", class: "btn-ghost", text: "Copy code", "data-testid": "copy-code" });
    btn.addEventListener("click", () => ctx.copy(codes[0], btn));
    box.append(el("div", {}, el("div", { class: "label", text: "One-time code" }), el("div", { class: "code", text: codes[0], "data-testid": "code" })), btn);
  }
  if (link) {
    let where = link;
    try {
      const u = new URL(link);
      where = u.host + u.pathname;
    } catch { /* shown as it is */ }
    box.append(
      el(
        "div",
        { class: "main-link" },
        el("a", { class: "btn-primary", href: link, target: "_blank", rel: "noopener noreferrer", title: link, text: "Open link", "data-testid": "open-link" }),
        el("span", { class: "main-link-url", text: where, title: link }),
      ),
    );
  }
  return box;
}

/**
 * Renders `msg` into `root`. `ctx` = { mailboxId, expiresAt, copy(text, button), onDelete(),
 * initialTab, allowRemote, reload(allowRemote) }.
 */
export function renderMessage(root, msg, ctx) {
  root.replaceChildren();
  const mbx = ctx.mailboxId;
  const reader = el("article", { class: "reader", "aria-label": msg.subject || "(no subject)" });
  reader.append(header(msg, ctx));
  const box = actionBox(msg, ctx);
  if (box) reader.append(box);

  let sourceText = null;
  const links = (msg.links || []).filter((href) => /^https?:\/\//i.test(href));
  const atts = msg.attachments || [];
  const tabs = [
    { name: "HTML", enabled: !!msg.html, render: (p) => htmlPanel(p, msg, ctx, root.dataset.preview) },
    {
      name: "HTML source",
      enabled: !!msg.html,
      render: (p) => p.append(
        el("p", { class: "panel-note", text: "The sanitized HTML the HTML view shows (the original part is in Source)." }),
        el("pre", { class: "source", "data-testid": "html-source", text: msg.html || "" }),
      ),
    },
    { name: "Text", enabled: true, render: (p) => p.append(el("pre", { class: "text-body", text: msg.text || "(this message has no text part)" })) },
    {
      name: "Headers",
      enabled: true,
      render: (p) => {
        const table = el("table", { class: "headers" });
        for (const h of msg.headers || []) table.append(el("tr", {}, el("td", { text: h.name }), el("td", { text: h.value })));
        p.append(envelopePanel(msg, mbx), table);
      },
    },
    {
      name: "Source",
      enabled: true,
      render: (p) => {
        const pre = el("pre", { class: "source", text: sourceText ?? "Loading…" });
        p.append(pre);
        if (sourceText === null) {
          api.raw(mbx, msg.id).then(
            (t) => { sourceText = t; pre.textContent = t; },
            (e) => { pre.textContent = e.message; },
          );
        }
      },
    },
  ];
  if (links.length) {
    tabs.push({
      name: "Links",
      label: `Links (${links.length})`,
      enabled: true,
      render: (p) => p.append(el("ul", { class: "links" }, ...links.map((href) => el("li", {}, el("a", { href, target: "_blank", rel: "noopener noreferrer", text: href }))))),
    });
  }
  if (atts.length) {
    tabs.push({
      name: "Attachments",
      label: `Attachments (${atts.length})`,
      enabled: true,
      render: (p) => p.append(el("ul", { class: "attachments" }, ...atts.map((a) => el(
        "li",
        {},
        el("a", { href: api.attachmentUrl(mbx, msg.id, a.id), download: a.filename || a.id, text: a.filename || "(unnamed)" }),
        el("span", { class: "att-meta", text: `${a.contentType || "application/octet-stream"} · ${formatSize(a.size)}${a.inline ? " · inline" : ""}` }),
      )))),
    });
  }

  tabs.push(...checkTabs(msg, ctx, el));

  // Tabs as the ARIA pattern has them: one tab in the Tab order (roving tabindex), arrow keys,
  // Home and End move between tabs and show each at once.
  const list = el("div", { class: "tabs", role: "tablist", "aria-label": "Message views" });
  const panel = el("div", { class: "tab-panel", role: "tabpanel", id: "reader-panel", tabindex: "0" });
  const buttons = tabs.map((t, i) => {
    const b = el("button", {
      type: "button", class: "tab", role: "tab", id: `reader-tab-${i}`, text: t.label || t.name,
      "aria-selected": "false", "aria-controls": "reader-panel", tabindex: "-1", disabled: !t.enabled,
    });
    b.addEventListener("click", () => show(i));
    list.append(b);
    return b;
  });
  const previews = previewButtons(root, panel);
  let current = -1;
  const show = (i) => {
    current = i;
    previews.hidden = tabs[i].name !== "HTML";
    buttons.forEach((b, j) => {
      b.setAttribute("aria-selected", String(j === i));
      b.tabIndex = j === i ? 0 : -1;
    });
    panel.setAttribute("aria-labelledby", buttons[i].id);
    panel.dataset.tab = tabs[i].name;
    panel.className = "tab-panel";
    panel.replaceChildren();
    tabs[i].render(panel);
  };
  list.addEventListener("keydown", (ev) => {
    // Enter and Space press the tab (the button's own default); the page's Enter would reopen
    // the selected message and lose the tab.
    if (ev.key === "Enter" || ev.key === " ") return ev.stopPropagation();
    const next = tabAfterKey(current, ev.key, tabs.map((t) => t.enabled));
    if (next < 0) return;
    // The page's own keys (j/k, arrows in the list) must not act on the same press.
    ev.preventDefault();
    ev.stopPropagation();
    show(next);
    buttons[next].focus();
  });
  reader.append(el("div", { class: "tab-row" }, list, previews), panel);
  root.append(reader);
  let first = tabs.findIndex((t) => t.name === (ctx.initialTab || "HTML") && t.enabled);
  if (first < 0) first = tabs.findIndex((t) => t.name === "Text");
  show(first);
}

// Preview widths of the HTML view: the frame's width (CSS, .mail-frame[data-preview=…]).
const PREVIEWS = [["desktop", "Desktop"], ["tablet", "Tablet"], ["phone", "Phone"]];

/** The Desktop / Tablet / Phone buttons, beside the tabs. The choice is kept on `root` (the
 * viewer, which outlives one message) so the next message opens at the same width. */
function previewButtons(root, panel) {
  const group = el("div", { class: "preview-widths", role: "group", "aria-label": "Preview width" });
  const chosen = root.dataset.preview || "desktop";
  for (const [key, label] of PREVIEWS) {
    const b = el("button", { type: "button", class: "btn-ghost", text: label, "aria-pressed": String(key === chosen) });
    b.addEventListener("click", () => {
      root.dataset.preview = key;
      const frame = panel.querySelector(".mail-frame");
      if (frame) frame.dataset.preview = key;
      for (const o of group.children) o.setAttribute("aria-pressed", String(o === b));
    });
    group.append(b);
  }
  return group;
}

/** The HTML view into `panel`, `preview` wide (see PREVIEWS). */
function htmlPanel(panel, msg, ctx, preview) {
  panel.classList.add("html-panel");
  if (msg.remoteContentBlocked && !ctx.allowRemote) {
    const load = el("button", { type: "button", class: "btn-ghost", text: "Load", "data-testid": "load-remote" });
    load.addEventListener("click", () => ctx.reload(true));
    panel.append(el("div", { class: "remote-bar", role: "status" }, el("span", { text: "Remote images blocked —" }), load));
  }
  const frame = document.createElement("iframe");
  frame.className = "mail-frame";
  frame.title = "Message content";
  frame.dataset.preview = preview || "desktop";
  // No allow-scripts, no allow-same-origin: nothing in the mail runs or reads the page. Links
  // (target=_blank from the sanitizer) open a new, ordinary page; the frame document's own CSP
  // has the same sandbox (api/frame.rs, FRAME_SANDBOX).
  frame.setAttribute("sandbox", "allow-popups allow-popups-to-escape-sandbox");
  frame.setAttribute("referrerpolicy", "no-referrer");
  // Served by the engine with its own strict CSP (a srcdoc frame would inherit the page's).
  frame.src = api.frameUrl(ctx.mailboxId, msg.id, !!ctx.allowRemote);
  panel.append(el("div", { class: "frame-stage" }, frame));
}
