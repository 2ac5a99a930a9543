// Mail in and out of a mailbox from the web UI: "Download all (mbox)" (GET /v1/mailbox/:id/mbox)
// and `.eml` files dropped on the messages pane, each stored by POST /v1/mailbox/:id/messages
// (the same caps and parsing as SMTP; they arrive through message.received like any mail).

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;

/** The files of a drop that are messages (.eml, or message/rfc822 whatever their name). */
export function messageFiles(files) {
  return [...files].filter((f) => /\.eml$/i.test(f.name) || f.type === "message/rfc822");
}

/** One line about a drop's outcome ("2 messages added", "1 added; x.eml: too large"). */
export function dropSummary(added, failures) {
  const ok = added === 1 ? "1 message added" : `${added} messages added`;
  return failures.length ? `${ok}; ${failures.join("; ")}` : ok;
}

function status(text) {
  const s = $("drop-status");
  if (!s) return;
  s.textContent = text;
  s.hidden = !text;
}

async function upload(mailbox, file) {
  const res = await fetch(`/v1/mailbox/${enc(mailbox)}/messages`, {
    method: "POST",
    headers: { "Content-Type": "message/rfc822" },
    body: file,
  });
  if (res.ok) return null;
  const data = await res.json().catch(() => null);
  return `${file.name}: ${(data && data.error && data.error.message) || res.statusText}`;
}

async function onDrop(ev, currentMailbox) {
  ev.preventDefault();
  $("pane-messages")?.classList.remove("dropping");
  const mailbox = currentMailbox();
  const files = messageFiles(ev.dataTransfer?.files || []);
  if (!mailbox) return status("Pick an address first, then drop .eml files on it.");
  if (!files.length) return status("Only .eml files can be dropped here.");
  status(`Adding ${files.length}…`);
  const failures = [];
  for (const f of files) {
    const failed = await upload(mailbox, f).catch((e) => `${f.name}: ${e.message}`);
    if (failed) failures.push(failed);
  }
  status(dropSummary(files.length - failures.length, failures));
}

/** Wires the drop zone and the download button; `currentMailbox()` names the open mailbox. */
export function initTransfer(currentMailbox) {
  const pane = $("pane-messages");
  if (pane) {
    pane.addEventListener("dragover", (ev) => {
      if (![...(ev.dataTransfer?.types || [])].includes("Files")) return;
      ev.preventDefault();
      pane.classList.add("dropping");
    });
    pane.addEventListener("dragleave", () => pane.classList.remove("dropping"));
    pane.addEventListener("drop", (ev) => onDrop(ev, currentMailbox));
  }
  $("mb-download")?.addEventListener("click", (ev) => {
    const mailbox = currentMailbox();
    if (!mailbox) {
      ev.preventDefault();
      return;
    }
    ev.currentTarget.href = `/v1/mailbox/${enc(mailbox)}/mbox`;
  });
}
