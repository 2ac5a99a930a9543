import { test } from "node:test";
import assert from "node:assert/strict";
import { clientCounts, linkStatus, scoreLine, spamVerdict, SPAM_OFF } from "./checks.js";

test("scoreLine rounds to one decimal", () => {
  assert.equal(scoreLine({ supported: 76.94, partial: 3, unsupported: 20.06 }), "76.9 % supported · 3 % partial · 20.1 % not supported");
});

test("clientCounts counts by support", () => {
  assert.deepEqual(clientCounts([{ support: "yes" }, { support: "no" }, { support: "no" }, { support: "odd" }]), { yes: 1, partial: 0, no: 2, unknown: 1 });
});

test("linkStatus names errors, redirects and failures", () => {
  assert.deepEqual(linkStatus({ error: "redirect loop back to x", status: 302 }), { text: "302 · redirect loop back to x", tone: "bad" });
  assert.deepEqual(linkStatus({ ok: true, status: 200, statusText: "OK", redirects: [{}, {}] }), { text: "200 OK after 2 redirects", tone: "ok" });
  assert.equal(linkStatus({ ok: false, status: 404, statusText: "Not Found" }).tone, "bad");
  assert.equal(linkStatus({ ok: false, status: 403, statusText: "Forbidden" }).tone, "warn");
});

test("spamVerdict only for a verdict; the off text names the flag", () => {
  assert.equal(spamVerdict({ enabled: false }), null);
  assert.equal(spamVerdict({ enabled: true, error: "down" }), null);
  assert.equal(spamVerdict({ enabled: true, isSpam: true, score: 1000, threshold: 5 }), "Spam: score 1000 (threshold 5)");
  assert.match(SPAM_OFF, /--spamassassin HOST:PORT/);
});
