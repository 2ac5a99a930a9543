// Tag chips: on a message's list row and in the reader's header. The names come from mail
// (X-Tags), so they are set as text, never as HTML.

/** Most chips a list row shows; the rest are counted ("+2"). */
export const ROW_CHIPS = 3;

/** The chips to show for `tags`: at most `max` names, then "+N" for the rest. */
export function chipLabels(tags, max = ROW_CHIPS) {
  const list = Array.isArray(tags) ? tags.filter((t) => typeof t === "string" && t) : [];
  const shown = list.slice(0, max);
  if (list.length > max) shown.push(`+${list.length - max}`);
  return shown;
}

function chips(labels, all) {
  const box = document.createElement("span");
  box.className = "tags";
  box.dataset.testid = "tags";
  box.title = all.join(", ");
  for (const label of labels) {
    const chip = document.createElement("span");
    chip.className = "tag";
    chip.textContent = label;
    box.append(chip);
  }
  return box;
}

/** Shows `tags` on a list row (made once, refilled as the row is reused); `before` is the
 * element the chips go in front of. */
export function showRowTags(row, tags, before) {
  const labels = chipLabels(tags);
  const key = labels.join("\u0000");
  if (row.tagsKey === key) return;
  row.tagsKey = key;
  if (row.tags) row.tags.remove();
  row.tags = labels.length ? chips(labels, tags) : null;
  row.el.classList.toggle("tagged", !!row.tags);
  if (row.tags) before.before(row.tags);
}

/** The reader header's chips, every tag; null when the message has none. */
export function headerTags(tags) {
  const all = chipLabels(tags, Infinity);
  return all.length ? chips(all, all) : null;
}
