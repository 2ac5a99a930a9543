import test from "node:test";
import assert from "node:assert/strict";
import { envelopeRows, transcriptText } from "./envelope.js";

test("envelopeRows", () => {
  assert.deepEqual(envelopeRows(null), []);
  const env = {
    mailFrom: "app@example.test",
    rcptTo: ["a@x.test", "b@x.test"],
    helo: "app.local",
    client: "127.0.0.1:5000",
    authUser: null,
    tls: { version: "TLSv1.3", cipher: "TLS13_AES_128_GCM_SHA256" },
  };
  assert.deepEqual(envelopeRows(env), [
    ["MAIL FROM", "app@example.test"],
    ["RCPT TO", "a@x.test, b@x.test"],
    ["HELO", "app.local"],
    ["Client", "127.0.0.1:5000"],
    ["TLS", "TLSv1.3 TLS13_AES_128_GCM_SHA256"],
  ]);
  // Synced mail: the sender alone, no TLS row.
  assert.deepEqual(envelopeRows({ mailFrom: "", rcptTo: [], tls: null }), [["MAIL FROM", "<>"]]);
  assert.deepEqual(envelopeRows({ mailFrom: "a@b", rcptTo: [], client: "1.2.3.4:5", tls: null })[1], ["Client", "1.2.3.4:5"]);
});

test("transcriptText", () => {
  assert.equal(
    transcriptText([
      { t: 0, direction: "server", text: "220 hi" },
      { t: 3, direction: "client", text: "EHLO x" },
    ]),
    "+0ms S: 220 hi\n+3ms C: EHLO x",
  );
  assert.match(transcriptText([]), /without an SMTP session/);
});
