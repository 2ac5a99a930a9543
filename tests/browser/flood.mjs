// A mailbox with more mail than the list keeps: the page shows the newest first, and live mail
// goes on top while the list stays at 500 rows.
import { URL_, launch, main, sendMail, check, log, watchdog } from './lib.mjs';

watchdog(40_000);
const MAILBOX = process.env.MAILIY_FLOOD_MAILBOX;
const ADDRESS = process.env.MAILIY_FLOOD_ADDRESS;
if (!MAILBOX || !ADDRESS) throw new Error('MAILIY_FLOOD_MAILBOX and MAILIY_FLOOD_ADDRESS must be set');

await main(async () => {
  const { browser, close } = await launch();
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${URL_}/#/mailbox/${MAILBOX}`);
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });
    const rows = page.locator('#message-list li.msg');
    await rows.first().waitFor({ timeout: 5_000 });
    const shown = await rows.count();
    log('rows shown for a flooded mailbox:', shown);
    check(shown <= 500, `at most 500 rows, got ${shown}`);
    check(shown >= 50, `the API's first page at least, got ${shown}`);
    check((await rows.first().locator('.subject').textContent()) === 'flood 59', 'newest first');
    // More live mail than the list keeps: it stays at 500 rows, the newest on top.
    const LIVE = 460;
    for (let i = 0; i < LIVE; i++) {
      await sendMail('a@example.test', ADDRESS, `From: a@example.test\nTo: ${ADDRESS}\nSubject: live ${i}\n\nx\n`);
    }
    const last = `live ${LIVE - 1}`;
    await page.locator('#message-list li.msg .subject', { hasText: last }).waitFor({ timeout: 10_000 });
    check((await rows.first().locator('.subject').textContent()) === last, 'live mail on top');
    const after = await rows.count();
    log(`rows after ${LIVE} live messages:`, after);
    check(after === 500, `the list is capped at 500 rows (${shown} + ${LIVE} arrived), got ${after}`);
  } finally {
    await close();
  }
});
