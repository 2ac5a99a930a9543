// Release from the reader: open a message, Release…, type an address, Send; the page says it was
// sent, and the second server (the relay) has the message.
import { URL_, api, launch, main, newPage, sendMail, check, log, shotDir, watchdog } from './lib.mjs';
import { join } from 'node:path';

watchdog(28_000);
const RELAY_API = process.env.MAILIY_RELAY_API;
if (!RELAY_API) throw new Error('MAILIY_RELAY_API must be set');

await main(async () => {
  const { browser, close } = await launch();
  try {
    const errors = [];
    const { page } = await newPage(browser, errors);
    const box = await api('POST', '/v1/mailbox', { localPart: 'to-release' });
    await sendMail('app@example.test', box.address, 'Subject: Release me\r\n\r\nBody to pass on\r\n');
    await page.goto(URL_ + '/');
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });
    await page.locator(`#mailbox-list li.mailbox[data-id="${box.id}"]`).click();
    await page.locator('#message-list li.msg', { hasText: 'Release me' }).click();
    await page.locator('#release-open').click();
    await page.locator('#release-to').fill('dev@dest.test');
    await page.locator('#release-form button[type="submit"]').click();
    await page.locator('#release-status', { hasText: 'Sent to dev@dest.test' }).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(shotDir(), 'release-sent-1280x800.png') });
    const got = await (await fetch(`${RELAY_API}/v1/mailbox/${encodeURIComponent('dev@dest.test')}/messages`)).json();
    check(Array.isArray(got) && got.length === 1 && got[0].subject === 'Release me', `the relay has it: ${JSON.stringify(got)}`);
    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
    log('release: sent from the reader, arrived at the relay');
  } finally {
    await close();
  }
});
