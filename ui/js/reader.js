// Pure helpers of the message reader (no DOM), so `node --test ui/js/` can check them.

// Words of a link a person is asked to follow in a verification, reset or sign-in mail.
const ACTION = /verif|confirm|activat|validat|reset|password|log-?in|sign-?in|magic|one-?click|accept|invit/i;
// Never the main link, whatever else it says.
const NOT_ACTION = /unsubscribe|opt-?out|preferences|privacy|terms/i;

/**
 * The link a mail asks its reader to follow, or null: the first `anchors` entry ({ href, text })
 * whose text reads like an action, else the first of `links` (the API's list, in order) whose
 * URL does. Only http(s); unsubscribe and the like never count.
 */
export function mainLink(links, anchors = []) {
  const ok = (href) => /^https?:\/\//i.test(href || "") && !NOT_ACTION.test(href);
  for (const a of anchors) {
    if (ok(a.href) && ACTION.test(a.text || "") && !NOT_ACTION.test(a.text || "")) return a.href;
  }
  for (const href of links || []) {
    if (ok(href) && ACTION.test(href)) return href;
  }
  return null;
}

/**
 * The tab to focus after `key` in a tablist whose tabs are `enabled` (booleans), from `index`:
 * Left/Right wrap around, Home/End go to the first/last, disabled tabs are skipped. -1 when
 * the key is not a tablist key (the caller lets it through).
 */
export function tabAfterKey(index, key, enabled) {
  const n = enabled.length;
  const step = { ArrowRight: 1, ArrowLeft: -1, Home: 1, End: -1 }[key];
  if (!step || !enabled.some(Boolean)) return -1;
  let i = key === "Home" ? -1 : key === "End" ? n : index;
  for (let tries = 0; tries < n; tries++) {
    i = (i + step + n) % n;
    if (enabled[i]) return i;
  }
  return index;
}
