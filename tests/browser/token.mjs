// Token mode (`--require-token`): the page loads and asks for the token; a wrong one is
// refused; the right one opens the inbox, and live mail arrives (the event stream and the
// message frame authorize with the cookie the page sets).
import { URL_, launch, main, newPage, sendMail, check, log, watchdog } from './lib.mjs';

watchdog(28_000);
const TOKEN = process.env.MAILIY_TOKEN ?? '';
if (!TOKEN) throw new Error('MAILIY_TOKEN must be set');

await main(async () => {
  const { browser, close } = await launch();
  try {
    const errors = [];
    const { page } = await newPage(browser, errors);
    await page.goto(URL_ + '/');
    await page.locator('dialog#token-dialog[open]').waitFor({ timeout: 10_000 });
    check(await page.locator('#token-error').isHidden(), 'no error before a first try');

    await page.locator('#token-input').fill('not-the-token');
    await Promise.all([page.waitForEvent('load'), page.locator('#token-form button').click()]);
    await page.locator('dialog#token-dialog[open]').waitFor({ timeout: 10_000 });
    await page.locator('#token-error').waitFor({ state: 'visible', timeout: 5_000 });
    log('a wrong token is refused');

    await page.locator('#token-input').fill(TOKEN);
    await Promise.all([page.waitForEvent('load'), page.locator('#token-form button').click()]);
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });
    check(!(await page.locator('dialog#token-dialog').evaluate((d) => d.open)), 'the dialog is gone');
    await page.locator('#conn[data-state="open"]').waitFor({ timeout: 5_000 });

    await page.locator('#new-address').click();
    const address = (await page.locator('#mailbox-list li.mailbox .addr').first().textContent()).trim();
    await sendMail('a@example.test', address,
      `From: a@example.test\nTo: ${address}\nSubject: With a token\nContent-Type: text/html\n\n<p>Behind the token</p>\n`);
    await page.locator('#message-list li.msg', { hasText: 'With a token' }).waitFor({ timeout: 5_000 });
    await page.locator('#message-list li.msg').first().click();
    await page.frameLocator('iframe.mail-frame').getByText('Behind the token').waitFor({ timeout: 5_000 });
    log('inbox, live mail and the message frame work with the token');
    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
  } finally {
    await close();
  }
});
