// The reader's check tabs: HTML check lists the features with their clients and lines, Link
// check asks the links when its button is pressed (one answers, one is 404), Spam check shows
// spamd's verdict and its rules for a GTUBE mail. Screenshots of each.
import { URL_, launch, main, newPage, sendMail, check, log, shotDir, watchdog, api, serve } from './lib.mjs';
import { join } from 'node:path';

watchdog(60_000);

await main(async () => {
  const seen = [];
  const site = await serve((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(req.url === '/welcome' ? 200 : 404, { 'Content-Type': 'text/plain' });
    res.end();
  });
  const box = await api('POST', '/v1/mailbox', { localPart: 'checks' });
  const gtube = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
  await sendMail('app@example.test', box.address, [
    'From: app@example.test', `To: ${box.address}`, 'Subject: Checks please', 'MIME-Version: 1.0',
    'Content-Type: text/html; charset=utf-8', '',
    '<html><head><style>@media (prefers-color-scheme: dark) { .card { background: #000 } }</style></head><body>',
    '<div class="card" style="display: flex; gap: 8px">',
    `<a href="${site.base}/welcome">Welcome</a> <a href="${site.base}/gone">Gone</a>`,
    '</div>',
    `<p>${gtube}</p>`,
    '</body></html>', '',
  ].join('\n'));
  const [msg] = await api('GET', `/v1/mailbox/${box.id}/messages`);

  const { browser, close } = await launch();
  try {
    const errors = [];
    const { page } = await newPage(browser, errors);
    await page.goto(`${URL_}/#/mailbox/${encodeURIComponent(box.id)}/message/${encodeURIComponent(msg.id)}`);
    await page.locator('#viewer h1', { hasText: 'Checks please' }).waitFor({ timeout: 10_000 });

    await page.locator('.tab', { hasText: 'HTML check' }).click();
    const score = page.locator('[data-testid="html-score"]');
    await score.waitFor({ timeout: 10_000 });
    check(/supported .* not supported/.test(await score.textContent()), `a score: ${await score.textContent()}`);
    const flex = page.locator('li[data-slug="css-display-flex"]');
    await flex.waitFor({ timeout: 5_000 });
    await flex.locator('summary').click();
    const flexText = await flex.textContent();
    check(flexText.includes('display: flex') && flexText.includes('line 2'), `where flex is used: ${flexText}`);
    check(/Outlook Windows \([^)]*\): no/.test(flexText), `Outlook on Windows has no flex: ${flexText}`);
    check(await page.locator('li[data-slug="css-at-media-prefers-color-scheme"]').count() === 1, 'the dark-mode media query is listed');
    await page.screenshot({ path: join(shotDir(), 'checks-html-1280x800.png') });
    log('HTML check shown');

    await page.locator('.tab', { hasText: 'Link check' }).click();
    check(seen.length === 0, `nothing asked before the button: ${seen}`);
    await page.locator('[data-testid="run-link-check"]').click();
    const summary = page.locator('[data-testid="link-summary"]');
    await summary.waitFor({ timeout: 15_000 });
    const sumText = await summary.textContent();
    check(sumText.includes('2 of 2 URLs checked') && sumText.includes('1 not ok') && sumText.includes('reaching loopback'), `link summary: ${sumText}`);
    const ok = await page.locator('.links-checked li.link-ok').textContent();
    check(ok.includes('200') && ok.includes('/welcome'), `the good link: ${ok}`);
    const bad = await page.locator('.links-checked li.link-bad').textContent();
    check(bad.includes('404') && bad.includes('/gone'), `the 404: ${bad}`);
    check(seen.includes('HEAD /welcome') && seen.includes('HEAD /gone'), `asked with HEAD: ${seen}`);
    await page.screenshot({ path: join(shotDir(), 'checks-links-1280x800.png') });
    log('link check shown');

    await page.locator('.tab', { hasText: 'Spam check' }).click();
    const verdict = page.locator('[data-testid="spam-verdict"]');
    await verdict.waitFor({ timeout: 30_000 });
    const v = await verdict.textContent();
    check(v.startsWith('Spam: score') && v.includes('threshold 5'), `the verdict: ${v}`);
    const rules = await page.locator('.check-rules').textContent();
    check(rules.includes('GTUBE') && rules.includes('Unsolicited Bulk Email'), `the GTUBE rule: ${rules}`);
    await page.screenshot({ path: join(shotDir(), 'checks-spam-1280x800.png') });
    log('spam check shown');

    // Back to the link check: its result is kept, not asked again.
    const before = seen.length;
    await page.locator('.tab', { hasText: 'Link check' }).click();
    await summary.waitFor({ timeout: 5_000 });
    check(seen.length === before, 'the kept result is shown without asking again');
    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
  } finally {
    await close();
    site.server.close();
  }
});
