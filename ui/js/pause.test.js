import { test } from "node:test";
import assert from "node:assert/strict";
import { intakeSummary } from "./pause.js";

test("the banner names the reply senders get, and nothing while mail is taken", () => {
  assert.equal(intakeSummary({ paused: false, code: 421, text: "x" }), "");
  assert.equal(intakeSummary(null), "");
  assert.equal(
    intakeSummary(
      { paused: true, code: 421, text: "4.3.2 Intake paused, try again later", pausedAt: "2026-01-01T10:00:00Z" },
      () => "10:00",
    ),
    'Intake is paused since 10:00: every SMTP client is answered "421 4.3.2 Intake paused, try again later" and its mail is not taken.',
  );
});
