import test from "node:test";
import assert from "node:assert/strict";
import { mainLink, tabAfterKey } from "./reader.js";

test("mainLink prefers the anchor whose text asks for an action", () => {
  const links = ["https://shop.test/", "https://shop.test/a?t=1", "https://shop.test/unsubscribe"];
  const anchors = [
    { href: "https://shop.test/", text: "Shop" },
    { href: "https://shop.test/a?t=1", text: "Verify email" },
  ];
  assert.equal(mainLink(links, anchors), "https://shop.test/a?t=1");
});

test("mainLink falls back to a URL that reads like an action", () => {
  const links = ["https://x.test/home", "https://x.test/reset-password?k=9", "https://x.test/login"];
  assert.equal(mainLink(links, []), "https://x.test/reset-password?k=9");
  assert.equal(mainLink(["https://x.test/auth/magic?k=1"]), "https://x.test/auth/magic?k=1");
});

test("mainLink ignores unsubscribe, other schemes and plain links", () => {
  assert.equal(mainLink(["https://x.test/unsubscribe/confirm"], [{ href: "https://x.test/unsubscribe/confirm", text: "Confirm" }]), null);
  assert.equal(mainLink([], [{ href: "mailto:verify@x.test", text: "Verify" }]), null);
  assert.equal(mainLink(["https://x.test/news", "https://x.test/blog"], [{ href: "https://x.test/news", text: "Read more" }]), null);
  assert.equal(mainLink(undefined, undefined), null);
});

test("tabAfterKey moves, wraps, skips disabled tabs and ignores other keys", () => {
  const all = [true, true, true, true];
  assert.equal(tabAfterKey(0, "ArrowRight", all), 1);
  assert.equal(tabAfterKey(3, "ArrowRight", all), 0);
  assert.equal(tabAfterKey(0, "ArrowLeft", all), 3);
  assert.equal(tabAfterKey(2, "Home", all), 0);
  assert.equal(tabAfterKey(1, "End", all), 3);
  const noHtml = [false, true, true, true];
  assert.equal(tabAfterKey(1, "ArrowLeft", noHtml), 3);
  assert.equal(tabAfterKey(3, "Home", noHtml), 1);
  assert.equal(tabAfterKey(1, "End", [false, true, true, false]), 2);
  assert.equal(tabAfterKey(1, "Enter", all), -1);
  assert.equal(tabAfterKey(0, "ArrowDown", all), -1);
});
