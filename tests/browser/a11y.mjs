// Accessibility (issue #15): axe-core (examples/playwright's pinned copy) on the inbox, the
// reader and settings, light and dark, at 1440 and 390 px: no serious or critical violation
// (colour contrast among them: WCAG AA, 4.5:1 for text, 3:1 for controls).
import { readFileSync } from 'node:fs';
import { URL_, ROOT, api, launch, main, check, log, watchdog, sendMail, shotDir } from './lib.mjs';

watchdog(100_000);
const AXE = readFileSync(`${ROOT}/examples/playwright/node_modules/axe-core/axe.min.js`, 'utf8');
const shots = shotDir();

async function audit(page, where) {
  // The page's CSP refuses inline script: the context bypasses it for axe alone.
  await page.addScriptTag({ content: AXE });
  const r = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    (await axe.run(document, { resultTypes: ['violations'] })).violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 4).map((n) => `${n.target.join(' ')}: ${n.failureSummary.split('\n').slice(1, 2).join('')}`),
    })));
  const bad = r.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  log(`${where}: ${r.length} violations, ${bad.length} serious or critical${r.length ? ` (${r.map((v) => `${v.id}:${v.impact}`).join(', ')})` : ''}`);
  return bad.map((v) => `${where}: ${v.id} (${v.impact}) ${v.help}\n    ${v.nodes.join('\n    ')}`);
}

await main(async () => {
  const { browser, close } = await launch();
  const problems = [];
  try {
    const mbx = await api('POST', '/v1/mailbox', { localPart: `a11y-${Date.now()}` });
    await api('POST', '/v1/mailbox', { localPart: `a11y-other-${Date.now()}` });
    const html = '<p>Hello <b>there</b>, your code is <strong>482913</strong>.</p><p><a href="https://shop.test/verify?t=1">Verify email</a></p>';
    await sendMail('shop@shop.test', mbx.address, [
      `From: Shop <shop@shop.test>`, `To: ${mbx.address}`, 'Subject: Your code 482913 ✅', 'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8', '', html, '',
    ].join('\n'));
    await sendMail('news@shop.test', mbx.address, `From: News <news@shop.test>\nTo: ${mbx.address}\nSubject: Latest issue\n\nplain text\n`);
    for (const scheme of ['light', 'dark']) {
      for (const [w, h] of [[1440, 900], [390, 844]]) {
        const ctx = await browser.newContext({ viewport: { width: w, height: h }, colorScheme: scheme, bypassCSP: true });
        const page = await ctx.newPage();
        const tag = `${scheme}-${w}`;
        await page.goto(`${URL_}/#/mailbox/${mbx.id}`);
        await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });
        await page.locator('#message-list li.msg').first().waitFor({ timeout: 5_000 });
        // Tick one row, so the bulk bar and a ticked row are audited too.
        await page.locator('#message-list li.msg', { hasText: 'Latest issue' }).click({ modifiers: ['Shift'] });
        problems.push(...(await audit(page, `inbox ${tag}`)));
        await page.screenshot({ path: `${shots}/a11y-inbox-${tag}.png` });
        await page.locator('#message-list li.msg', { hasText: 'Your code' }).click();
        await page.locator('.reader h1').waitFor();
        problems.push(...(await audit(page, `reader ${tag}`)));
        await page.screenshot({ path: `${shots}/a11y-reader-${tag}.png` });
        await page.goto(`${URL_}/#/settings`);
        await page.locator('#settings').waitFor({ state: 'visible' });
        await page.locator('#set-data-dir:not(:empty)').waitFor({ timeout: 5_000 });
        problems.push(...(await audit(page, `settings ${tag}`)));
        await page.screenshot({ path: `${shots}/a11y-settings-${tag}.png` });
        await ctx.close();
      }
    }
    check(problems.length === 0, `axe found:\n${problems.join('\n')}`);
  } finally {
    await close();
  }
});
