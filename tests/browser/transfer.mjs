// Mail in and out from the page: an .eml file dropped on the messages pane arrives in the open
// address (and a text file is turned away with a line saying so); "Download all (mbox)" gives
// an mbox with that message under its From line.
import { URL_, api, launch, main, newPage, check, log, shotDir, watchdog } from './lib.mjs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

watchdog(28_000);

const EML = 'From: Shop <shop@example.test>\r\nTo: you@example.test\r\nSubject: Dropped receipt\r\n\r\n' +
  'From the shop, with thanks.\r\n';

async function drop(page, files) {
  const dt = await page.evaluateHandle((files) => {
    const d = new DataTransfer();
    for (const f of files) d.items.add(new File([f.text], f.name, { type: f.type }));
    return d;
  }, files);
  await page.dispatchEvent('#pane-messages', 'dragover', { dataTransfer: dt });
  await page.dispatchEvent('#pane-messages', 'drop', { dataTransfer: dt });
}

await main(async () => {
  const { browser, close } = await launch();
  try {
    const errors = [];
    const { page } = await newPage(browser, errors);
    const box = await api('POST', '/v1/mailbox', { localPart: 'dropped' });
    await page.goto(URL_ + '/');
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });
    await page.locator(`#mailbox-list li.mailbox[data-id="${box.id}"]`).click();
    await page.locator('#mb-address', { hasText: box.address }).waitFor({ timeout: 5_000 });

    await drop(page, [{ name: 'notes.txt', type: 'text/plain', text: 'not mail' }]);
    await page.locator('#drop-status', { hasText: 'Only .eml files' }).waitFor({ timeout: 5_000 });

    await drop(page, [{ name: 'receipt.eml', type: '', text: EML }]);
    await page.locator('#message-list li.msg', { hasText: 'Dropped receipt' }).waitFor({ timeout: 5_000 });
    await page.locator('#drop-status', { hasText: '1 message added' }).waitFor({ timeout: 5_000 });
    const stored = await api('GET', `/v1/mailbox/${encodeURIComponent(box.address)}/messages`);
    check(stored.length === 1 && stored[0].subject === 'Dropped receipt', `stored once: ${JSON.stringify(stored)}`);
    await page.screenshot({ path: join(shotDir(), 'transfer-dropped-1280x800.png') });

    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#mb-download').click()]);
    check(download.suggestedFilename() === `${box.address}.mbox`, `named after the address: ${download.suggestedFilename()}`);
    const mbox = await readFile(await download.path(), 'utf8');
    check(mbox.startsWith('From shop@example.test ') || mbox.startsWith('From MAILER-DAEMON '), `a From line first: ${mbox.slice(0, 60)}`);
    check(mbox.includes('Subject: Dropped receipt\n') && mbox.includes('\n>From the shop, with thanks.\n'),
      `the message, with its body's From line quoted: ${mbox}`);
    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
    log('transfer: an .eml dropped arrives, a text file is refused, the mbox downloads');
  } finally {
    await close();
  }
});
