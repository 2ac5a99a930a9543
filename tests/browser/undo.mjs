// Deleting with Undo (issue #15): Delete takes the message off the list at once with an Undo
// toast, and the engine keeps it until the window closes (Undo brings it back); after the window
// it is gone from the engine (tests/browser.rs then checks that its token is in no file of the
// data dir). A delete whose window is still open when the page closes is sent anyway. Ticking
// rows (x, shift-click) deletes several at once, with one Undo, or marks them read (the bulk
// API); the row menu's Mark all read and Empty mailbox (asking first). Deleting an address that
// holds mail asks first. Screenshots at 1440 light and 390 dark.
import { URL_, api, launch, main, check, log, watchdog, sendMail, shotDir } from './lib.mjs';

watchdog(60_000);
// tests/browser.rs made the mailbox and sent it `secret TOKEN` (and saw the token on disk).
const TOKEN = process.env.UNDO_TOKEN;
const ADDRESS = process.env.UNDO_MAILBOX;
if (!TOKEN || !ADDRESS) throw new Error('UNDO_TOKEN and UNDO_MAILBOX must be set');
const UNDO_MS = 6000; // ui/js/undo.js
const shots = shotDir();

const ids = async (mbx) => (await api('GET', `/v1/mailbox/${mbx.id}/messages`)).map((m) => m.subject);

await main(async () => {
  const { browser, close } = await launch();
  try {
    const mbx = await api('GET', `/v1/mailbox/${encodeURIComponent(ADDRESS)}`);
    const send = (subject, body = 'hello') =>
      sendMail('a@b.test', mbx.address, `From: A <a@b.test>\nTo: ${mbx.address}\nSubject: ${subject}\n\n${body}\n`);
    for (const s of ['keep one', 'keep two', 'tick a', 'tick b', 'tick c', 'closing']) await send(s);

    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${URL_}/#/mailbox/${mbx.id}`);
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });
    const row = (s) => page.locator('#message-list li.msg', { hasText: s });
    await row('secret').waitFor({ timeout: 5_000 });

    // Delete, then Undo: back in the list, and the engine never lost it.
    await row('secret').click();
    await page.locator('.reader h1', { hasText: 'secret' }).waitFor();
    await page.keyboard.press('Delete');
    await row('secret').waitFor({ state: 'detached', timeout: 2_000 });
    const undo = page.getByTestId('toast-action');
    await undo.waitFor({ timeout: 1_000 });
    await page.screenshot({ path: `${shots}/undo-toast-1440.png` });
    check((await ids(mbx)).some((s) => s.startsWith('secret')), 'the engine keeps it during the window');
    await undo.click();
    await row('secret').waitFor({ timeout: 2_000 });
    await page.waitForTimeout(UNDO_MS + 500);
    check((await ids(mbx)).some((s) => s.startsWith('secret')), 'after Undo the message stays, past the window');
    log('Undo restores, and nothing was deleted');

    // Delete for real: gone from the engine only once the window closes.
    await row('secret').click();
    await page.keyboard.press('Delete');
    await row('secret').waitFor({ state: 'detached', timeout: 2_000 });
    const t0 = Date.now();
    await page.waitForTimeout(1_000);
    check((await ids(mbx)).some((s) => s.startsWith('secret')), 'still in the engine inside the window');
    while ((await ids(mbx)).some((s) => s.startsWith('secret'))) {
      check(Date.now() - t0 < UNDO_MS + 3_000, 'deleted once the window closed');
      await page.waitForTimeout(200);
    }
    log(`deleted for good ${Date.now() - t0} ms after the click`);

    // Ticks: x on one row, shift-click another (a range of three); one Delete, one Undo.
    await row('tick c').click();
    await page.locator('.reader h1', { hasText: 'tick c' }).waitFor();
    await page.keyboard.press('Escape');
    await page.keyboard.press('x');
    await row('tick a').click({ modifiers: ['Shift'] });
    const bar = page.locator('#bulk-bar');
    await bar.waitFor({ state: 'visible' });
    check((await page.locator('#bulk-count').textContent()) === '3 selected', `three ticked: ${await page.locator('#bulk-count').textContent()}`);
    check(await page.locator('#message-list li.msg[aria-checked="true"]').count() === 3, 'the rows say they are ticked');
    await page.screenshot({ path: `${shots}/undo-ticked-1440.png` });
    await page.locator('#bulk-delete').click();
    for (const s of ['tick a', 'tick b', 'tick c']) await row(s).waitFor({ state: 'detached', timeout: 2_000 });
    check(/3 messages deleted/.test(await page.locator('#toast').textContent()), 'one toast for the three');
    await undo.click();
    for (const s of ['tick a', 'tick b', 'tick c']) await row(s).waitFor({ timeout: 2_000 });
    log('three ticked, deleted and restored at once');

    // Deleting an address that holds mail asks first; Cancel keeps it.
    await page.locator(`#mailbox-list li.mailbox[data-id="${mbx.id}"] .mb-more`).click();
    await page.getByTestId('menu-delete').click();
    const confirm = page.locator('#confirm');
    await confirm.waitFor({ state: 'visible' });
    check(/still holds \d+ messages/.test(await confirm.textContent()), 'the confirmation says how much mail goes');
    await page.screenshot({ path: `${shots}/undo-confirm-1440.png` });
    await page.locator('#confirm-no').click();
    await confirm.waitFor({ state: 'hidden' });
    check((await api('GET', '/v1/mailbox')).some((m) => m.id === mbx.id), 'Cancel keeps the address');

    // Bulk (POST …/messages/bulk): the ticked rows marked read; then the menu's Mark all read.
    const unreadOf = async () => (await api('GET', `/v1/mailbox/${mbx.id}`)).unreadCount;
    const before = await unreadOf();
    // Ctrl-click ticks one row (shift-click would tick the range from the last tick).
    await row('keep one').click({ modifiers: ['Control'] });
    await row('keep two').click({ modifiers: ['Control'] });
    await page.locator('#bulk-read').click();
    for (let t = 0; (await unreadOf()) !== before - 2; t++) {
      check(t < 30, `two marked read: ${before} -> ${await unreadOf()}`);
      await page.waitForTimeout(100);
    }
    check(!(await row('keep one').evaluate((e) => e.classList.contains('unread'))), 'the row shows it read');
    await page.locator(`#mailbox-list li.mailbox[data-id="${mbx.id}"] .mb-more`).click();
    await page.getByTestId('menu-read').click();
    await page.waitForFunction(() => !document.querySelector('#message-list li.msg.unread'), null, { timeout: 3_000 });
    check((await unreadOf()) === 0, 'Mark all read: none unread');
    check((await page.locator(`#mailbox-list li.mailbox[data-id="${mbx.id}"] .badge`).textContent()) === '0', 'the badge says 0');
    log('bulk: ticked marked read; Mark all read');

    // The narrow, dark view of the same list with a tick.
    const narrow = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
    const p2 = await narrow.newPage();
    await p2.goto(`${URL_}/#/mailbox/${mbx.id}`);
    await p2.locator('#message-list li.msg').first().waitFor({ timeout: 5_000 });
    await p2.locator('#message-list li.msg').first().click({ modifiers: ['Shift'] });
    await p2.screenshot({ path: `${shots}/undo-ticked-dark-390.png` });
    await narrow.close();

    // A delete still in its window when the page closes is sent as the page goes.
    await row('closing').click();
    await page.keyboard.press('Delete');
    await row('closing').waitFor({ state: 'detached', timeout: 2_000 });
    await page.close({ runBeforeUnload: true });
    const t1 = Date.now();
    while ((await ids(mbx)).includes('closing')) {
      check(Date.now() - t1 < 3_000, 'the DELETE went out with the closing page');
      await new Promise((r) => setTimeout(r, 100));
    }
    log(`closing the page sent the pending delete (${Date.now() - t1} ms)`);
    check((await ids(mbx)).includes('keep one'), 'the rest stays');

    // Empty mailbox (bulk delete of all), after its confirmation; the address stays.
    const p3 = await ctx.newPage();
    await p3.goto(`${URL_}/#/mailbox/${mbx.id}`);
    await p3.locator('#message-list li.msg').first().waitFor({ timeout: 5_000 });
    await p3.locator(`#mailbox-list li.mailbox[data-id="${mbx.id}"] .mb-more`).click();
    await p3.getByTestId('menu-empty').click();
    await p3.locator('#confirm').waitFor({ state: 'visible' });
    await p3.locator('#confirm-yes').click();
    await p3.locator('#message-list li.msg').first().waitFor({ state: 'detached', timeout: 3_000 });
    check((await ids(mbx)).length === 0, 'Empty mailbox: no mail left');
    check((await api('GET', '/v1/mailbox')).some((m) => m.id === mbx.id), 'the address stays');
    log('Empty mailbox');
    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
  } finally {
    await close();
  }
});
