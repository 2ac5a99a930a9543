// Smoke: New address (+ clipboard), live mail without reload, open it, the code, j/k/Enter,
// screenshots (light, dark, narrow) in target/ui-screenshots/.
import { URL_, SHOT_VARIANTS, launch, main, newPage, sendMail, check, log, shotDir, watchdog } from './lib.mjs';
import { join } from 'node:path';

watchdog(28_000);

function mail(to, subject, body) {
  return `From: Shop <shop@example.test>\nTo: ${to}\nSubject: ${subject}\nMessage-ID: <${subject.replace(/\W/g, '')}-${Date.now()}@example.test>\nContent-Type: text/html; charset=utf-8\n\n${body}\n`;
}

await main(async () => {
  const { browser, close } = await launch();
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: URL_ });
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(URL_ + '/');
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });

    // One click: a mailbox, shown, and on the clipboard.
    await page.locator('#new-address').click();
    const row = page.locator('#mailbox-list li.mailbox').first();
    await row.waitFor({ timeout: 5_000 });
    const address = (await row.locator('.addr').textContent()).trim();
    check(/^[^@\s]+@[^@\s]+$/.test(address), `an address in the list, got ${JSON.stringify(address)}`);
    await page.locator('#mb-address', { hasText: address }).waitFor({ timeout: 5_000 });
    let clip = '';
    for (const t0 = Date.now(); Date.now() - t0 < 5_000; await page.waitForTimeout(50)) {
      clip = await page.evaluate(() => navigator.clipboard.readText());
      if (clip === address) break;
    }
    check(clip === address, `clipboard holds the address: ${JSON.stringify(clip)} vs ${address}`);
    log('new address', address, 'copied to the clipboard');
    await page.evaluate(() => document.activeElement && document.activeElement.blur());

    // Live: mail appears without a reload.
    const navs = [];
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) navs.push(f.url()); });
    await sendMail('shop@example.test', address, mail(address, 'Your order shipped',
      '<p>Tracking: <a href="https://example.test/track/1">track it</a></p>'));
    let t0 = performance.now();
    await page.locator('#message-list li.msg', { hasText: 'Your order shipped' }).waitFor({ timeout: 5_000 });
    const first = performance.now() - t0;
    const code = String(100000 + Math.floor(Math.random() * 900000));
    await sendMail('shop@example.test', address, mail(address, 'Verify your email',
      `<p>Welcome! Your verification code is <b>${code}</b>.</p>`));
    t0 = performance.now();
    await page.locator('#message-list li.msg', { hasText: 'Verify your email' }).waitFor({ timeout: 5_000 });
    const second = performance.now() - t0;
    log(`live arrival (SMTP 250 -> row visible): ${first.toFixed(0)} ms, ${second.toFixed(0)} ms`);
    check(navs.length === 0, `no reload while mail arrived, got ${navs}`);
    const subjects = await page.locator('#message-list li.msg .subject').allTextContents();
    check(subjects.length === 2 && subjects[0] === 'Verify your email', `newest first: ${subjects}`);

    // Keyboard: j selects the newest, j the next, k back, Enter opens it.
    const selected = () => page.locator('#message-list li.msg.selected .subject').allTextContents();
    await page.keyboard.press('j');
    check(JSON.stringify(await selected()) === '["Verify your email"]', `j -> first: ${await selected()}`);
    await page.keyboard.press('j');
    check(JSON.stringify(await selected()) === '["Your order shipped"]', `j -> second: ${await selected()}`);
    await page.keyboard.press('k');
    check(JSON.stringify(await selected()) === '["Verify your email"]', `k -> first: ${await selected()}`);
    await page.keyboard.press('Enter');
    await page.locator('#viewer h1', { hasText: 'Verify your email' }).waitFor({ timeout: 5_000 });
    const shown = (await page.locator('[data-testid="code"]').textContent()).trim();
    check(shown === code, `the code is shown: ${shown} vs ${code}`);
    check(/#\/mailbox\/.+\/message\/.+/.test(page.url()), `deep link in the URL: ${page.url()}`);
    await page.locator('iframe.mail-frame').waitFor({ timeout: 5_000 });
    log('opened with Enter; code', shown);

    // Copy the code.
    await page.locator('[data-testid="copy-code"]').click();
    for (const t = Date.now(); Date.now() - t < 5_000; await page.waitForTimeout(50)) {
      clip = await page.evaluate(() => navigator.clipboard.readText());
      if (clip === code) break;
    }
    check(clip === code, `clipboard holds the code: ${clip}`);

    // The expiry is shown in words for the address.
    const cd = (await row.locator('.countdown').textContent()).trim();
    check(/^Expires .+ · in \d+ (min|h)/.test(cd), `expiry: ${cd}`);

    const dir = shotDir();
    const deep = page.url();
    await page.screenshot({ path: join(dir, 'message-light-1280x800.png') });
    for (const [variant, opts] of SHOT_VARIANTS) {
      const { ctx: c, page: p } = await newPage(browser, errors, opts);
      await p.goto(deep);
      await p.locator('[data-testid="code"]', { hasText: code }).waitFor({ timeout: 5_000 });
      // The frame's own content, not just its element: a screenshot of an empty frame hides bugs.
      await p.frameLocator('iframe.mail-frame').getByText('verification code').waitFor({ timeout: 5_000 });
      await p.screenshot({ path: join(dir, `message-${variant}.png`) });
      if (variant.startsWith('narrow')) {
        await p.locator('#back-messages').click();
        await p.locator('#message-list li.msg').first().waitFor({ timeout: 5_000 });
        await p.screenshot({ path: join(dir, 'list-narrow-360x740.png') });
      }
      await c.close();
    }
    log('screenshots in', dir);
    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
  } finally {
    await close();
  }
});
