// The envelope in the message view: a Bcc recipient's copy shows Bcc beside To, and the Headers
// tab shows the envelope and, opened, the SMTP session (without the message's body).
import { URL_, launch, main, newPage, sendMail, check, log, shotDir, watchdog, api } from './lib.mjs';
import { join } from 'node:path';

watchdog(25_000);

await main(async () => {
  const shown = await api('POST', '/v1/mailbox', { localPart: 'shown' });
  const hidden = await api('POST', '/v1/mailbox', { localPart: 'hidden' });
  const token = `BODY${Date.now()}`;
  await sendMail('app@example.test', [shown.address, hidden.address],
    `From: app@example.test\nTo: ${shown.address}\nSubject: With a Bcc\n\nbody ${token}\n`);
  const [msg] = await api('GET', `/v1/mailbox/${hidden.id}/messages`);

  const { browser, close } = await launch();
  try {
    const errors = [];
    const { page } = await newPage(browser, errors);
    await page.goto(`${URL_}/#/mailbox/${encodeURIComponent(hidden.id)}/message/${encodeURIComponent(msg.id)}`);
    await page.locator('#viewer h1', { hasText: 'With a Bcc' }).waitFor({ timeout: 10_000 });
    const head = await page.locator('#viewer dl').textContent();
    check(head.includes(`Bcc${hidden.address}`), `Bcc in the header: ${head}`);

    await page.locator('.tab', { hasText: 'Headers' }).click();
    const env = page.locator('[data-testid="envelope"]');
    await env.waitFor({ timeout: 5_000 });
    const envText = await env.textContent();
    for (const want of ['MAIL FROMapp@example.test', `RCPT TO${hidden.address}`, 'HELOlocalhost', 'Client127.0.0.1:', 'TLSnone']) {
      check(envText.includes(want), `envelope shows ${want}: ${envText}`);
    }
    await page.locator('.envelope summary', { hasText: 'SMTP session' }).click();
    const pre = page.locator('.envelope pre');
    await pre.filter({ hasText: 'RCPT TO' }).waitFor({ timeout: 5_000 });
    const session = await pre.textContent();
    check(session.includes(`C: RCPT TO:<${hidden.address}>`) && session.includes('S: 354'), `the session: ${session}`);
    // The To recipient's address is not this copy's business: its RCPT says only that it was there.
    check(!session.includes(shown.address) && session.includes('(another recipient)'), `the session names the other recipient: ${session}`);
    check(!session.includes(token), 'no body in the session');
    await page.screenshot({ path: join(shotDir(), 'message-envelope-1280x800.png') });
    log('envelope and session shown');
    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
  } finally {
    await close();
  }
});
