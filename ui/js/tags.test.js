import { test } from "node:test";
import assert from "node:assert/strict";
import { chipLabels } from "./tags.js";

test("a row shows three chips and counts the rest", () => {
  assert.deepEqual(chipLabels(["a", "b", "c", "d", "e"]), ["a", "b", "c", "+2"]);
  assert.deepEqual(chipLabels(["a"]), ["a"]);
  assert.deepEqual(chipLabels(undefined), []);
  assert.deepEqual(chipLabels(["a", "", 3, "b"], Infinity), ["a", "b"]);
});
