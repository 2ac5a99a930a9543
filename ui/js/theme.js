// The theme: system (the OS's light or dark), light or dark, remembered in this browser. app.css
// draws both from one set of light-dark() colours; the choice only sets `color-scheme`.

import { $ } from "./dom.js";

const KEY = "mailiy.theme";
const THEMES = ["system", "light", "dark"];

export function applyTheme(theme) {
  const t = THEMES.includes(theme) ? theme : "system";
  if (t === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  return t;
}

export function initTheme() {
  const sel = $("set-theme");
  sel.value = applyTheme(localStorage.getItem(KEY));
  sel.addEventListener("change", () => localStorage.setItem(KEY, applyTheme(sel.value)));
}
