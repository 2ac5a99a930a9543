import { test } from "node:test";
import assert from "node:assert/strict";
import { extendChoices } from "./caps.js";

const now = Date.parse("2026-12-03T10:00:00Z");
const mbx = (minutesLeft, max, tier = "anon") => ({
  tier,
  expiresAt: new Date(now + minutesLeft * 60_000).toISOString(),
  limits: { maxTtlMinutes: max },
});

test("a new anon address at its 60-minute cap offers no extension, each with the reason", () => {
  const c = extendChoices(mbx(60, 60), now);
  assert.deepEqual(c.map((x) => x.ok), [false, false, false, false]);
  assert.equal(c[0].reason, "At the cap: an anon address lives at most 1 hour from now");
});

test("after 15 minutes, +10 min fits and +1 h does not; the longest moves it to the cap", () => {
  const c = extendChoices(mbx(45, 60), now);
  assert.deepEqual(c.map((x) => [x.label, x.ok]), [
    ["+10 min", true], ["+1 h", false], ["+1 day", false], ["To the longest (1 hour)", true],
  ]);
  assert.deepEqual(c[0].body, { extendMinutes: 10 });
  assert.equal(Date.parse(c[3].body.expiresAt), now + 60 * 60_000 - 30_000);
});

test("a pro address with days to go can take every step", () => {
  const c = extendChoices(mbx(60, 43200, "pro"), now);
  assert.ok(c.every((x) => x.ok));
  assert.equal(c[3].label, "To the longest (30 days)");
});
