import { test } from "node:test";
import assert from "node:assert/strict";
import { stackSnippets, hostPort } from "./welcome.js";

test("the snippets carry the live SMTP address", () => {
  const s = new Map(stackSnippets("127.0.0.1", "2525"));
  assert.match(s.get("Django"), /EMAIL_PORT = 2525/);
  assert.match(s.get("nodemailer"), /host: "127.0.0.1", port: 2525, ignoreTLS: true/);
  // Jakarta Mail matches names only (docs/smtp.md).
  assert.match(s.get("Spring Boot"), /spring.mail.host=localhost/);
});

test("hostPort splits an address, IPv6 too", () => {
  assert.deepEqual(hostPort("127.0.0.1:1025"), ["127.0.0.1", "1025"]);
  assert.deepEqual(hostPort("[::1]:1025"), ["::1", "1025"]);
});
