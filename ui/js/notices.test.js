import { test } from "node:test";
import assert from "node:assert/strict";
import { refusedRecipients } from "./notices.js";

const refusals = [
  { time: "2026-12-03T10:00:03Z", code: 550, recipients: ["B@x.test"] },
  { time: "2026-12-03T10:00:02Z", code: 552, recipients: ["big@x.test"] },
  { time: "2026-12-03T10:00:01Z", code: 550, recipients: ["a@x.test", "b@x.test"] },
];

test("unknown recipients, newest first, each once; too-big refusals are not about addresses", () => {
  assert.deepEqual(refusedRecipients(refusals).map((r) => r.address), ["B@x.test", "a@x.test"]);
});

test("dismissed ones and addresses that have a mailbox now are left out", () => {
  assert.deepEqual(refusedRecipients(refusals, "2026-12-03T10:00:01Z").map((r) => r.address), ["B@x.test"]);
  assert.deepEqual(refusedRecipients(refusals, "", new Set(["b@x.test"])).map((r) => r.address), ["a@x.test"]);
});
