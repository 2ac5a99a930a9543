// Delete with Undo: a deleted message leaves the list at once, but its DELETE is sent only when
// the undo window closes (UNDO_MS), so Undo needs nothing from the engine. Should the page go
// away first, the DELETEs still go out (keepalive fetches on pagehide): a message the user
// deleted is gone for good by the time the window closes, whatever closed it.

import { api } from "./api.js";
import { toast, showError } from "./dom.js";

export const UNDO_MS = 6000;

const pending = new Map(); // message id → { mailboxId, summary }
let batch = null; // { ids, timer } of the toast on screen

/** Whether `id` waits in an undo window (a list reload must not bring it back). */
export function isPendingDelete(id) {
  return pending.has(id);
}

function flush(ids) {
  for (const id of ids) {
    const p = pending.get(id);
    if (!p) continue;
    pending.delete(id);
    api.deleteMessage(p.mailboxId, id).catch((e) => {
      if (e.status !== 404) showError(e);
    });
  }
}

/**
 * Deletes `summaries` (each with `mailboxId`) after the undo window: `drop(ids)` takes them off
 * the page now, `restore(summaries)` puts them back on Undo. A new delete closes the previous
 * window (its messages go then), as its toast is replaced.
 */
export function deleteWithUndo(summaries, { drop, restore }) {
  if (!summaries.length) return;
  if (batch) {
    clearTimeout(batch.timer);
    flush(batch.ids);
  }
  const ids = summaries.map((s) => s.id);
  for (const s of summaries) pending.set(s.id, { mailboxId: s.mailboxId, summary: s });
  drop(ids);
  const mine = { ids, timer: setTimeout(() => { flush(ids); if (batch === mine) batch = null; }, UNDO_MS) };
  batch = mine;
  const what = ids.length === 1 ? "Message deleted" : `${ids.length} messages deleted`;
  toast(what, {
    label: "Undo",
    ms: UNDO_MS,
    run: () => {
      clearTimeout(mine.timer);
      if (batch === mine) batch = null;
      const back = ids.filter((id) => pending.has(id)).map((id) => pending.get(id).summary);
      for (const id of ids) pending.delete(id);
      restore(back);
    },
  });
}

// The window closes with the page: send what waits now, in requests that outlive it.
window.addEventListener("pagehide", () => {
  for (const [id, p] of pending) api.deleteMessageOnLeave(p.mailboxId, id);
  pending.clear();
});
