// Mail streaming into the open mailbox: each message adds one row (the list is updated in place,
// never rebuilt), the selection stays on its message, the counts follow, and past 500 rows the
// oldest row goes for each new one, so the page's element count stays put.
import { URL_, launch, main, sendMail, check, log, watchdog } from './lib.mjs';

watchdog(100_000);
const MAILBOX = process.env.MAILIY_STREAM_MAILBOX;
const ADDRESS = process.env.MAILIY_STREAM_ADDRESS;
if (!MAILBOX || !ADDRESS) throw new Error('MAILIY_STREAM_MAILBOX and MAILIY_STREAM_ADDRESS must be set');
const MAX_ROWS = 500;

let sent = 0;
/** Sends `n` more messages one after another (so they arrive in order), numbered from 0. */
async function send(n) {
  for (const until = sent + n; sent < until; sent++) {
    await sendMail('a@example.test', ADDRESS, `From: a@example.test\nTo: ${ADDRESS}\nSubject: live ${sent}\n\nx\n`);
  }
}

await main(async () => {
  const { browser, close } = await launch();
  try {
    const page = await (await browser.newContext()).newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${URL_}/#/mailbox/${MAILBOX}`);
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });
    // Every row put into the list from now on (a row moved counts too).
    await page.evaluate(() => {
      window.__rowsAdded = 0;
      new MutationObserver((records) => {
        for (const r of records) window.__rowsAdded += r.addedNodes.length;
      }).observe(document.getElementById('message-list'), { childList: true });
    });
    const rows = page.locator('#message-list li.msg');
    const subjects = () => rows.locator('.subject').allTextContents();
    const arrived = (i) =>
      page.locator('#message-list li.msg .subject', { hasText: new RegExp(`^live ${i}$`) }).waitFor({ timeout: 30_000 });
    const selected = () => page.locator('#message-list li.msg.selected .subject').allTextContents();

    await send(5);
    await arrived(4);
    // j selects the newest, j again the one below it.
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    check(JSON.stringify(await selected()) === '["live 3"]', `j j selects the second newest: ${await selected()}`);

    // Mail streaming in above the selection does not move it to another message.
    await send(100);
    await arrived(sent - 1);
    check(JSON.stringify(await selected()) === '["live 3"]', `the selection stays on its message: ${await selected()}`);
    check((await page.locator('#message-list li.msg[aria-selected="true"]').count()) === 1, 'one row is aria-selected');

    // Past the cap: exactly MAX_ROWS rows, newest first, counts of everything that arrived.
    await send(MAX_ROWS + 50 - sent);
    await arrived(sent - 1);
    const atCap = await page.evaluate(() => document.getElementsByTagName('*').length);
    await send(300);
    await arrived(sent - 1);
    const shown = await subjects();
    log(`rows after ${sent} live messages:`, shown.length);
    check(shown.length === MAX_ROWS, `the list holds ${MAX_ROWS} rows, got ${shown.length}`);
    const expected = Array.from({ length: MAX_ROWS }, (_, k) => `live ${sent - 1 - k}`);
    const wrong = shown.map((s, k) => [k, s, expected[k]]).filter(([, s, e]) => s !== e);
    check(wrong.length === 0, `the newest ${MAX_ROWS} in order, newest first; [row, shown, expected]: ${JSON.stringify(wrong.slice(0, 5))}`);
    const elements = await page.evaluate(() => document.getElementsByTagName('*').length);
    log(`page elements with ${MAX_ROWS} rows: ${atCap}, after 300 more messages: ${elements}`);
    check(elements <= atCap + 5, `300 more messages leave the page's element count put: ${atCap} -> ${elements}`);

    const added = await page.evaluate(() => window.__rowsAdded);
    log(`rows put into the list for ${sent} messages:`, added);
    check(added <= sent + 10, `one row per message, no list rebuilt: ${added} rows put in for ${sent} messages`);

    const badge = (await page.locator(`#mailbox-list li.mailbox[data-id="${MAILBOX}"] .badge`).textContent()).trim();
    check(badge === String(sent), `unread count ${badge}, sent ${sent}`);
    const meta = (await page.locator('#mb-meta').textContent()).trim();
    check(meta.endsWith(`· ${sent} messages`), `message count in the header: ${meta}`);
    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
  } finally {
    await close();
  }
});
