// Settings: open with the header link and with ",", pinned fields locked with their flag,
// a change saved through PATCH and in force at once, Escape returns to the inbox; screenshots.
import { URL_, SMTP, SHOT_VARIANTS, api, launch, main, newPage, check, log, sendMail, shotDir, watchdog } from './lib.mjs';
import { join } from 'node:path';

watchdog(28_000);

await main(async () => {
  const { browser, close } = await launch();
  try {
    const errors = [];
    const { page } = await newPage(browser, errors);
    await page.goto(URL_ + '/');
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });

    await page.locator('#open-settings').click();
    const dialog = page.locator('dialog#settings[open]');
    await dialog.waitFor({ timeout: 5_000 });
    check(page.url().endsWith('#/settings'), `settings route: ${page.url()}`);
    await page.waitForFunction((smtp) => document.getElementById('set-smtp').value === smtp, SMTP, { timeout: 5_000 });
    // The test server pins its ports with flags: shown, locked, and saying which flag.
    check(await page.locator('#set-smtp').isDisabled(), 'a pinned SMTP address is locked');
    const pin = (await page.locator('.pin[data-for="smtp"]').textContent()).trim();
    check(pin.includes('--smtp'), `the pin names its flag: ${pin}`);
    check(await page.locator('#set-lan').isDisabled(), 'LAN mode is locked with the ports');
    check(!(await page.locator('#set-catch-all').isDisabled()), 'catch-all is editable');
    const token = (await page.locator('#set-token').textContent()).trim();
    check(/^[0-9a-f]{64}$/.test(token), `the token is shown: ${token.length} chars`);
    const tiers = await page.locator('#set-tiers tr').count();
    check(tiers === 3, `three tiers listed, got ${tiers}`);
    // Set at start, shown read-only.
    const auth = (await page.locator('#set-smtp-auth').textContent()).trim();
    check(auth === 'any (set at start)', `the SMTP AUTH mode is shown: ${auth}`);
    const smtps = (await page.locator('#set-smtps').textContent()).trim();
    check(smtps.startsWith('off'), `no --smtps: ${smtps}`);

    await page.locator('#set-catch-all').selectOption('free');
    await page.locator('#set-default-ttl').fill('30');
    await page.locator('#set-notify-detail').uncheck();
    await page.locator('#settings-save').click();
    await page.locator('#settings-status', { hasText: 'Saved.' }).waitFor({ timeout: 5_000 });
    const s = await api('GET', '/v1/settings');
    check(s.catchAll === 'free' && s.defaultTtlMinutes === 30, `saved: ${JSON.stringify(s)}`);
    check(s.notifications.showSenderAndSubject === false && s.notifications.enabled === true,
      `nested notification settings: ${JSON.stringify(s.notifications)}`);
    // An invalid value is refused with the engine's reason, and nothing changes.
    await page.locator('#set-default-ttl').fill('0');
    await page.locator('#settings-save').click();
    await page.locator('#settings-status.error', { hasText: 'at least 1' }).waitFor({ timeout: 5_000 });
    check((await api('GET', '/v1/settings')).defaultTtlMinutes === 30, 'refused value not saved');
    await page.locator('#set-default-ttl').fill('30');

    // A remote account: added with its key (never shown back), listed with its state, offered
    // as a place for new addresses, and removed again.
    await page.locator('#remote-name').fill('Team');
    await page.locator('#remote-url').fill('http://127.0.0.1:1');
    await page.locator('#remote-key').fill('secret-key-123');
    await page.locator('#remote-url').press('Enter');
    const remote = page.locator('#remote-list li.remote', { hasText: 'Team' });
    await remote.waitFor({ timeout: 5_000 });
    check((await page.locator('#remote-key').inputValue()) === '', 'the key field is cleared');
    check(!(await page.locator('#remote-list').textContent()).includes('secret-key-123'), 'the key is not shown');
    const state = (await remote.locator('.remote-state').textContent()).trim();
    log('remote account state:', state);
    check(state.length > 0, 'the account shows a state');
    check((await page.locator('#new-where option').count()) === 2, 'new addresses can go to the remote');
    await remote.locator('button', { hasText: 'Remove' }).click();
    await remote.waitFor({ state: 'detached', timeout: 5_000 });

    const dir = shotDir();
    await page.screenshot({ path: join(dir, 'settings-light-1280x800.png') });
    for (const [variant, opts] of SHOT_VARIANTS) {
      const { ctx: c, page: p } = await newPage(browser, errors, opts);
      await p.goto(URL_ + '/#/settings');
      await p.locator('dialog#settings[open]').waitFor({ timeout: 5_000 });
      await p.waitForFunction(() => document.getElementById('set-catch-all').value === 'free', null, { timeout: 5_000 });
      await p.screenshot({ path: join(dir, `settings-${variant}.png`) });
      await c.close();
    }

    // Escape closes it and returns to the inbox; "," opens it again.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached', timeout: 5_000 }).catch(() => {});
    check(!(await page.locator('dialog#settings').evaluate((d) => d.open)), 'Escape closes settings');
    check(!page.url().endsWith('#/settings'), `route left settings: ${page.url()}`);

    // An inbox per app: mail from SMTP user "shop" to an unknown address makes its inbox, and
    // its sidebar row says which app it is.
    await sendMail('app@example.test', 'orders@customer.test', 'Subject: order\r\n\r\nhi\r\n', { user: 'shop' });
    const row = page.locator('li.mailbox', { hasText: 'shop@' });
    await row.waitFor({ timeout: 5_000 });
    const app = (await row.locator('.meta .tier', { hasText: 'app:' }).textContent()).trim();
    check(app === 'app: shop', `the app badge: ${app}`);
    await page.keyboard.press(',');
    await page.locator('dialog#settings[open]').waitFor({ timeout: 5_000 });
    await page.locator('#settings-close').click();
    check(!(await page.locator('dialog#settings').evaluate((d) => d.open)), 'Close closes settings');
    log('settings view: pinned fields locked, changes saved, screenshots in', dir);
    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
  } finally {
    await close();
  }
});
