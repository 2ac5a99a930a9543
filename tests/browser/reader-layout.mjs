// The reader's layout, as a person sees it at 1440, 1024 and 390 px, light and dark: the mail's
// frame fills the pane down to the window's bottom edge with nothing else scrolling (one
// scroll), the Tablet and Phone previews narrow the frame to 768 and 375 px and a 600 px
// newsletter then fits the phone, the HTML source tab shows the sanitized HTML, arrow keys move
// between tabs, "Open link" beside the code opens the verification page in a new tab (its server
// sees the request), at 1024 px list and reader stand side by side, at 390 px one pane at a
// time with Back; the header says when the address expires, in words.
import zlib from 'node:zlib';
import { join } from 'node:path';
import { URL_, api, launch, main, check, log, watchdog, sendMail, linkTarget, shotDir } from './lib.mjs';

watchdog(110_000);

const SIZES = [
  ['1440', { viewport: { width: 1440, height: 900 } }],
  ['1024', { viewport: { width: 1024, height: 768 } }],
  ['390', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }],
];

/** A solid blue `w`x`h` PNG, base64: a banner with a banner's shape. */
function banner(w, h) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(w * 3, Buffer.from([0x2f, 0x6f, 0xeb]))]);
  const rows = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(rows)), chunk('IEND', Buffer.alloc(0)),
  ]).toString('base64');
}

/** A visible element's box, or null when it is hidden. */
async function box(locator) {
  return (await locator.isVisible()) ? locator.boundingBox() : null;
}

await main(async () => {
  const target = await linkTarget('Account confirmed');
  const { seen } = target;
  const { browser, close } = await launch();
  const errors = [];
  try {
    const mbx = await api('POST', '/v1/mailbox', { localPart: 'layout', tier: 'pro', ttlMinutes: 60 });
    const link = `${target.base}/confirm?token=l4y0ut`;
    const boundary = 'layout-boundary';
    // A newsletter-shaped mail: a 600 px table with a 600 px image, many paragraphs (it runs
    // past the pane, so the frame must scroll), a script and a handler the sanitizer drops.
    const rows = Array.from({ length: 40 }, (_, i) => `<tr><td>Paragraph ${i + 1} of the newsletter.</td></tr>`).join('');
    // The banner: 600x80, inline (cid:).
    const png = banner(600, 80);
    await sendMail('news@example.test', mbx.address, [
      'From: Example <news@example.test>', `To: ${mbx.address}`, 'Subject: Confirm your account',
      'MIME-Version: 1.0', `Content-Type: multipart/mixed; boundary="${boundary}"`, '',
      `--${boundary}`, `Content-Type: multipart/related; boundary="${boundary}-r"`, '',
      `--${boundary}-r`, 'Content-Type: text/html; charset=utf-8', '',
      '<table width="600" style="width:600px" onclick="window.__ran=1"><tr><td><img src="cid:banner@news" width="600" height="80" alt="Banner"></td></tr>',
      '<tr><td><p>Your code is 482913.</p></td></tr>',
      '<tr><td><a href="https://example.test/">Our shop</a></td></tr>',
      `<tr><td><a href="${link}">Confirm your account</a></td></tr>${rows}</table>`,
      '<script>window.__ran=2</script>',
      `--${boundary}-r`, 'Content-Type: image/png', 'Content-ID: <banner@news>',
      'Content-Disposition: inline; filename="banner.png"', 'Content-Transfer-Encoding: base64', '',
      png, `--${boundary}-r--`, '',
      `--${boundary}`, 'Content-Type: text/plain; name="terms.txt"', 'Content-Disposition: attachment; filename="terms.txt"', '',
      'The terms.', `--${boundary}--`, '',
    ].join('\r\n'));
    const [msg] = await api('GET', `/v1/mailbox/${encodeURIComponent(mbx.address)}/messages`);
    check(msg, 'the mail arrived');
    const full = await api('GET', `/v1/mailbox/${encodeURIComponent(mbx.address)}/messages/${msg.id}`);
    const deep = `${URL_}/#/mailbox/${encodeURIComponent(mbx.id)}/message/${encodeURIComponent(msg.id)}`;
    const dir = shotDir();

    for (const [size, opts] of SIZES) {
      for (const scheme of ['light', 'dark']) {
        const name = `${size}-${scheme}`;
        const ctx = await browser.newContext({ ...opts, colorScheme: scheme });
        const page = await ctx.newPage();
        page.on('pageerror', (e) => errors.push(`${name}: ${e}`));
        const { width: vw, height: vh } = opts.viewport;
        await page.goto(URL_ + '/');
        await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });
        // As a person: the address, then the message in the list.
        await page.locator(`#mailbox-list li.mailbox[data-id="${mbx.id}"]`).click();
        await page.locator('#message-list li.msg', { hasText: 'Confirm your account' }).click();
        const frameEl = page.locator('#viewer iframe.mail-frame');
        await frameEl.waitFor({ timeout: 5_000 });
        const frame = await (await frameEl.elementHandle()).contentFrame();
        await frame.getByText('Paragraph 40').waitFor({ state: 'attached', timeout: 5_000 });

        // One scroll: the frame reaches down to the window's bottom edge (within the panel's
        // padding), and neither the page nor the reader pane scrolls.
        const fb = await frameEl.boundingBox();
        check(fb.y + fb.height <= vh + 0.5, `${name}: the frame's bottom ${fb.y + fb.height} is inside the ${vh} px window`);
        check(vh - (fb.y + fb.height) <= 16, `${name}: the frame fills the pane (bottom ${fb.y + fb.height} of ${vh})`);
        check(fb.height >= 200, `${name}: the frame is ${fb.height} px tall`);
        const scroll = await page.evaluate(() => {
          const v = document.getElementById('viewer');
          const s = document.scrollingElement;
          return { viewer: v.scrollHeight - v.clientHeight, page: s.scrollHeight - s.clientHeight };
        });
        check(scroll.viewer <= 1 && scroll.page <= 1, `${name}: nothing but the frame scrolls ${JSON.stringify(scroll)}`);
        // The frame's document is what scrolls: the newsletter is taller than the frame.
        const inner = await frame.evaluate(() => ({ h: document.documentElement.scrollHeight, vh: innerHeight }));
        check(inner.h > inner.vh, `${name}: the mail (${inner.h} px) scrolls inside the frame (${inner.vh} px)`);

        // Which panes show: at 1024 list and reader side by side, the addresses gone; at 390
        // the reader alone, with Back.
        const list = await box(page.locator('#pane-messages'));
        const mailboxes = await box(page.locator('#pane-mailboxes'));
        const reader = await box(page.locator('#pane-message'));
        check(reader && reader.width > 0, `${name}: the reader shows`);
        if (size === '1440') check(list && mailboxes, `${name}: all three panes show`);
        if (size === '1024') {
          check(list && list.width >= 280, `${name}: the message list shows beside the reader (${JSON.stringify(list)})`);
          check(!mailboxes, `${name}: the address pane gives way`);
          check(list.x + list.width <= reader.x + 1 && reader.x + reader.width <= vw + 1, `${name}: side by side`);
          check(await page.locator('#message-list li.msg.open').isVisible(), `${name}: the open message is marked in the list`);
        }
        if (size === '390') {
          check(!list && !mailboxes && Math.abs(reader.width - vw) <= 1, `${name}: the reader alone`);
          check(await page.locator('#back-messages').isVisible(), `${name}: a Back control`);
        }

        // The header: expiry in words.
        const expiry = (await page.locator('[data-testid="expiry"]').textContent()).trim();
        check(/^Expires .+ · in (59 min|1 h)$/.test(expiry), `${name}: expiry reads "${expiry}"`);
        // The code and, beside it, the main link.
        check((await page.locator('[data-testid="code"]').textContent()).trim() === '482913', `${name}: the code shows`);
        const open = page.locator('[data-testid="open-link"]');
        check(await open.isVisible() && (await open.getAttribute('href')) === link, `${name}: Open link points at the confirm link`);
        const cb = await page.locator('.code-box').boundingBox();
        check(cb.y + cb.height <= vh, `${name}: code and link are on screen`);
        await page.waitForTimeout(150);
        await page.screenshot({ path: join(dir, `reader-${name}.png`) });

        // Preview widths: the frame narrows, centered, and the newsletter fits a phone.
        const stage = await page.locator('.frame-stage').boundingBox();
        for (const [label, want] of [['Tablet', 768], ['Phone', 375], ['Desktop', null]]) {
          await page.locator('.preview-widths button', { hasText: label }).click();
          const w = (await frameEl.boundingBox()).width;
          const expect = want ?? stage.width;
          check(Math.abs(w - expect) <= 1, `${name}: ${label} makes the frame ${w} px wide, want ${expect}`);
          check(await page.locator('.preview-widths button', { hasText: label }).getAttribute('aria-pressed') === 'true', `${name}: ${label} is pressed`);
          if (label === 'Phone') {
            const f = await frameEl.boundingBox();
            if (stage.width > 375) check(Math.abs((f.x - stage.x) - (stage.x + stage.width - f.x - f.width)) <= 2, `${name}: the phone frame is centered`);
            const fit = await frame.evaluate(() => ({ sw: document.documentElement.scrollWidth, w: innerWidth, img: document.querySelector('img').getBoundingClientRect().width }));
            check(fit.sw <= fit.w, `${name}: the 600 px newsletter fits the phone frame (${fit.sw} > ${fit.w})`);
            check(fit.img > 300 && fit.img <= fit.w, `${name}: the banner shrinks to the phone (${fit.img} px in ${fit.w})`);
            if (scheme === 'light' && size !== '390') await page.screenshot({ path: join(dir, `reader-${name}-phone.png`) });
          }
        }

        if (scheme === 'light') {
          // Arrow keys in the tabs (roving tabindex: one tab in the Tab order).
          const tabs = page.locator('#viewer [role="tab"]');
          const names = (await tabs.allTextContents()).map((t) => t.trim());
          check(JSON.stringify(names) === JSON.stringify(['HTML', 'HTML source', 'Text', 'Headers', 'Source', 'Links (2)', 'Attachments (2)', 'HTML check', 'Link check', 'Spam check']), `${name}: tabs ${JSON.stringify(names)}`);
          const focused = () => page.evaluate(() => document.activeElement?.getAttribute('role') === 'tab' ? document.activeElement.textContent : null);
          const selected = () => page.locator('#viewer [role="tab"][aria-selected="true"]').textContent();
          await page.locator('#viewer [role="tab"]', { hasText: /^HTML$/ }).focus();
          for (const [key, want] of [['ArrowRight', 'HTML source'], ['ArrowRight', 'Text'], ['ArrowLeft', 'HTML source'], ['End', 'Spam check'], ['ArrowRight', 'HTML'], ['ArrowLeft', 'Spam check'], ['Home', 'HTML'], ['ArrowRight', 'HTML source']]) {
            await page.keyboard.press(key);
            check(await focused() === want && await selected() === want, `${name}: ${key} -> focus ${await focused()}, selected ${await selected()}, want ${want}`);
          }
          // Enter on a tab keeps it (the page's Enter, which opens the selected message, stays out).
          await page.keyboard.press('Enter');
          check(await focused() === 'HTML source' && await selected() === 'HTML source', `${name}: Enter keeps the tab: ${await selected()}`);
          check(await page.locator('#viewer [role="tab"][tabindex="0"]').count() === 1, `${name}: one tab in the Tab order`);
          check(await page.locator('#viewer [role="tabpanel"]').getAttribute('aria-labelledby') === await page.locator('#viewer [role="tab"][aria-selected="true"]').getAttribute('id'), `${name}: the panel is labelled by its tab`);
          // The HTML source tab (selected by the last key): the sanitized HTML, as text.
          const src = await page.locator('[data-testid="html-source"]').textContent();
          check(src === full.html, `${name}: the HTML source is the sanitized HTML`);
          check(src.includes('<table') && src.includes(link) && !/<script|onclick/i.test(src), `${name}: the source holds the table and the link, no script`);
          await page.screenshot({ path: join(dir, `reader-${name}-html-source.png`) });
          // j/k did not act on the arrow presses: the same message is still open.
          check(await page.locator('#viewer h1').textContent() === 'Confirm your account', `${name}: still the same message`);
          // Links and attachments are a click away, beside the mail, not below it.
          await page.locator('#viewer [role="tab"]', { hasText: 'Links' }).click();
          const hrefs = await page.locator('#reader-panel .links a').evaluateAll((as) => as.map((a) => a.href));
          check(hrefs.includes(link) && hrefs.length === 2, `${name}: the Links tab lists ${JSON.stringify(hrefs)}`);
          await page.locator('#viewer [role="tab"]', { hasText: 'Attachments' }).click();
          const files = await page.locator('#reader-panel .attachments a').allTextContents();
          check(files.includes('terms.txt') && files.includes('banner.png'), `${name}: the Attachments tab lists ${JSON.stringify(files)}`);
          const ab = await page.locator('#reader-panel .attachments').boundingBox();
          check(ab.y + ab.height <= vh, `${name}: the attachments are on screen`);
          await page.locator('#viewer [role="tab"]', { hasText: /^HTML$/ }).click();

          // Open link: a new tab on the confirm page, which the link's server sees.
          check(/noopener/.test(await open.getAttribute('rel')) && (await open.getAttribute('target')) === '_blank', `${name}: Open link opens a new tab without opener`);
          const before = seen.length;
          const popupSeen = page.waitForEvent('popup', { timeout: 5_000 });
          await open.click();
          const popup = await popupSeen;
          await popup.waitForLoadState('load', { timeout: 5_000 });
          check(popup.url() === link, `${name}: Open link opened ${popup.url()}`);
          check(await popup.locator('h1').textContent() === 'Account confirmed', `${name}: the confirm page shows`);
          check(seen.slice(before).includes('/confirm?token=l4y0ut'), `${name}: the link's server saw ${JSON.stringify(seen)}`);
          check(await popup.evaluate(() => window.opener === null), `${name}: the opened page has no opener`);
          await popup.close();
          check(await page.evaluate(() => window.__ran) === undefined, `${name}: no script of the mail ran`);

          if (size === '390') {
            // One pane at a time: Back returns to the list, and the reader goes.
            await page.locator('#back-messages').click();
            await page.locator('#message-list li.msg').first().waitFor({ timeout: 5_000 });
            check(!(await box(page.locator('#pane-message'))), `${name}: after Back the reader is hidden`);
            await page.screenshot({ path: join(dir, `reader-${name}-back.png`) });
          }
          if (size === '1024') {
            // Back in the list brings the addresses back, beside the list.
            await page.locator('#back-mailboxes').click();
            check(await box(page.locator('#pane-mailboxes')) && await box(page.locator('#pane-messages')), `${name}: Back shows addresses and list`);
          }
        }
        log(`${name}: frame ${Math.round(fb.width)}x${Math.round(fb.height)} at y ${Math.round(fb.y)}; ${expiry}`);
        await ctx.close();
      }
    }

    // Five minutes before the end the header turns red, still in words.
    const soon = await api('POST', '/v1/mailbox', { localPart: 'layout-soon', expiresAt: new Date(Date.now() + 4 * 60_000).toISOString() });
    await sendMail('news@example.test', soon.address, `From: news@example.test\r\nTo: ${soon.address}\r\nSubject: Soon gone\r\n\r\nBye.\r\n`);
    const [late] = await api('GET', `/v1/mailbox/${encodeURIComponent(soon.address)}/messages`);
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await ctx.newPage();
    await page.goto(`${URL_}/#/mailbox/${encodeURIComponent(soon.id)}/message/${encodeURIComponent(late.id)}`);
    const exp = page.locator('[data-testid="expiry"]');
    await exp.waitFor({ timeout: 5_000 });
    const text = (await exp.textContent()).trim();
    check(/^Expires .+ · in [34] min$/.test(text) && await exp.getAttribute('data-state') === 'soon', `soon: "${text}" (${await exp.getAttribute('data-state')})`);
    // The danger colour as the theme resolves it (app.css's light-dark()), next to the muted one.
    const [color, danger, muted] = await exp.evaluate((e) => {
      const probe = (v) => {
        const p = document.createElement('span');
        p.style.color = `var(${v})`;
        document.body.append(p);
        const c = getComputedStyle(p).color;
        p.remove();
        return c;
      };
      return [getComputedStyle(e).color, probe('--danger'), probe('--muted')];
    });
    check(color === danger && danger === 'rgb(179, 48, 43)' && color !== muted, `soon is shown in the danger colour: ${color} (danger ${danger}, muted ${muted})`);
    await page.screenshot({ path: join(dir, 'reader-1440-light-expiry-soon.png'), clip: { x: 640, y: 40, width: 800, height: 200 } });
    await ctx.close();

    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
    log('screenshots in', dir);
  } finally {
    await close();
    target.server.close();
  }
});
