// Pause intake: paused through the API, the page shows a loud banner at once (intake.updated),
// an SMTP client is turned away meanwhile; the settings switch shows it paused; one click on the
// banner resumes and mail is taken again.
import { URL_, api, launch, main, newPage, sendMail, check, log, shotDir, watchdog } from './lib.mjs';
import { join } from 'node:path';

watchdog(28_000);

await main(async () => {
  const { browser, close } = await launch();
  try {
    const errors = [];
    const { page } = await newPage(browser, errors);
    const box = await api('POST', '/v1/mailbox', { localPart: 'paused-box' });
    await page.goto(URL_ + '/');
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });
    check(await page.locator('#intake-banner').isHidden(), 'no banner while mail is taken');

    await api('PUT', '/v1/intake', { paused: true });
    const banner = page.locator('#intake-banner:visible');
    await banner.waitFor({ timeout: 5_000 });
    const text = (await banner.textContent()).trim();
    check(text.includes('Intake is paused') && text.includes('421 4.3.2'), `the banner says so: ${text}`);
    await page.screenshot({ path: join(shotDir(), 'intake-paused-1280x800.png') });
    let refused = '';
    await sendMail('app@example.test', box.address, 'Subject: x\r\n\r\nx\r\n').catch((e) => { refused = e.message; });
    check(refused.includes('421'), `an SMTP client is turned away: ${refused}`);

    await page.goto(URL_ + '/#/settings');
    await page.locator('dialog#settings[open]').waitFor({ timeout: 5_000 });
    check(await page.locator('#intake-paused').isChecked(), 'the settings switch shows the pause');
    await page.keyboard.press('Escape');

    await page.locator('#intake-banner').click();
    await page.locator('#intake-banner').waitFor({ state: 'hidden', timeout: 5_000 });
    check((await api('GET', '/v1/intake')).paused === false, 'one click resumed intake');
    await sendMail('app@example.test', box.address, 'Subject: after\r\n\r\nafter\r\n');
    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
    log('intake banner: shown live, switch in settings, resumed in one click');
  } finally {
    await close();
  }
});
