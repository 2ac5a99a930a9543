import { test } from "node:test";
import assert from "node:assert/strict";
import { minutes, urlAfterMove } from "./settings.js";

test("lifetimes read as people say them", () => {
  assert.equal(minutes(60), "1 hour");
  assert.equal(minutes(1440), "1 day");
  assert.equal(minutes(43200), "30 days");
  assert.equal(minutes(90), "90 min");
});

test("the page follows the API to its new address", () => {
  const here = { protocol: "http:", hostname: "192.168.1.7" };
  assert.equal(urlAfterMove("127.0.0.1:9000", here), "http://127.0.0.1:9000/#/settings");
  // All interfaces: stay on the host name the user typed.
  assert.equal(urlAfterMove("0.0.0.0:9000", here), "http://192.168.1.7:9000/#/settings");
  assert.equal(urlAfterMove("[::1]:9000", here), "http://[::1]:9000/#/settings");
});
