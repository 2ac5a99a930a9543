// Tag chips: a message that arrived with X-Tags shows its tags on its list row (three, then a
// count) and every one of them in the reader's header, as text.
import { URL_, launch, main, newPage, sendMail, check, log, shotDir, watchdog, api } from './lib.mjs';
import { join } from 'node:path';

watchdog(25_000);

await main(async () => {
  const box = await api('POST', '/v1/mailbox', { localPart: 'chips' });
  await sendMail('app@example.test', [box.address],
    `From: app@example.test\nTo: ${box.address}\nX-Tags: signup, eu, <b>bold</b>, beta\nSubject: Tagged mail\n\nhello\n`);
  await sendMail('app@example.test', [box.address],
    `From: app@example.test\nTo: ${box.address}\nSubject: Plain mail\n\nhello\n`);
  const list = await api('GET', `/v1/mailbox/${box.id}/messages`);
  const tagged = list.find((m) => m.subject === 'Tagged mail');

  const { browser, close } = await launch();
  try {
    const errors = [];
    const { page } = await newPage(browser, errors);
    await page.goto(`${URL_}/#/mailbox/${encodeURIComponent(box.id)}`);
    const row = page.locator('#message-list li.msg', { hasText: 'Tagged mail' });
    await row.waitFor({ timeout: 10_000 });
    const rowChips = await row.locator('.tags .tag').allTextContents();
    // Sorted: <b>bold</b>, beta, eu, signup; three shown and "+1".
    check(JSON.stringify(rowChips) === JSON.stringify(['<b>bold</b>', 'beta', 'eu', '+1']), `row chips: ${rowChips}`);
    check(await row.locator('b').count() === 0, 'a tag is text, never markup');
    const plain = page.locator('#message-list li.msg', { hasText: 'Plain mail' });
    check(await plain.locator('.tags').count() === 0, 'no chips on an untagged row');

    await row.click();
    await page.locator('#viewer h1', { hasText: 'Tagged mail' }).waitFor({ timeout: 5_000 });
    const headChips = await page.locator('#viewer .msg-head .tags .tag').allTextContents();
    check(JSON.stringify(headChips) === JSON.stringify(['<b>bold</b>', 'beta', 'eu', 'signup']), `header chips: ${headChips}`);
    check(tagged && tagged.tags.length === 4, `the API lists them too: ${JSON.stringify(tagged && tagged.tags)}`);
    await page.screenshot({ path: join(shotDir(), 'tags-1280x800.png') });
    log('tag chips shown on the row and in the reader');
    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
  } finally {
    await close();
  }
});
