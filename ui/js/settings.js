// The settings view (GET/PATCH /v1/settings) and remote accounts (/v1/remotes).

import { api, ApiError } from "./api.js";
import { formatSize } from "./util.js";

const $ = (id) => document.getElementById(id);

// Form fields: [input id, setting path, kind]. Paths with a dot are nested objects.
const FIELDS = [
  ["set-smtp", "smtp", "text"],
  ["set-http", "http", "text"],
  ["set-lan", "lanMode", "check"],
  ["set-catch-all", "catchAll", "tier-or-off"],
  ["set-default-tier", "defaultTier", "text"],
  ["set-default-ttl", "defaultTtlMinutes", "number"],
  ["set-notify", "notifications.enabled", "check"],
  ["set-notify-detail", "notifications.showSenderAndSubject", "check"],
  ["set-notify-expiry", "notifications.expiryWarning", "check"],
  ["set-login", "startAtLogin", "check"],
  ["set-relay-target", "relay.target", "text-or-null"],
  ["set-relay-security", "relay.security", "text"],
  ["set-relay-user", "relay.user", "text-or-null"],
  ["set-relay-password", "relay.password", "secret"],
  ["set-relay-allow", "relay.allow", "text"],
  ["set-relay-auto", "relay.auto", "text-or-null"],
  ["set-relay-timeout", "relay.timeoutSeconds", "number"],
  ["set-relay-attempts", "relay.attempts", "number"],
];

const PIN_FLAGS = {
  smtp: "--smtp / MAILIY_SMTP",
  http: "--http / MAILIY_HTTP",
  catchAll: "--catch-all / MAILIY_CATCH_ALL",
  defaultTier: "--default-tier / MAILIY_DEFAULT_TIER",
  defaultTtlMinutes: "--default-ttl / MAILIY_DEFAULT_TTL",
  relay: "--smtp-relay / MAILIY_SMTP_RELAY",
};

let loaded = null; // the settings as last read

const get = (obj, path) => path.split(".").reduce((o, k) => (o == null ? o : o[k]), obj);

function readField(input, kind) {
  if (kind === "check") return input.checked;
  if (kind === "number") return Number(input.value);
  if (kind === "tier-or-off") return input.value || null;
  if (kind === "text-or-null") return input.value.trim() || null;
  // Write-only: sent when typed, never shown; empty keeps the one set.
  if (kind === "secret") return input.value || undefined;
  return input.value.trim();
}

function writeField(input, kind, value) {
  if (kind === "check") input.checked = Boolean(value);
  else if (kind === "tier-or-off") input.value = value || "";
  else if (kind === "secret") input.value = "";
  else input.value = value ?? "";
}

/** The patch that turns `loaded` into what the form shows: changed fields only. */
function patchFromForm() {
  const patch = {};
  for (const [id, path, kind] of FIELDS) {
    const value = readField($(id), kind);
    if (value === undefined || value === get(loaded, path)) continue;
    const [top, sub] = path.split(".");
    if (sub) (patch[top] ??= {})[sub] = value;
    else patch[top] = value;
  }
  return patch;
}

function fillForm(s) {
  loaded = s;
  const pinned = new Set(s.pinned || []);
  for (const [id, path, kind] of FIELDS) {
    const input = $(id);
    writeField(input, kind, get(s, path));
    const top = path.split(".")[0];
    const locked = pinned.has(top) || (top === "lanMode" && (pinned.has("smtp") || pinned.has("http")));
    input.disabled = locked;
    const note = document.querySelector(`.pin[data-for="${top}"]`);
    if (note) {
      note.hidden = !locked;
      note.textContent = locked ? `Set by ${PIN_FLAGS[top] || "a flag"} for this run.` : "";
    }
  }
  $("set-relay-password-state").textContent = s.relay?.passwordSet
    ? "A password is set; type a new one to replace it."
    : "None set.";
  $("set-token").textContent = s.token || "";
  $("set-token-state").textContent = s.tokenRequired
    ? "Required on every request to this address."
    : "Not needed on loopback; required in LAN mode.";
  $("set-data-dir").textContent = s.dataDir || "";
  $("set-domain").textContent = s.domain || "";
  // Set at start (--smtp-auth, --smtps): shown, not edited.
  $("set-smtp-auth").textContent = `${s.smtpAuth || "any"} (set at start)`;
  $("set-smtps").textContent = s.smtps ? `${s.smtps} (set at start)` : "off (--smtps ADDR)";
  const rows = $("set-tiers");
  rows.replaceChildren();
  for (const [name, t] of Object.entries(s.tiers || {})) {
    const tr = document.createElement("tr");
    for (const text of [name, formatSize(t.maxMessageBytes), formatSize(t.maxStorageBytes), minutes(t.maxTtlMinutes)]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    rows.append(tr);
  }
}

export function minutes(n) {
  if (n % 1440 === 0) return n === 1440 ? "1 day" : `${n / 1440} days`;
  if (n % 60 === 0) return n === 60 ? "1 hour" : `${n / 60} hours`;
  return `${n} min`;
}

function status(text, isError = false) {
  const s = $("settings-status");
  s.textContent = text;
  s.classList.toggle("error", isError);
}

/** Where the UI lives after the HTTP address changed to `addr` ("0.0.0.0:8026" and the like). */
export function urlAfterMove(addr, here) {
  const i = addr.lastIndexOf(":");
  let host = addr.slice(0, i);
  const port = addr.slice(i + 1);
  if (host === "0.0.0.0" || host === "[::]") host = here.hostname;
  return `${here.protocol}//${host}:${port}/#/settings`;
}

async function save(ev) {
  ev.preventDefault();
  const patch = patchFromForm();
  if (!Object.keys(patch).length) {
    status("Nothing changed.");
    return;
  }
  $("settings-save").disabled = true;
  status("Saving…");
  try {
    const next = await api.updateSettings(patch);
    if (patch.http !== undefined || (patch.lanMode !== undefined && next.http !== loaded.http)) {
      status(`Moved to ${next.http}; opening it…`);
      location.href = urlAfterMove(next.http, location);
      return;
    }
    fillForm(next);
    status("Saved.");
  } catch (e) {
    status(e.message, true);
  } finally {
    $("settings-save").disabled = false;
  }
}

// ---- remote accounts ----------------------------------------------------------------------

function remoteState(r) {
  if (r.state === "retrying" && r.retryAt) {
    const s = Math.max(0, Math.round((Date.parse(r.retryAt) - Date.now()) / 1000));
    return `retrying in ${s} s`;
  }
  return (r.state || "unknown").replace("_", " ");
}

async function loadRemotes() {
  const ul = $("remote-list");
  let remotes;
  try {
    remotes = await api.remotes();
  } catch (e) {
    ul.replaceChildren();
    $("remote-status").textContent = e.message;
    return;
  }
  ul.replaceChildren();
  for (const r of remotes) {
    const li = document.createElement("li");
    li.className = "remote";
    li.dataset.state = r.state || "";
    const name = document.createElement("span");
    name.className = "remote-name";
    name.textContent = r.name;
    const url = document.createElement("span");
    url.className = "remote-url mono";
    url.textContent = r.url;
    const st = document.createElement("span");
    st.className = "remote-state";
    st.textContent = remoteState(r);
    if (r.detail) st.title = r.detail;
    const del = document.createElement("button");
    del.type = "button";
    del.className = "btn-ghost";
    del.textContent = "Remove";
    del.addEventListener("click", async () => {
      try {
        await api.deleteRemote(r.id);
        loadRemotes();
      } catch (e) {
        $("remote-status").textContent = e.message;
      }
    });
    li.append(name, st, url, del);
    ul.append(li);
  }
  $("remote-empty").hidden = remotes.length > 0;
  document.dispatchEvent(new CustomEvent("mailiy:remotes", { detail: remotes }));
}

async function addRemote(ev) {
  ev.preventDefault();
  const body = {
    name: $("remote-name").value.trim(),
    url: $("remote-url").value.trim(),
    apiKey: $("remote-key").value,
  };
  $("remote-status").textContent = "Adding…";
  try {
    await api.addRemote(body);
    $("remote-key").value = "";
    $("remote-name").value = "";
    $("remote-url").value = "";
    $("remote-status").textContent = "";
    loadRemotes();
  } catch (e) {
    $("remote-status").textContent = e.message;
  }
}

// ---- open and close -----------------------------------------------------------------------

let remoteTimer = null;

export async function openSettings() {
  const d = $("settings");
  if (!d.open) d.showModal();
  status("");
  try {
    fillForm(await api.settings());
  } catch (e) {
    status(e.message, true);
  }
  loadRemotes();
  clearInterval(remoteTimer);
  remoteTimer = setInterval(loadRemotes, 5000);
}

export function closeSettings() {
  clearInterval(remoteTimer);
  const d = $("settings");
  if (d.open) d.close();
}

export function initSettings({ onClose, copy }) {
  $("settings-form").addEventListener("submit", save);
  $("settings-cancel").addEventListener("click", () => onClose());
  $("settings-close").addEventListener("click", () => onClose());
  $("settings").addEventListener("cancel", (ev) => {
    ev.preventDefault();
    onClose();
  });
  $("set-token-copy").addEventListener("click", (ev) => copy($("set-token").textContent, ev.currentTarget));
  $("remote-form").addEventListener("submit", addRemote);
}

// ---- the token, when this engine asks for one ---------------------------------------------

/** Keeps the token in a same-site cookie, which fetch, EventSource, frames and downloads send. */
export function rememberToken(token) {
  document.cookie = `mailiy_token=${encodeURIComponent(token)}; Path=/; SameSite=Strict; Max-Age=31536000`;
}

/** A `#token=…` link (as the desktop app opens in LAN mode) stores the token, then drops it. */
export function takeTokenFromHash() {
  const m = /^#token=([^&]+)/.exec(location.hash);
  if (!m) return;
  rememberToken(decodeURIComponent(m[1]));
  history.replaceState(null, "", location.pathname + location.search + "#/");
}

/** Asks for the token and reloads with it; resolves never (the page reloads). */
export function askForToken(previousFailed) {
  const d = $("token-dialog");
  $("token-error").hidden = !previousFailed;
  $("token-form").onsubmit = (ev) => {
    ev.preventDefault();
    rememberToken($("token-input").value.trim());
    location.reload();
  };
  if (!d.open) d.showModal();
  return new Promise(() => {});
}

export function isAuthError(e) {
  return e instanceof ApiError && e.status === 401;
}
