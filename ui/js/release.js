// Release (POST /v1/mailbox/:id/messages/:mid/release): send the open message on, unchanged,
// through the relay the server was started with (--smtp-relay), to the addresses typed here.

const enc = encodeURIComponent;

/** The addresses typed in the release box: split on commas, semicolons and spaces. */
export function parseRecipients(text) {
  return String(text || "")
    .split(/[\s,;]+/)
    .map((a) => a.trim())
    .filter(Boolean);
}

function node(tag, attrs = {}, text = "") {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text) n.textContent = text;
  return n;
}

/** A "Release…" button that opens a small form under the message's tools. */
export function releaseControl(mailboxId, messageId) {
  const wrap = node("span", { class: "release" });
  const open = node("button", { type: "button", class: "btn-ghost", id: "release-open", title: "Send this message on through the SMTP relay" }, "Release…");
  const form = node("form", { class: "release-form", id: "release-form", hidden: "" });
  const to = node("input", { type: "text", id: "release-to", class: "mono", placeholder: "dev@example.com", "aria-label": "Release to (addresses)", autocomplete: "off", spellcheck: "false" });
  const send = node("button", { type: "submit", class: "btn-ghost" }, "Send");
  const status = node("span", { class: "hint", id: "release-status", role: "status" });
  form.append(to, send, status);
  wrap.append(open, form);
  open.addEventListener("click", () => {
    form.hidden = !form.hidden;
    if (!form.hidden) to.focus();
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const recipients = parseRecipients(to.value);
    if (!recipients.length) return void (status.textContent = "Type at least one address.");
    status.textContent = "Sending…";
    const res = await fetch(`/v1/mailbox/${enc(mailboxId)}/messages/${enc(messageId)}/release`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ to: recipients }),
    }).catch(() => null);
    const data = res ? await res.json().catch(() => null) : null;
    status.textContent = res && res.ok
      ? `Sent to ${recipients.join(", ")} via ${data.relay}.`
      : (data && data.error && data.error.message) || "The engine is not reachable.";
  });
  return wrap;
}
