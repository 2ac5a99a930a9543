// The message view: header, one-time code, tabs (HTML / Text / Headers / Source), links,
// attachments. Mail data goes into the DOM only as textContent or attribute values; the
// already-sanitized HTML is shown in a sandboxed frame loaded from /frame/… with its own CSP.

import { api } from "./api.js";
import { envelopeRows, transcriptText } from "./envelope.js";
import { formatSize, senderLabel } from "./util.js";

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

/**
 * Renders `msg` into `root`. `ctx` = { mailboxId, copy(text, button), onDelete(), initialTab,
 * allowRemote, reload(allowRemote) }.
 */
export function renderMessage(root, msg, ctx) {
  root.replaceChildren();
  const mid = msg.id;
  const mbx = ctx.mailboxId;

  // Header
  const dl = el("dl");
  const row = (k, v) => {
    if (!v) return;
    dl.append(el("dt", { text: k }), el("dd", { text: v }));
  };
  const from = msg.from ? (msg.from.name ? `${msg.from.name} <${msg.from.address}>` : msg.from.address) : "";
  row("From", from || senderLabel(msg.from));
  row("To", addrList(msg.to));
  row("Cc", addrList(msg.cc));
  row("Bcc", (msg.bcc || []).join(", "));
  if (msg.replyTo) row("Reply-To", Array.isArray(msg.replyTo) ? addrList(msg.replyTo) : String(msg.replyTo.address || msg.replyTo));
  const when = msg.date || msg.receivedAt;
  row("Date", when ? new Date(when).toLocaleString() : "");
  row("Size", formatSize(msg.size));

  const delBtn = el("button", { type: "button", class: "btn-ghost btn-danger", text: "Delete", title: "Delete (Delete key)" });
  delBtn.addEventListener("click", () => ctx.onDelete());
  const rawLink = el("a", { class: "btn-ghost", href: api.rawUrl(mbx, mid), download: `${mid}.eml`, text: "Download .eml" });
  const head = el(
    "div",
    { class: "msg-head" },
    el("h1", { text: msg.subject || "(no subject)" }),
    dl,
    el("div", { class: "msg-tools" }, delBtn, rawLink),
  );
  root.append(head);

  // One-time code
  const codes = msg.codes || [];
  if (codes.length) {
    const btn = el("button", { type: "button", class: "btn-ghost", text: "Copy code", "data-testid": "copy-code" });
    btn.addEventListener("click", () => ctx.copy(codes[0], btn));
    root.append(
      el(
        "div",
        { class: "code-box" },
        el("div", {}, el("div", { class: "label", text: "One-time code" }), el("div", { class: "code", text: codes[0], "data-testid": "code" })),
        btn,
      ),
    );
  }

  // Tabs
  const tabs = el("div", { class: "tabs", role: "tablist" });
  const panel = el("div", { class: "tab-panel", role: "tabpanel" });
  const names = ["HTML", "Text", "Headers", "Source"];
  const buttons = {};
  let sourceText = null;
  const show = (name) => {
    for (const n of names) buttons[n].setAttribute("aria-selected", String(n === name));
    panel.replaceChildren();
    if (name === "HTML") panel.append(...htmlPanel(msg, ctx));
    else if (name === "Text") panel.append(el("pre", { class: "text-body", text: msg.text || "(this message has no text part)" }));
    else if (name === "Headers") {
      const table = el("table", { class: "headers" });
      for (const h of msg.headers || []) table.append(el("tr", {}, el("td", { text: h.name }), el("td", { text: h.value })));
      panel.append(envelopePanel(msg, mbx), table);
    } else {
      const pre = el("pre", { class: "source", text: sourceText ?? "Loading…" });
      panel.append(pre);
      if (sourceText === null) {
        api.raw(mbx, mid).then(
          (t) => { sourceText = t; pre.textContent = t; },
          (e) => { pre.textContent = e.message; },
        );
      }
    }
  };
  for (const n of names) {
    const b = el("button", { type: "button", class: "tab", role: "tab", text: n, "aria-selected": "false" });
    if (n === "HTML" && !msg.html) b.disabled = true;
    b.addEventListener("click", () => show(n));
    buttons[n] = b;
    tabs.append(b);
  }
  root.append(tabs, panel);
  let first = ctx.initialTab || "HTML";
  if (first === "HTML" && !msg.html) first = "Text";
  show(first);

  // Links
  const links = msg.links || [];
  if (links.length) {
    const ul = el("ul", { class: "links" });
    for (const href of links) {
      if (!/^https?:\/\//i.test(href)) continue;
      ul.append(el("li", {}, el("a", { href, target: "_blank", rel: "noopener noreferrer", text: href })));
    }
    root.append(el("div", { class: "section" }, el("h2", { text: `Links (${links.length})` }), ul));
  }

  // Attachments
  const atts = msg.attachments || [];
  if (atts.length) {
    const ul = el("ul", { class: "attachments" });
    for (const a of atts) {
      ul.append(
        el(
          "li",
          {},
          el("a", { href: api.attachmentUrl(mbx, mid, a.id), download: a.filename || a.id, text: a.filename || "(unnamed)" }),
          el("span", { class: "att-meta", text: `${a.contentType || "application/octet-stream"} · ${formatSize(a.size)}${a.inline ? " · inline" : ""}` }),
        ),
      );
    }
    root.append(el("div", { class: "section" }, el("h2", { text: `Attachments (${atts.length})` }), ul));
  }
}

function htmlPanel(msg, ctx) {
  const out = [];
  if (msg.remoteContentBlocked && !ctx.allowRemote) {
    const load = el("button", { type: "button", class: "btn-ghost", text: "Load", "data-testid": "load-remote" });
    load.addEventListener("click", () => ctx.reload(true));
    out.push(el("div", { class: "remote-bar", role: "status" }, el("span", { text: "Remote images blocked —" }), load));
  }
  const frame = document.createElement("iframe");
  frame.className = "mail-frame";
  frame.title = "Message content";
  // No allow-scripts, no allow-same-origin: nothing in the mail runs or reads the page. Links
  // (target=_blank from the sanitizer) open a new, ordinary page; the frame document's own CSP
  // has the same sandbox (api/frame.rs, FRAME_SANDBOX).
  frame.setAttribute("sandbox", "allow-popups allow-popups-to-escape-sandbox");
  frame.setAttribute("referrerpolicy", "no-referrer");
  // Served by the engine with its own strict CSP (a srcdoc frame would inherit the page's).
  frame.src = api.frameUrl(ctx.mailboxId, msg.id, !!ctx.allowRemote);
  out.push(frame);
  return out;
}
