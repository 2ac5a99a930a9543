// Faults on demand: a banner on every page while any fault is on (set through the API, shown
// live by the faults.updated event), saying what it does; one click on it turns every fault
// off, and the banner goes. The settings section shows them and applies JSON.
import { URL_, api, launch, main, newPage, check, log, watchdog } from './lib.mjs';

watchdog(28_000);

await main(async () => {
  const { browser, close } = await launch();
  try {
    const errors = [];
    const { page } = await newPage(browser, errors);
    await page.goto(URL_ + '/');
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });
    check(await page.locator('#faults-banner').isHidden(), 'no banner while faults are off');

    await api('PUT', '/v1/faults', { rules: [{ stage: 'rcpt', code: 451, text: '4.3.0 Try again' }] });
    const banner = page.locator('#faults-banner:visible');
    await banner.waitFor({ timeout: 5_000 });
    const text = (await banner.textContent()).trim();
    check(text.includes('RCPT answers 451 4.3.0 Try again'), `the banner says what is on: ${text}`);
    // On the settings page too, with the section showing the configuration.
    await page.goto(URL_ + '/#/settings');
    await page.locator('dialog#settings[open]').waitFor({ timeout: 5_000 });
    await banner.waitFor({ timeout: 5_000 });
    const json = await page.locator('#faults-json').inputValue();
    check(json.includes('"code": 451'), `the editor holds the configuration: ${json}`);
    await page.locator('#faults-json').fill('{"greylist": {"delaySeconds": 5}}');
    await page.locator('#faults-apply').click();
    await page.locator('#faults-state', { hasText: 'greylisting 5 s' }).waitFor({ timeout: 5_000 });
    check((await api('GET', '/v1/faults')).greylist?.delaySeconds === 5, 'applied through the API');
    await page.locator('#faults-json').fill('{"rules": [{"stage": "rcpt", "code": 200}]}');
    await page.locator('#faults-apply').click();
    await page.locator('#faults-status', { hasText: 'rules[0].code' }).waitFor({ timeout: 5_000 });

    await page.keyboard.press('Escape');
    await page.locator('#faults-banner').click();
    await page.locator('#faults-banner').waitFor({ state: 'hidden', timeout: 5_000 });
    const after = await api('GET', '/v1/faults');
    check(after.active === false, `one click turned every fault off: ${JSON.stringify(after)}`);
    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
    log('faults banner: shown, live, and turned off in one click');
  } finally {
    await close();
  }
});
