// What a mailbox may still be extended by: a tier's cap is "lives at most N minutes from now",
// so a choice past it is offered disabled with the reason instead of a click that always fails.
// Pure (no DOM), so `node --test ui/js/` checks it.

export const EXTEND_STEPS = [
  [10, "+10 min"],
  [60, "+1 h"],
  [1440, "+1 day"],
];

// The engine's clock may run a little behind the page's: "to the longest" asks for a moment
// less than the cap, and is offered only while that gains more than a minute.
const MARGIN_MS = 30_000;

function minutesWords(n) {
  if (n % 1440 === 0) return `${n / 1440} day${n === 1440 ? "" : "s"}`;
  if (n % 60 === 0) return `${n / 60} hour${n === 60 ? "" : "s"}`;
  return `${n} minutes`;
}

/** The reason a mailbox of `tier` cannot be extended past its cap. */
export function capReason(tier, maxMinutes) {
  const a = /^[aeiou]/.test(tier) ? "an" : "a";
  return `At the cap: ${a} ${tier} address lives at most ${minutesWords(maxMinutes)} from now`;
}

/**
 * The extend choices for mailbox `m` at `now`: [{ label, body, ok, reason }], `body` being
 * PATCH /v1/mailbox/:id's. The last is "to the longest" (an `expiresAt`).
 */
export function extendChoices(m, now = Date.now()) {
  const cap = m.limits && m.limits.maxTtlMinutes;
  const exp = Date.parse(m.expiresAt);
  const latest = cap ? now + cap * 60_000 : Infinity;
  const reason = cap ? capReason(m.tier, cap) : "";
  const out = EXTEND_STEPS.map(([minutes, label]) => {
    const ok = exp + minutes * 60_000 <= latest;
    return { label, body: { extendMinutes: minutes }, ok, reason: ok ? "" : reason };
  });
  if (cap) {
    const at = latest - MARGIN_MS;
    const ok = at - exp > 60_000;
    out.push({
      label: `To the longest (${minutesWords(cap)})`,
      body: { expiresAt: new Date(at).toISOString() },
      ok,
      reason: ok ? "" : reason,
    });
  }
  return out;
}
