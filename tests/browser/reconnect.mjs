// The connection indicator recovers by itself: the engine stops (the page says so), starts
// again on the same address, and the page goes back to "Live" and shows new mail, no reload.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { URL_, SMTP, launch, main, sendMail, check, log, watchdog } from './lib.mjs';

watchdog(40_000);
const BIN = process.env.MAILIY_BIN;
const DATA = process.env.MAILIY_DATA;
if (!BIN || !DATA) throw new Error('MAILIY_BIN and MAILIY_DATA must be set');

/** Starts `mailiy serve` on the test's addresses; resolves once it printed its ready line. */
async function startEngine() {
  const child = spawn(BIN, ['serve', '--smtp', SMTP, '--http', URL_.replace('http://', ''), '--data-dir', DATA],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  for (const t0 = Date.now(); !out.includes('mailiy ready'); await new Promise((r) => setTimeout(r, 20))) {
    if (child.exitCode !== null) throw new Error(`mailiy exited with ${child.exitCode}`);
    if (Date.now() - t0 > 10_000) throw new Error('mailiy did not start');
  }
  return child;
}

async function stopEngine(child) {
  child.kill('SIGTERM');
  if (child.exitCode === null) await once(child, 'exit');
}

await main(async () => {
  let engine = await startEngine();
  const { browser, close } = await launch();
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(URL_ + '/');
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });
    await page.locator('#conn[data-state="open"]').waitFor({ timeout: 5_000 });
    // Survives only if the page is never reloaded.
    await page.evaluate(() => (window.__sameDocument = true));
    await page.locator('#new-address').click();
    const address = (await page.locator('#mailbox-list li.mailbox .addr').first().textContent()).trim();

    await stopEngine(engine);
    await page.locator('#conn:not([data-state="open"])').waitFor({ timeout: 10_000 });
    const down = (await page.locator('#conn-text').textContent()).trim();
    log('engine stopped; the page says:', down);
    check(!/^Live$/.test(down), `the indicator shows the outage: ${down}`);

    engine = await startEngine();
    await page.locator('#conn[data-state="open"]').waitFor({ timeout: 15_000 });
    log('engine back; the page is live again');
    await sendMail('a@example.test', address,
      `From: a@example.test\nTo: ${address}\nSubject: After the restart\n\nhello again\n`);
    await page.locator('#message-list li.msg', { hasText: 'After the restart' }).waitFor({ timeout: 5_000 });
    check(await page.evaluate(() => window.__sameDocument === true), 'no reload');
  } finally {
    await close();
    await stopEngine(engine).catch(() => {});
  }
});
