// The relay set in the settings view: no relay at start, so Release says how to set one; the
// user types the second server's address and a password in Settings and saves; the password
// is never shown back (only that one is set); Release from the reader then arrives there.
import { URL_, api, launch, main, newPage, sendMail, check, log, shotDir, watchdog } from './lib.mjs';
import { join } from 'node:path';

watchdog(28_000);
const RELAY_API = process.env.MAILIY_RELAY_API;
const RELAY_SMTP = process.env.MAILIY_RELAY_SMTP;
if (!RELAY_API || !RELAY_SMTP) throw new Error('MAILIY_RELAY_API and MAILIY_RELAY_SMTP must be set');

await main(async () => {
  const { browser, close } = await launch();
  try {
    const errors = [];
    const { page } = await newPage(browser, errors);
    const box = await api('POST', '/v1/mailbox', { localPart: 'relay-me' });
    await sendMail('app@example.test', box.address, 'Subject: Via settings\r\n\r\nBody to pass on\r\n');
    await page.goto(URL_ + '/');
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });

    await page.locator('#open-settings').click();
    await page.locator('dialog#settings[open]').waitFor({ timeout: 5_000 });
    check((await page.locator('#set-relay-target').inputValue()) === '', 'no relay at start');
    check(!(await page.locator('#set-relay-target').isDisabled()), 'the relay is editable (no flag pins it)');
    await page.locator('#set-relay-target').fill(RELAY_SMTP);
    await page.locator('#set-relay-allow').fill('*@dest.test');
    await page.locator('#set-relay-password').fill('never-shown-42');
    await page.locator('#settings-save').click();
    await page.locator('#settings-status', { hasText: 'Saved.' }).waitFor({ timeout: 5_000 });
    check((await page.locator('#set-relay-password').inputValue()) === '', 'the password field is cleared');
    const state = (await page.locator('#set-relay-password-state').textContent()).trim();
    check(state.startsWith('A password is set'), `the view says a password is set: ${state}`);
    const raw = await (await fetch(URL_ + '/v1/settings')).text();
    check(!raw.includes('never-shown-42'), 'the API never returns the password');
    const s = JSON.parse(raw);
    check(s.relay.target === RELAY_SMTP && s.relay.passwordSet === true && s.relay.allow === '*@dest.test',
      `saved: ${JSON.stringify(s.relay)}`);
    await page.screenshot({ path: join(shotDir(), 'relay-settings-1280x800.png') });
    await page.locator('#settings-close').click();

    await page.locator(`#mailbox-list li.mailbox[data-id="${box.id}"]`).click();
    await page.locator('#message-list li.msg', { hasText: 'Via settings' }).click();
    await page.locator('#release-open').click();
    await page.locator('#release-to').fill('dev@dest.test');
    await page.locator('#release-form button[type="submit"]').click();
    await page.locator('#release-status', { hasText: 'Sent to dev@dest.test' }).waitFor({ timeout: 10_000 })
      .catch(async (e) => { throw new Error(`release: ${await page.locator('#release-status').textContent()} (${e.message})`); });
    const got = await (await fetch(`${RELAY_API}/v1/mailbox/${encodeURIComponent('dev@dest.test')}/messages`)).json();
    check(Array.isArray(got) && got.length === 1 && got[0].subject === 'Via settings', `the relay has it: ${JSON.stringify(got)}`);
    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
    log('relay settings: set in the view, password write-only, a release arrived at the relay');
  } finally {
    await close();
  }
});
