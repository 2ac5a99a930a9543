import { test } from "node:test";
import assert from "node:assert/strict";
import { titleFor } from "./attention.js";

test("the title counts unread mail and says nothing else", () => {
  assert.equal(titleFor(0), "Mailiy");
  assert.equal(titleFor(3), "(3) Mailiy");
  assert.equal(titleFor(12345), "(999+) Mailiy");
});
