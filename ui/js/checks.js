// The reader's check tabs: HTML check, Link check, Spam check (GET …/html-check, …/link-check,
// …/spam-check). The HTML and spam checks run when their tab is first opened; the link check
// reaches out to other hosts, so it runs only when the reader presses its button. Results are
// kept for the message while it stays open.

import { api } from "./api.js";

const PCT = (x) => `${Math.round((x || 0) * 10) / 10} %`;

/** "76.9 % supported · 3 % partial · 20.2 % not supported" */
export function scoreLine(total) {
  const t = total || {};
  return `${PCT(t.supported)} supported · ${PCT(t.partial)} partial · ${PCT(t.unsupported)} not supported`;
}

/** Counts of a finding's clients by support: { yes, partial, no, unknown }. */
export function clientCounts(clients) {
  const c = { yes: 0, partial: 0, no: 0, unknown: 0 };
  for (const x of clients || []) c[x.support in c ? x.support : "unknown"] += 1;
  return c;
}

/** A link result as { text, tone } with tone "ok" | "warn" | "bad". */
export function linkStatus(l) {
  if (l.error) return { text: l.status ? `${l.status} · ${l.error}` : l.error, tone: "bad" };
  const text = `${l.status} ${l.statusText || ""}`.trim();
  if (l.ok) return { text: l.redirects && l.redirects.length ? `${text} after ${l.redirects.length} redirect${l.redirects.length > 1 ? "s" : ""}` : text, tone: "ok" };
  return { text, tone: l.status >= 500 || l.status === 404 ? "bad" : "warn" };
}

/** The verdict line of a spam check, or null when it gave none. */
export function spamVerdict(r) {
  if (!r || !r.enabled || r.error) return null;
  return `${r.isSpam ? "Spam" : "Not spam"}: score ${r.score} (threshold ${r.threshold})`;
}

/** How to turn the spam check on, as the tab says it. */
export const SPAM_OFF =
  "The spam check is off. Start Mailiy with --spamassassin HOST:PORT (or MAILIY_SPAMASSASSIN) pointing at a running SpamAssassin spamd, e.g. `spamd --listen 127.0.0.1:783 --allowed-ips 127.0.0.1 --nouser-config -x`, then `mailiy serve --spamassassin 127.0.0.1:783`.";

/**
 * The three check tabs for the reader, in its tab form ({ name, label, enabled, render }).
 * `el` is the reader's element helper.
 */
export function checkTabs(msg, ctx, el) {
  const mbx = ctx.mailboxId;
  const kept = {};
  // Runs `load` once per message; renders its result (or error) into the panel now or later.
  const once = (key, load, p, show) => {
    const slot = el("div", { class: "check-body", "data-testid": `${key}-result` }, el("p", { class: "panel-note", text: "Checking…" }));
    p.append(slot);
    if (!kept[key]) kept[key] = load();
    kept[key].then(
      (r) => slot.replaceChildren(...show(r)),
      (e) => slot.replaceChildren(el("p", { class: "check-error", text: e.message })),
    );
  };

  const htmlFindings = (r) => {
    if (!r.hasHtml) return [el("p", { class: "panel-note", text: "This message has no HTML part: there is nothing to check." })];
    const out = [
      el("p", { class: "check-score", "data-testid": "html-score", text: scoreLine(r.total) }),
      el("p", { class: "panel-note", text: `${r.findings.length} features used, ${r.nodes} tags read · caniemail data ${r.dataVersion} (${(r.dataUpdated || "").slice(0, 10)}) · each client is the latest version tested` }),
    ];
    if (r.limited) out.push(el("p", { class: "check-error", text: `Only part of the HTML was checked: ${r.limited}` }));
    const list = el("ul", { class: "check-list" });
    for (const f of r.findings) {
      const c = clientCounts(f.clients);
      const summary = el(
        "summary",
        {},
        el("span", { class: `check-tone ${c.no ? "bad" : c.partial ? "warn" : "ok"}`, text: c.no ? "✕" : c.partial ? "◐" : "✓" }),
        el("strong", { text: f.title }),
        el("span", { class: "check-meta", text: ` ${f.category} · used ${f.found}× · not supported by ${c.no}, partly by ${c.partial} of ${c.yes + c.partial + c.no} clients` }),
      );
      const places = el("ul", { class: "check-places" }, ...f.places.map((p) => el("li", {}, el("span", { class: "check-line", text: `line ${p.line}` }), el("code", { text: p.snippet }))));
      const clients = el("ul", { class: "check-clients" }, ...f.clients.filter((x) => x.support !== "yes").map((x) => el("li", { class: `support-${x.support}`, title: x.notes.join(" "), text: `${x.familyName} ${x.platformName} (${x.version}): ${x.support}${x.notes.length ? " *" : ""}` })));
      const more = el("a", { href: f.url, target: "_blank", rel: "noopener noreferrer", text: "caniemail.com" });
      list.append(el("li", { "data-slug": f.slug }, el("details", {}, summary, el("p", { class: "check-desc", text: f.description }), places, clients, more)));
    }
    out.push(list);
    return out;
  };

  const linkResults = (r) => {
    const out = [el("p", { class: "check-score", "data-testid": "link-summary", text: `${r.checked} of ${r.found} URLs checked · ${r.errors} not ok · reaching ${r.allow} addresses` })];
    if (r.limited) out.push(el("p", { class: "check-error", text: r.limited }));
    const list = el("ul", { class: "check-list links-checked" });
    for (const l of r.links) {
      const s = linkStatus(l);
      const chain = (l.redirects || []).map((h) => `${h.status} ${h.url}`).join(" → ");
      list.append(el(
        "li",
        { class: `link-${s.tone}` },
        el("span", { class: `check-tone ${s.tone}`, text: s.tone === "ok" ? "✓" : "✕" }),
        el("span", { class: "check-status", text: s.text }),
        el("span", { class: "check-url", title: l.url, text: `${l.kind === "image" ? "image " : ""}${l.url}` }),
        chain ? el("span", { class: "check-meta", text: `${chain} → ${l.finalUrl || ""}` }) : null,
      ));
    }
    out.push(list);
    return out;
  };

  const spamResult = (r) => {
    if (!r.enabled) return [el("p", { class: "check-off", "data-testid": "spam-off", text: SPAM_OFF })];
    if (r.error) return [el("p", { class: "check-error", text: r.error })];
    const table = el("table", { class: "headers check-rules" }, el("tr", {}, el("th", { text: "Score" }), el("th", { text: "Rule" }), el("th", { text: "Description" })));
    for (const rule of r.rules) table.append(el("tr", {}, el("td", { text: String(rule.score) }), el("td", { text: rule.name }), el("td", { text: rule.description })));
    return [el("p", { class: `check-score ${r.isSpam ? "bad" : "ok"}`, "data-testid": "spam-verdict", text: spamVerdict(r) }), el("p", { class: "panel-note", text: `spamd at ${r.spamd}` }), table];
  };

  return [
    {
      name: "HTML check",
      enabled: !!msg.html,
      render: (p) => once("html-check", () => api.htmlCheck(mbx, msg.id), p, htmlFindings),
    },
    {
      name: "Link check",
      enabled: true,
      render: (p) => {
        p.append(el("p", { class: "panel-note", text: "Asks every link and image URL of this message (HEAD, then GET where HEAD is refused), from this machine. Which addresses it may reach is set by --link-check-allow (public by default; add loopback for links to your own dev server)." }));
        if (kept["link-check"]) return once("link-check", null, p, linkResults);
        const run = el("button", { type: "button", class: "btn", "data-testid": "run-link-check", text: "Check links" });
        run.addEventListener("click", () => {
          run.remove();
          once("link-check", () => api.linkCheck(mbx, msg.id), p, linkResults);
        });
        p.append(run);
      },
    },
    {
      name: "Spam check",
      enabled: true,
      render: (p) => once("spam-check", () => api.spamCheck(mbx, msg.id), p, spamResult),
    },
  ];
}
