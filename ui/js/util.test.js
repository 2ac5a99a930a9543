import test from "node:test";
import assert from "node:assert/strict";
import {
  formatSize, relativeTime, moveSelection, selectionAfterRemove,
  senderLabel, parseRoute, routeHash, insertNewest,
  localDateTime, inWords, expiryWords,
} from "./util.js";

test("formatSize", () => {
  assert.equal(formatSize(0), "0 B");
  assert.equal(formatSize(1023), "1023 B");
  assert.equal(formatSize(1536), "1.5 KB");
  assert.equal(formatSize(5 * 1024 * 1024), "5.0 MB");
  assert.equal(formatSize(25 * 1024 * 1024), "25 MB");
});

test("relativeTime", () => {
  const now = Date.parse("2026-11-27T19:00:00.000Z");
  assert.equal(relativeTime("2026-11-27T19:00:00.000Z", now), "now");
  assert.equal(relativeTime("2026-11-27T18:59:30.000Z", now), "30s");
  assert.equal(relativeTime("2026-11-27T18:55:00.000Z", now), "5m");
  assert.equal(relativeTime("2026-11-27T16:00:00.000Z", now), "3h");
  assert.equal(relativeTime("2026-11-25T19:00:00.000Z", now), "2d");
  assert.equal(relativeTime("2026-10-01T19:00:00.000Z", now), "2026-10-01");
  assert.equal(relativeTime("garbage", now), "");
  assert.equal(relativeTime("2026-11-27T19:00:10.000Z", now), "now"); // clock skew
});

test("moveSelection", () => {
  assert.equal(moveSelection(-1, 1, 0), -1);
  assert.equal(moveSelection(-1, 1, 3), 0);
  assert.equal(moveSelection(-1, -1, 3), 2);
  assert.equal(moveSelection(0, -1, 3), 0);
  assert.equal(moveSelection(2, 1, 3), 2);
  assert.equal(moveSelection(1, 1, 3), 2);
});

test("selectionAfterRemove", () => {
  assert.equal(selectionAfterRemove(0, 0, 1), -1);
  assert.equal(selectionAfterRemove(2, 2, 3), 1);
  assert.equal(selectionAfterRemove(1, 1, 3), 1);
  assert.equal(selectionAfterRemove(2, 0, 3), 1);
  assert.equal(selectionAfterRemove(0, 2, 3), 0);
});

test("senderLabel", () => {
  const m = { from: { name: "Acme", address: "no-reply@acme.test" } };
  assert.equal(senderLabel(m.from), "Acme");
  assert.equal(senderLabel({ address: "a@b" }), "a@b");
  assert.equal(senderLabel(null), "(unknown sender)");
});

test("routes round-trip", () => {
  assert.deepEqual(parseRoute(""), { mailbox: null, message: null });
  assert.deepEqual(parseRoute("#/mailbox/mbx_1"), { mailbox: "mbx_1", message: null });
  assert.deepEqual(parseRoute("#/mailbox/mbx_1/message/msg_2"), { mailbox: "mbx_1", message: "msg_2" });
  assert.deepEqual(parseRoute(routeHash("a@b.test", "m/1")), { mailbox: "a@b.test", message: "m/1" });
  assert.equal(routeHash(null), "#/");
});

test("insertNewest keeps newest first without duplicates", () => {
  const a = { id: "a", receivedAt: "2026-11-27T19:00:00.000Z" };
  const b = { id: "b", receivedAt: "2026-11-27T19:01:00.000Z" };
  const c = { id: "c", receivedAt: "2026-11-27T18:59:00.000Z" };
  let l = insertNewest([], a);
  l = insertNewest(l, b);
  l = insertNewest(l, c);
  l = insertNewest(l, b);
  assert.deepEqual(l.map((m) => m.id), ["b", "a", "c"]);
});

test("insertNewest works in place and keeps at most `limit`, dropping the oldest", () => {
  const at = (i) => ({ id: `m${i}`, receivedAt: new Date(Date.UTC(2026, 10, 27, 19, i)).toISOString() });
  const l = [];
  for (let i = 0; i < 5; i++) assert.equal(insertNewest(l, at(i), 3), l);
  assert.deepEqual(l.map((m) => m.id), ["m4", "m3", "m2"]);
  // Older than everything kept, in a full list: it does not fit.
  assert.deepEqual(insertNewest(l, at(0), 3).map((m) => m.id), ["m4", "m3", "m2"]);
  // A duplicate of the newest does not push anything out.
  assert.deepEqual(insertNewest(l, at(4), 3).map((m) => m.id), ["m4", "m3", "m2"]);
  // Out of order: it goes where its time puts it.
  const mid = { id: "x", receivedAt: new Date(Date.UTC(2026, 10, 27, 19, 3, 30)).toISOString() };
  assert.deepEqual(insertNewest(l, mid, 3).map((m) => m.id), ["m4", "x", "m3"]);
});

test("localDateTime", () => {
  const iso = "2026-11-27T19:00:00.000Z";
  assert.equal(localDateTime(iso), new Date(iso).toLocaleString());
  assert.equal(localDateTime("garbage"), "");
});

test("insertNewest puts the later of two in the same millisecond on top", () => {
  const a = { id: "a", receivedAt: "2026-11-27T19:00:00.000Z" };
  const b = { id: "b", receivedAt: "2026-11-27T19:00:00.000Z" };
  const older = { id: "o", receivedAt: "2026-11-27T18:00:00.000Z" };
  const l = insertNewest(insertNewest(insertNewest([], older), a), b);
  assert.deepEqual(l.map((m) => m.id), ["b", "a", "o"]);
});

test("inWords", () => {
  assert.equal(inWords(0), "in 0 s");
  assert.equal(inWords(45_000), "in 45 s");
  assert.equal(inWords(60_000), "in 1 min");
  assert.equal(inWords(61_000), "in 2 min");
  assert.equal(inWords(59 * 60_000), "in 59 min");
  assert.equal(inWords(60 * 60_000), "in 1 h");
  assert.equal(inWords(3599_500), "in 1 h"); // 59 min 59.5 s: never "in 0 h 59 min"
  assert.equal(inWords(61 * 60_000), "in 1 h 1 min");
  assert.equal(inWords(190 * 60_000), "in 3 h 10 min");
  assert.equal(inWords(52 * 3600_000), "in 2 d 4 h");
  assert.equal(inWords(48 * 3600_000), "in 2 d");
});

test("expiryWords", () => {
  const now = Date.parse("2026-11-27T10:00:00.000Z");
  const clock = (ms, withDay) => `${withDay ? "day " : ""}${new Date(ms).toISOString().slice(11, 16)}`;
  assert.deepEqual(expiryWords("2026-11-27T10:59:00.000Z", now, clock), { text: "Expires 10:59 · in 59 min", state: "ok" });
  assert.deepEqual(expiryWords("2026-11-27T10:04:00.000Z", now, clock), { text: "Expires 10:04 · in 4 min", state: "soon" });
  assert.deepEqual(expiryWords("2026-11-27T10:00:30.000Z", now, clock), { text: "Expires 10:00 · in 30 s", state: "soon" });
  assert.deepEqual(expiryWords("2026-11-29T10:00:00.000Z", now, clock), { text: "Expires day 10:00 · in 2 d", state: "ok" });
  assert.deepEqual(expiryWords("2026-11-27T10:00:00.000Z", now, clock), { text: "Expired", state: "expired" });
  assert.deepEqual(expiryWords("2026-11-27T09:00:00.000Z", now, clock), { text: "Expired", state: "expired" });
  assert.equal(expiryWords("garbage", now, clock).text, "");
  // Without a clock, the local time is written (some digits and a separator).
  assert.match(expiryWords("2026-11-27T10:59:00.000Z", now).text, /^Expires .*\d\d.* · in 59 min$/);
});
