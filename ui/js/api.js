// The engine's API (shared/API.md) over fetch and EventSource, same origin. Where the engine
// wants its token, the `mailiy_token` cookie carries it (see settings.js).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "network", "The engine is not reachable. Is `mailiy serve` running?");
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    throw new ApiError(res.status, err.code || "http_" + res.status, err.message || res.statusText);
  }
  return data;
}

const enc = encodeURIComponent;

export const api = {
  health: () => call("GET", "/v1/health"),
  mailboxes: () => call("GET", "/v1/mailbox"),
  createMailbox: (opts) => call("POST", "/v1/mailbox", opts),
  updateMailbox: (id, body) => call("PATCH", `/v1/mailbox/${enc(id)}`, body),
  deleteMailbox: (id) => call("DELETE", `/v1/mailbox/${enc(id)}`),
  messages: (id, q) => call("GET", `/v1/mailbox/${enc(id)}/messages${q ? `?q=${enc(q)}` : ""}`),
  /** Every live mailbox's newest messages: { count, messages }. */
  allMessages: (q, limit) => call("GET", `/v1/messages?limit=${limit}${q ? `&q=${enc(q)}` : ""}`),
  /** `body`: { action: "read" | "unread" | "delete", ids | query | all }; `mailbox` null for all. */
  bulk: (mailbox, body) =>
    call("POST", mailbox ? `/v1/mailbox/${enc(mailbox)}/messages/bulk` : "/v1/messages/bulk", body),
  refusals: () => call("GET", "/v1/refusals?limit=20"),
  message: (id, mid, allowRemote) =>
    call("GET", `/v1/mailbox/${enc(id)}/messages/${enc(mid)}${allowRemote ? "?allowRemote=1" : ""}`),
  deleteMessage: (id, mid) => call("DELETE", `/v1/mailbox/${enc(id)}/messages/${enc(mid)}`),
  /** The same DELETE, sent even as the page goes away (an undo window closing with it). */
  deleteMessageOnLeave: (id, mid) =>
    fetch(`/v1/mailbox/${enc(id)}/messages/${enc(mid)}`, { method: "DELETE", keepalive: true }).catch(() => {}),
  settings: () => call("GET", "/v1/settings"),
  updateSettings: (patch) => call("PATCH", "/v1/settings", patch),
  remotes: () => call("GET", "/v1/remotes"),
  addRemote: (body) => call("POST", "/v1/remotes", body),
  deleteRemote: (id) => call("DELETE", `/v1/remotes/${enc(id)}`),
  faults: () => call("GET", "/v1/faults"),
  setFaults: (config) => call("PUT", "/v1/faults", config),
  intake: () => call("GET", "/v1/intake"),
  setIntake: (change) => call("PUT", "/v1/intake", change),
  frameUrl: (id, mid, allowRemote) =>
    `/frame/${enc(id)}/${enc(mid)}${allowRemote ? "?allowRemote=1" : ""}`,
  session: (id, mid) => call("GET", `/v1/mailbox/${enc(id)}/messages/${enc(mid)}/session`),
  htmlCheck: (id, mid) => call("GET", `/v1/mailbox/${enc(id)}/messages/${enc(mid)}/html-check`),
  linkCheck: (id, mid) => call("GET", `/v1/mailbox/${enc(id)}/messages/${enc(mid)}/link-check`),
  spamCheck: (id, mid) => call("GET", `/v1/mailbox/${enc(id)}/messages/${enc(mid)}/spam-check`),
  rawUrl: (id, mid) => `/v1/mailbox/${enc(id)}/messages/${enc(mid)}/raw`,
  attachmentUrl: (id, mid, aid) => `/v1/mailbox/${enc(id)}/messages/${enc(mid)}/attachments/${enc(aid)}`,
  async raw(id, mid) {
    const res = await fetch(this.rawUrl(id, mid));
    if (!res.ok) throw new ApiError(res.status, "raw", "Could not load the source");
    return res.text();
  },
};

/**
 * Opens the event stream. `handlers` maps event names to callbacks taking the parsed data;
 * `onState(state)` gets "connecting" | "open" | "reconnecting" | "closed"; `onReconnect()` runs after every
 * reconnect (not the first open), so the caller can re-read lists.
 */
export function connectEvents(handlers, onState, onReconnect) {
  let es = null;
  let opened = false;
  let retry = null;
  const open = () => {
    onState("connecting");
    es = new EventSource("/v1/events");
    es.onopen = () => {
      onState("open");
      if (opened) onReconnect();
      opened = true;
    };
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. an error status): retry ourselves.
        onState("closed");
        clearTimeout(retry);
        retry = setTimeout(open, 2000);
      } else {
        onState(opened ? "reconnecting" : "connecting");
      }
    };
    for (const [name, fn] of Object.entries(handlers)) {
      es.addEventListener(name, (ev) => {
        let data = null;
        try {
          data = ev.data ? JSON.parse(ev.data) : null;
        } catch {
          data = null;
        }
        fn(data);
      });
    }
  };
  open();
}
