// XSS corpus in the real UI: every message of MAILIY_XSS_MAILBOX opened by deep link, the frame
// hovered, clicked and focused; no script runs (window.__xss_*, title, dialogs) in any frame and
// nothing reaches the listener on 127.0.0.1:9. Then a remote image (MAILIY_REMOTE_MAILBOX) loads
// only after "Load" is clicked.
import http from 'node:http';
import { URL_, api, launch, main, check, log, watchdog } from './lib.mjs';

/** The page's own title: "Mailiy", or "(N) Mailiy" while N messages are unread. */
const pageTitle = (t) => /^(\(\d+\+?\) )?Mailiy$/.test(t);

watchdog(170_000);

const XSS = process.env.MAILIY_XSS_MAILBOX;
const REMOTE = process.env.MAILIY_REMOTE_MAILBOX;
const EXPECTED = Number(process.env.MAILIY_XSS_COUNT ?? 0);
if (!XSS || !REMOTE) throw new Error('MAILIY_XSS_MAILBOX and MAILIY_REMOTE_MAILBOX must be set');

// The canary listener: every request is recorded; /pixel-ok is the handwritten remote image.
const hits = { corpus: [], pixel: 0 };
const canary = http.createServer((req, res) => {
  if (req.url.startsWith('/pixel-ok')) hits.pixel++;
  else hits.corpus.push(`${req.method} ${req.url}`);
  res.writeHead(200, { 'Content-Type': 'image/gif', 'Cache-Control': 'no-store' });
  res.end(Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64'));
});
try {
  await new Promise((ok, fail) => {
    canary.once('error', fail);
    canary.listen(9, '127.0.0.1', ok);
  });
} catch (e) {
  console.error(`FAIL: cannot listen on 127.0.0.1:9 for the canary (${e.code || e}); is the port taken or not bindable?`);
  process.exit(1);
}

// Every frame of the page: no __xss_* globals, title unchanged. A sandboxed frame without
// allow-scripts may refuse evaluation; that counts as "no script ran there".
const evaluated = { ok: 0, refused: 0 };
async function framesClean(page, where) {
  const problems = [];
  for (const f of page.frames()) {
    let r;
    try {
      r = await f.evaluate(() => ({
        keys: Object.getOwnPropertyNames(window).filter((k) => k.startsWith('__xss')),
        title: document.title,
      }));
    } catch (e) {
      evaluated.refused++;
      continue;
    }
    evaluated.ok++;
    const main = f === page.mainFrame();
    if (r.keys.length) problems.push(`${where}: ${main ? 'page' : f.url()} has ${r.keys.join(',')}`);
    if (main ? !pageTitle(r.title) : r.title !== '' && /xss|pwn|hack|alert/i.test(r.title))
      problems.push(`${where}: ${main ? 'page' : f.url()} title is ${JSON.stringify(r.title)}`);
  }
  return problems;
}

await main(async () => {
  const { browser, close } = await launch();
  try {
    const list = await api('GET', `/v1/mailbox/${encodeURIComponent(XSS)}/messages?limit=1000`);
    check(list.length > 0 && (!EXPECTED || list.length === EXPECTED), `${list.length} messages listed, ${EXPECTED} stored`);
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const dialogs = [];
    page.on('dialog', (d) => { dialogs.push(`${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
    const popups = [];
    page.on('popup', (p) => popups.push(p.url()));
    await page.goto(URL_ + '/');
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });
    const titles = new Map();
    const problems = [];
    let framed = 0;
    const t0 = performance.now();
    const spent = { open: 0, frame: 0, interact: 0, check: 0 };
    let t = performance.now();
    const lap = (k) => { const n = performance.now(); spent[k] += n - t; t = n; };
    for (const [i, m] of list.entries()) {
      t = performance.now();
      // Deep link on the same page (a hash change), then wait for the view of this message.
      const opened = await page.evaluate((h) => new Promise((done) => {
        const v = document.getElementById('viewer');
        v.replaceChildren();
        const ready = () => v.querySelector('.msg-head, .error-box');
        const obs = new MutationObserver(() => { if (ready()) { obs.disconnect(); clearTimeout(t); done(true); } });
        const t = setTimeout(() => { obs.disconnect(); done(false); }, 5_000);
        obs.observe(v, { childList: true, subtree: true });
        location.hash = h;
      }), `#/mailbox/${XSS}/message/${m.id}`);
      check(opened, `message ${m.id} opened within 5 s`);
      check(await page.locator('#viewer .error-box').count() === 0, `message ${m.id} shown, not an error`);
      lap('open');
      const frameEl = page.locator('#viewer iframe.mail-frame');
      if (await frameEl.count()) {
        framed++;
        const handle = await frameEl.elementHandle();
        const frame = await handle.contentFrame();
        await frame.waitForLoadState('load', { timeout: 5_000 });
        lap('frame');
        const box = await handle.boundingBox();
        if (box) {
          // Hover across the body, click into it, move focus inside it.
          await page.mouse.move(box.x + box.width / 2, box.y + Math.min(box.height / 3, 200));
          await page.mouse.click(box.x + 6, box.y + 6);
          await page.keyboard.press('Tab');
        }
        lap('interact');
      }
      problems.push(...(await framesClean(page, m.subject || m.id)));
      lap('check');
      titles.set(m.id, await page.title());
      if (i % 50 === 49) log(`${i + 1} messages, ${(performance.now() - t0) / 1000 | 0} s`);
    }
    // Anything delayed (an image, a refresh) gets a moment to show up.
    await page.waitForTimeout(200);
    problems.push(...(await framesClean(page, 'end')));
    const took = (performance.now() - t0) / 1000;
    log(`${list.length} messages opened (${framed} with an HTML frame) in ${took.toFixed(1)} s`);
    log(`time spent (s): ${Object.entries(spent).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`).join(', ')}`);
    log(`frame checks: ${evaluated.ok} evaluated, ${evaluated.refused} refused evaluation`);
    log(`dialogs: ${dialogs.length}, popups: ${popups.length}, canary hits: ${hits.corpus.length}`);
    check(problems.length === 0, `scripts ran:\n${problems.join('\n')}`);
    check(dialogs.length === 0, `dialogs opened: ${dialogs.join('; ')}`);
    // The title counts unread mail ("(3) Mailiy") and says nothing else: no subject reaches it.
    check([...titles.values()].every(pageTitle), `page title unchanged: ${[...new Set(titles.values())].join(', ')}`);
    check(hits.corpus.length === 0, `requests reached 127.0.0.1:9: ${hits.corpus.join(', ')}`);

    // Remote image: blocked until "Load".
    const [pm] = await api('GET', `/v1/mailbox/${encodeURIComponent(REMOTE)}/messages`);
    check(pm, 'the remote-pixel message is there');
    await page.evaluate((h) => { location.hash = h; }, `#/mailbox/${REMOTE}/message/${pm.id}`);
    const load = page.locator('[data-testid="load-remote"]');
    await load.waitFor({ timeout: 5_000 });
    const f1 = await (await page.locator('#viewer iframe.mail-frame').elementHandle()).contentFrame();
    await f1.waitForLoadState('load', { timeout: 5_000 });
    await page.waitForTimeout(150);
    check(hits.pixel === 0, `remote image loaded before "Load" (${hits.pixel} hits)`);
    await load.click();
    await page.locator('#viewer iframe.mail-frame[src*="allowRemote=1"]').waitFor({ timeout: 5_000 });
    for (const t = Date.now(); hits.pixel === 0 && Date.now() - t < 5_000; ) await page.waitForTimeout(50);
    check(hits.pixel >= 1, 'remote image requested after "Load"');
    check(await load.count() === 0, 'the bar is gone after "Load"');
    log(`remote pixel: 0 hits before "Load", ${hits.pixel} after`);
    check(hits.corpus.length === 0, `requests reached 127.0.0.1:9: ${hits.corpus.join(', ')}`);
  } finally {
    await close();
    canary.close();
  }
});
