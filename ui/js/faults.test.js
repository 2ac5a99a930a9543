import { test } from "node:test";
import assert from "node:assert/strict";
import { faultSummary } from "./faults.js";

test("the banner says what each fault does, and nothing when off", () => {
  assert.equal(faultSummary({ active: false, rules: [{ stage: "rcpt", code: 451 }] }), "");
  assert.equal(
    faultSummary({
      active: true,
      rules: [
        { stage: "rcpt", code: 451, text: "4.3.0 Try again", count: 2 },
        { stage: "mail", code: 550, count: 0 },
        { stage: "dataEnd", delayMs: 500 },
        { stage: "data", disconnectAfterBytes: 100, probability: 0.5 },
      ],
      mailboxes: [{ address: "a@x.test", answer: "full" }],
      greylist: { delaySeconds: 5 },
      rateLimit: { messages: 3, windowSeconds: 60 },
    }),
    "RCPT answers 451 4.3.0 Try again (next 2); end of DATA waits 500 ms; DATA disconnects after 100 bytes (50 %); " +
      "a@x.test answers as full; greylisting 5 s; 3 messages per 60 s",
  );
});
