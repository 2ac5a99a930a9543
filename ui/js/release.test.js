import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRecipients } from "./release.js";

test("addresses are split on commas, semicolons and spaces", () => {
  assert.deepEqual(parseRecipients(" a@x.test, b@y.test;c@z.test  d@w.test "), ["a@x.test", "b@y.test", "c@z.test", "d@w.test"]);
  assert.deepEqual(parseRecipients(""), []);
});
