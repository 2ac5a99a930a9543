// The inbox as a new user meets it (issue #15): the first start explains both ways of using
// Mailiy with the live SMTP address; mail to an unknown address shows a refusals banner whose
// "Create this address" and "Accept all addresses (catch-all)" work; a new anon address offers no
// extension past its cap and says why; the row menu; All inboxes with its To column; [ and ]
// switch mailbox, ? shows the keys, Esc returns from settings to the route; j/k move
// aria-activedescendant; the server-side search finds mail beyond the loaded rows and says when
// a query is wrong; the unread count in the title and favicon; the theme setting; emoji render.
// Screenshots at 1440, 1024 and 390 px, light and dark.
import { URL_, SMTP, api, launch, main, check, log, watchdog, sendMail, shotDir } from './lib.mjs';

watchdog(100_000);

const shots = shotDir();
const LOADED = 50; // what a mailbox's list loads (GET …/messages' default limit)

async function ready(page) {
  await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });
}

async function refusedSend(to) {
  try {
    await sendMail('app@shop.test', to, `From: app@shop.test\nTo: ${to}\nSubject: hi\n\nhello\n`);
    return false;
  } catch (e) {
    return /expected 250, got "550/.test(String(e));
  }
}

const snap = (page, name) => page.screenshot({ path: `${shots}/${name}.png` });

await main(async () => {
  const { browser, close } = await launch();
  try {
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: URL_ });
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(URL_ + '/');
    await ready(page);

    // First start: both ways, with the live SMTP address in the settings to copy.
    const welcome = page.locator('#welcome');
    await welcome.waitFor({ state: 'visible', timeout: 3_000 });
    const text = await welcome.innerText();
    check(/Disposable addresses/.test(text) && /Catch an app's mail/.test(text), 'both ways explained');
    const port = SMTP.slice(SMTP.lastIndexOf(':') + 1);
    check(text.includes(SMTP), `the live SMTP address ${SMTP} is shown`);
    await welcome.getByRole('button', { name: 'Django' }).click();
    const snippet = await page.locator('#welcome-snippet').textContent();
    check(snippet.includes(`EMAIL_PORT = ${port}`), `Django settings carry the port: ${snippet}`);
    await page.locator('#welcome-copy').click();
    check((await page.evaluate(() => navigator.clipboard.readText())) === snippet, 'the settings are copied');
    await snap(page, 'inbox-first-start-1440');
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const [w, h] of [[1440, 900], [1024, 768], [390, 844]]) {
        await page.setViewportSize({ width: w, height: h });
        check(await page.locator('#welcome-snippet').isVisible(), `the first start shows at ${w} px`);
        await snap(page, `inbox-first-start-${scheme}-${w}`);
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1440, height: 900 });

    // A refused recipient: the banner names it (the refusals have no event: it is polled).
    check(await refusedSend('signup@example.com'), 'mail to an unknown address is refused with 550');
    const banner = page.getByTestId('refusals');
    await banner.waitFor({ timeout: 8_000 });
    check((await banner.innerText()).includes('signup@example.com'), 'the banner names the refused address');
    await snap(page, 'inbox-refusals-1440');
    await banner.getByTestId('refused').filter({ hasText: 'signup@example.com' })
      .getByRole('button', { name: 'Create this address' }).click();
    await page.locator('#mailbox-list li.mailbox .addr', { hasText: 'signup@example.com' }).waitFor({ timeout: 3_000 });
    await sendMail('app@shop.test', 'signup@example.com', 'From: App <app@shop.test>\nTo: signup@example.com\nSubject: Welcome 🎉 to the shop ✅\n\nhello\n');
    await page.locator('#message-list li.msg', { hasText: 'Welcome' }).waitFor({ timeout: 3_000 });
    await banner.waitFor({ state: 'detached', timeout: 8_000 });
    log('Create this address: made, and its mail arrives');

    // Catch-all from the banner: mail to any address is kept afterwards.
    check(await refusedSend('other@example.com'), 'a second unknown address is refused');
    await banner.waitFor({ timeout: 8_000 });
    await banner.getByRole('button', { name: 'Accept all addresses (catch-all)' }).click();
    await banner.waitFor({ state: 'detached', timeout: 3_000 });
    const settings = await api('GET', '/v1/settings');
    check(settings.catchAll === settings.defaultTier, `catch-all on: ${settings.catchAll}`);
    await sendMail('app@shop.test', 'other@example.com', 'From: app@shop.test\nTo: other@example.com\nSubject: caught\n\nhello\n');
    await page.locator('#mailbox-list li.mailbox .addr', { hasText: 'other@example.com' }).waitFor({ timeout: 3_000 });
    log('catch-all: on, and mail to any address kept');

    // A new anon address: at its cap, the extend items are disabled and say why.
    const anon = await api('POST', '/v1/mailbox', { tier: 'anon', localPart: `capped-${Date.now()}` });
    const row = page.locator(`#mailbox-list li.mailbox[data-id="${anon.id}"]`);
    await row.waitFor({ timeout: 3_000 });
    const expiry = (await row.locator('.countdown').textContent()).trim();
    check(/^Expires .+ · in (59 min|1 h)$/.test(expiry), `expiry in words in the list: ${expiry}`);
    check(await row.locator('button').count() === 2, 'one row, two controls (open, menu)');
    await row.locator('.mb-more').click();
    const menu = page.locator('#mailbox-menu');
    await menu.waitFor({ state: 'visible' });
    const extends_ = menu.getByTestId('menu-extend');
    check(await extends_.count() >= 3, 'extend choices listed');
    for (const d of await extends_.evaluateAll((els) => els.map((e) => e.getAttribute('aria-disabled')))) {
      check(d === 'true', 'every extension is disabled at the cap');
    }
    const reason = await menu.getByTestId('menu-reason').textContent();
    check(/anon address lives at most 1 hour from now/.test(reason), `the reason: ${reason}`);
    check(await page.evaluate(() => document.activeElement.getAttribute('role')) === 'menuitem', 'the menu takes focus');
    await snap(page, 'inbox-menu-at-cap-1440');
    await page.keyboard.press('Escape');
    await menu.waitFor({ state: 'hidden' });
    check(await page.evaluate(() => document.activeElement.classList.contains('mb-more')), 'Esc gives focus back to ⋯');

    // Many messages in one mailbox: the search is the engine's, so it finds one not loaded.
    const bulkBox = await api('POST', '/v1/mailbox', { tier: 'pro', localPart: `many-${Date.now()}` });
    await sendMail('old@shop.test', bulkBox.address, `From: old@shop.test\nTo: ${bulkBox.address}\nSubject: needle zebracorn\n\nthe oldest\n`);
    for (let i = 0; i < LOADED + 5; i++) {
      await sendMail('new@shop.test', bulkBox.address, `From: new@shop.test\nTo: ${bulkBox.address}\nSubject: filler ${i}\n\nfill\n`);
    }
    await page.locator(`#mailbox-list li.mailbox[data-id="${bulkBox.id}"] .mb-open`).click();
    await page.locator('#message-list li.msg', { hasText: 'filler' }).first().waitFor({ timeout: 5_000 });
    const shown = await page.locator('#message-list li.msg').count();
    check(!(await page.locator('#message-list li.msg', { hasText: 'zebracorn' }).count()), `the oldest is not among the ${shown} loaded rows`);
    await page.keyboard.press('/');
    await page.keyboard.type('subject:zebracorn');
    await page.locator('#search-hints').waitFor({ state: 'visible' });
    await page.keyboard.press('Enter');
    await page.locator('#message-list li.msg', { hasText: 'zebracorn' }).waitFor({ timeout: 3_000 });
    check(await page.locator('#message-list li.msg').count() === 1, 'the search lists the match alone');
    check(/1 match/.test(await page.locator('#mb-meta').textContent()), 'the header counts the matches');
    await page.locator('#filter').fill('frm:x');
    await page.locator('#filter').press('Enter');
    const err = page.locator('#search-error');
    await err.waitFor({ state: 'visible', timeout: 3_000 });
    check(/unknown operator 'frm:'/.test(await err.textContent()), `invalid_query inline: ${await err.textContent()}`);
    await snap(page, 'inbox-search-error-1440');
    await page.locator('#filter').focus();
    await page.keyboard.press('Escape');
    await err.waitFor({ state: 'hidden' });
    // Esc cleared the search: the whole list comes back (asynchronously) before j/k.
    await page.locator('#message-list li.msg').nth(1).waitFor();

    // j/k move the cursor a screen reader follows: the listbox has focus and points at the row.
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    const ad = await page.evaluate(() => {
      const lb = document.getElementById('message-list');
      const id = lb.getAttribute('aria-activedescendant');
      return { focused: document.activeElement === lb, id, selected: id && document.getElementById(id)?.getAttribute('aria-selected') };
    });
    check(ad.focused && ad.id && ad.selected === 'true', `aria-activedescendant follows j: ${JSON.stringify(ad)}`);

    // [ and ] walk All inboxes and the addresses.
    const order = await page.evaluate(() => [...document.querySelectorAll('#mailbox-list li.mailbox')].map((l) => l.dataset.id));
    const at = order.indexOf(bulkBox.id);
    await page.keyboard.press(']');
    check(await page.evaluate(() => location.hash) === `#/mailbox/${encodeURIComponent(order[at + 1] ?? '*all')}`, '] opens the next mailbox');
    await page.keyboard.press('[');
    await page.keyboard.press('[');
    await page.keyboard.press('[');
    // From the first address back to All inboxes, whose rows have a To column.
    while (await page.evaluate(() => location.hash) !== '#/mailbox/*all') await page.keyboard.press('[');
    const allRow = page.locator('#message-list li.msg', { hasText: 'Welcome' });
    await allRow.waitFor({ timeout: 3_000 });
    check((await allRow.locator('.to').textContent()).trim() === 'To signup@example.com', 'All inboxes: the To column');
    check(await page.locator('#message-list li.msg', { hasText: 'caught' }).count() === 1, 'All inboxes lists every mailbox');
    check(/All inboxes/.test(await page.locator('#mb-address').textContent()), 'the header says All inboxes');
    for (const [w, h] of [[1440, 900], [1024, 768], [390, 844]]) {
      await page.setViewportSize({ width: w, height: h });
      await snap(page, `inbox-all-${w}`);
    }
    await page.setViewportSize({ width: 1440, height: 900 });

    // ? shows the keys; Esc closes it.
    await page.locator('body').press('?');
    await page.locator('#help').waitFor({ state: 'visible' });
    check(/\[/.test(await page.locator('#help').innerText()), 'the help lists [ and ]');
    await snap(page, 'inbox-help-1440');
    await page.keyboard.press('Escape');
    await page.locator('#help').waitFor({ state: 'hidden' });

    // Esc from settings (opened by ",") returns to the route it was opened from.
    const route = await page.evaluate(() => location.hash);
    await page.keyboard.press(',');
    await page.locator('#settings').waitFor({ state: 'visible' });
    await page.keyboard.press('Escape');
    await page.locator('#settings').waitFor({ state: 'hidden' });
    check(await page.evaluate(() => location.hash) === route, `Esc from settings returns to ${route}`);

    // Unread mail in the title and the favicon; never a subject in the title.
    const unread = (await api('GET', '/v1/mailbox')).reduce((n, m) => n + m.unreadCount, 0);
    await page.waitForFunction((n) => document.title === `(${n}) Mailiy`, unread, { timeout: 3_000 });
    const icon = await page.evaluate(() => { const l = document.querySelector('link[rel=icon]'); return { href: l.href.slice(0, 22), n: l.dataset.unread }; });
    check(icon.href === 'data:image/png;base64,' && icon.n === String(Math.min(unread, 99)), `favicon shows ${unread}: ${JSON.stringify(icon)}`);
    log(`title "(${unread}) Mailiy", favicon drawn`);

    // The theme setting: dark, remembered across a reload, whatever the OS says (light here).
    await page.keyboard.press(',');
    await page.locator('#set-theme').selectOption('dark');
    await page.keyboard.press('Escape');
    await page.reload();
    await ready(page);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    check(bg === 'rgb(15, 18, 22)', `dark theme after reload: ${bg}`);
    // The emoji subject, in the dark theme, in the mailbox it came to.
    await page.locator('#mailbox-list li.mailbox', { hasText: 'signup@example.com' }).locator('.mb-open').click();
    await page.locator('#message-list li.msg', { hasText: 'Welcome' }).click();
    await page.locator('.reader h1').waitFor();
    // A colour emoji, not a box: drawn in the reader's font on a canvas, it has coloured
    // pixels (a missing glyph is drawn as a grey box or nothing).
    const colourPixels = await page.evaluate(() => {
      const c = document.createElement('canvas');
      c.width = c.height = 64;
      const ctx = c.getContext('2d');
      ctx.font = `40px ${getComputedStyle(document.querySelector('.reader h1')).fontFamily}`;
      ctx.fillText('🎉', 4, 48);
      const d = ctx.getImageData(0, 0, 64, 64).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) {
        const [r, g, b, a] = [d[i], d[i + 1], d[i + 2], d[i + 3]];
        if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
      }
      return n;
    });
    check(colourPixels > 50, `the emoji is drawn in colour (${colourPixels} coloured pixels)`);
    for (const [w, h] of [[1440, 900], [1024, 768], [390, 844]]) {
      await page.setViewportSize({ width: w, height: h });
      await snap(page, `inbox-reader-dark-${w}`);
    }
    await page.locator('#open-settings').click().catch(() => page.keyboard.press(','));
    await page.locator('#set-theme').selectOption('system');
    await page.keyboard.press('Escape');
    for (const [w, h] of [[1440, 900], [1024, 768], [390, 844]]) {
      await page.setViewportSize({ width: w, height: h });
      await page.goto(URL_ + '/#/mailbox/*all');
      await ready(page);
      await snap(page, `inbox-light-${w}`);
    }
    // Browser notifications, opted into in Settings: one per new message while the page is out
    // of sight, naming the sender, never the subject. (The page is made to report itself
    // hidden; the Notification constructor is wrapped to record what it is given.)
    const nctx = await browser.newContext({ viewport: { width: 1024, height: 768 } });
    await nctx.grantPermissions(['notifications'], { origin: URL_ });
    await nctx.addInitScript(() => {
      window.__shown = [];
      const Real = window.Notification;
      window.Notification = class extends Real {
        constructor(title, opts) { super(title, opts); window.__shown.push({ title, body: opts && opts.body }); }
      };
      Object.defineProperty(document, 'visibilityState', { get: () => (window.__hidden ? 'hidden' : 'visible') });
    });
    const np = await nctx.newPage();
    np.on('pageerror', (e) => errors.push(String(e)));
    await np.goto(URL_ + '/#/settings');
    await ready(np);
    await np.locator('#set-browser-notify').check();
    await np.waitForFunction(() => localStorage.getItem('mailiy.notify') === '1');
    await np.screenshot({ path: `${shots}/inbox-settings-browser-1024.png` });
    await np.keyboard.press('Escape');
    await sendMail('seen@shop.test', 'signup@example.com', 'From: Visible <seen@shop.test>\nTo: signup@example.com\nSubject: while visible\n\nx\n');
    await np.waitForTimeout(500);
    await np.evaluate(() => { window.__hidden = true; });
    await sendMail('bell@shop.test', 'signup@example.com', 'From: Bell <bell@shop.test>\nTo: signup@example.com\nSubject: secret subject 42\n\nx\n');
    await np.waitForFunction(() => window.__shown.length > 0, null, { timeout: 3_000 });
    const notes = await np.evaluate(() => window.__shown);
    check(notes.length === 1, `one notification, none while visible: ${JSON.stringify(notes)}`);
    check(notes[0].title === 'New mail for signup@example.com' && notes[0].body === 'From Bell', `what it says: ${JSON.stringify(notes[0])}`);
    check(!JSON.stringify(notes).includes('secret subject'), 'no subject in the notification');
    await nctx.close();
    log('browser notification: sender only, only while hidden');

    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
  } finally {
    await close();
  }
});
