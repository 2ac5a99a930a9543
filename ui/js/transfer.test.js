import { test } from "node:test";
import assert from "node:assert/strict";
import { dropSummary, messageFiles } from "./transfer.js";

test("only message files are taken from a drop", () => {
  const files = [
    { name: "a.eml", type: "" },
    { name: "B.EML", type: "" },
    { name: "notes.txt", type: "text/plain" },
    { name: "forwarded", type: "message/rfc822" },
  ];
  assert.deepEqual(messageFiles(files).map((f) => f.name), ["a.eml", "B.EML", "forwarded"]);
});

test("the drop's line counts what was added and names each failure", () => {
  assert.equal(dropSummary(1, []), "1 message added");
  assert.equal(dropSummary(2, ["x.eml: too large"]), "2 messages added; x.eml: too large");
});
