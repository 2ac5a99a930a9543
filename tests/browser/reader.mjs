// The reader with real HTML mail, as a person uses it: a click on "Verify email" inside the
// message opens that page in a new tab (and the link's server sees the request), the frame still
// runs no script, every inline cid: image of our own mail and of the corpus (MAILIY_CID_MAILBOX)
// has pixels, and a foreign site's page — itself or through a sandboxed frame, which sends
// `Origin: null` just as ours would — cannot read an attachment or a message's frame.
import { URL_, api, launch, main, check, log, watchdog, sendMail, serve, linkTarget, shotDir } from './lib.mjs';
import { join } from 'node:path';

watchdog(100_000);

const CORPUS = process.env.MAILIY_CID_MAILBOX;
if (!CORPUS) throw new Error('MAILIY_CID_MAILBOX must be set');

// A 16x16 red PNG: what the inline image must show.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR4nGO4oGBAEmIY1TCqYfhqAAC85yAQqO2+vAAAAABJRU5ErkJggg==';

/** Natural widths of the frame's images whose source is embedded (`data:`), once loaded. */
async function embeddedImageWidths(frame) {
  return frame.locator('img').evaluateAll((imgs) => Promise.all(
    imgs.filter((i) => i.src.startsWith('data:')).map((i) => (i.complete
      ? i.naturalWidth
      : new Promise((done) => { i.onload = i.onerror = () => done(i.naturalWidth); }))),
  ));
}

/** Opens a message by deep link and returns its HTML frame, loaded. */
async function openFrame(page, mailbox, id) {
  await page.evaluate((h) => { location.hash = h; }, `#/mailbox/${mailbox}/message/${id}`);
  const el = page.locator(`#viewer iframe.mail-frame[src*="${id}"]`);
  await el.waitFor({ timeout: 5_000 });
  const frame = await (await el.elementHandle()).contentFrame();
  await frame.waitForLoadState('load', { timeout: 5_000 });
  return { el, frame };
}

await main(async () => {
  const target = await linkTarget('Thanks, your address is verified');
  const verified = target.seen;
  const { browser, close } = await launch();
  try {
    const box = await api('POST', '/v1/mailbox', { localPart: 'reader', tier: 'pro' });
    const link = `${target.base}/verify?token=r3ad3r`;
    const boundary = 'reader-boundary';
    await sendMail('shop@example.test', box.address, [
      'From: Shop <shop@example.test>', `To: ${box.address}`, 'Subject: Verify your email',
      'MIME-Version: 1.0', `Content-Type: multipart/related; boundary="${boundary}"`, '',
      `--${boundary}`, 'Content-Type: text/html; charset=utf-8', '',
      '<p><img src="cid:logo@shop" alt="Shop logo" width="16" height="16"></p>',
      `<p><a href="${link}">Verify email</a></p>`,
      '<p><img src="x" onerror="window.__ran=1"><script>window.__ran=2</script></p>',
      `--${boundary}`, 'Content-Type: image/png', 'Content-ID: <logo@shop>',
      'Content-Disposition: inline; filename="logo.png"', 'Content-Transfer-Encoding: base64', '',
      PNG, `--${boundary}--`, '',
    ].join('\r\n'));
    const [msg] = await api('GET', `/v1/mailbox/${encodeURIComponent(box.address)}/messages`);
    check(msg, 'the verification mail arrived');
    const full = await api('GET', `/v1/mailbox/${encodeURIComponent(box.address)}/messages/${msg.id}`);
    const logo = full.attachments.find((a) => a.contentId === 'logo@shop');
    check(logo, 'the logo is an attachment of the message');

    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(URL_ + '/');
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });
    const { el, frame } = await openFrame(page, box.id, msg.id);

    // Both layers of the sandbox: no scripts, no same origin, popups that leave the sandbox.
    const sandbox = (await el.getAttribute('sandbox')).split(/\s+/).sort().join(' ');
    check(sandbox === 'allow-popups allow-popups-to-escape-sandbox', `frame sandbox is "${sandbox}"`);
    const res = await fetch(URL_ + new URL(frame.url()).pathname, { headers: {} });
    const csp = res.headers.get('content-security-policy') || '';
    check(/sandbox allow-popups allow-popups-to-escape-sandbox$/.test(csp) && !/allow-scripts|allow-same-origin/.test(csp),
      `frame CSP sandbox: ${csp}`);
    check(!/<script|onerror/i.test(await res.text()), 'the frame document holds no script');

    // The inline image has pixels.
    const widths = await embeddedImageWidths(frame);
    check(widths.length === 1 && widths[0] === 16, `inline logo natural widths ${JSON.stringify(widths)}`);
    await page.waitForTimeout(100);
    await page.screenshot({ path: join(shotDir(), 'reader-inline-image.png') });

    // Click the link in the mail as a person would: a new page opens on that URL.
    const popupSeen = page.waitForEvent('popup', { timeout: 5_000 });
    await frame.getByRole('link', { name: 'Verify email' }).click();
    const popup = await popupSeen;
    await popup.waitForLoadState('load', { timeout: 5_000 });
    check(popup.url() === link, `the link opened ${popup.url()}, expected ${link}`);
    check(await popup.locator('h1').textContent() === 'Thanks, your address is verified', 'the verify page shows');
    check(verified.includes('/verify?token=r3ad3r'), `the link's server saw ${JSON.stringify(verified)}`);
    // The opened page has no handle on the app (noopener) and is no sandbox itself.
    check(await popup.evaluate(() => window.opener === null), 'the opened page has no opener');
    await popup.close();
    check(page.url().startsWith(URL_), `the app stayed on ${page.url()}`);
    const ran = await page.evaluate(() => window.__ran);
    check(ran === undefined, 'no script of the mail ran in the page');
    log(`link opened in a new page; inline image ${widths[0]} px wide`);

    // Every corpus message with an inline image reference: each embedded image has pixels.
    const corpus = await api('GET', `/v1/mailbox/${encodeURIComponent(CORPUS)}/messages?limit=100`);
    check(corpus.length >= 10, `${corpus.length} corpus messages with cid: references`);
    let images = 0;
    let messages = 0;
    for (const m of corpus) {
      const f = await api('GET', `/v1/mailbox/${encodeURIComponent(CORPUS)}/messages/${m.id}`);
      // What the sanitizer made of a cid: that names an image attachment of this message.
      const referenced = f.attachments.filter((a) => a.contentType.startsWith('image/')
        && (f.html || '').includes(`/attachments/${a.id}"`));
      if (!referenced.length) continue;
      // The reference: how many of them this browser can decode at all (some corpus "images"
      // are a byte or two of text), each tried apart from the reader.
      let decodable = 0;
      for (const a of new Map(referenced.map((x) => [x.id, x])).values()) {
        const bytes = Buffer.from(await (await fetch(`${URL_}/v1/mailbox/${encodeURIComponent(CORPUS)}/messages/${m.id}/attachments/${a.id}`)).arrayBuffer());
        const width = await page.evaluate((src) => new Promise((done) => {
          const i = new Image();
          i.onload = i.onerror = () => done(i.naturalWidth);
          i.src = src;
        }), `data:${a.contentType.split(';')[0]};base64,${bytes.toString('base64')}`);
        if (width > 0) decodable++;
      }
      if (!decodable) continue;
      messages++;
      const { frame: cf } = await openFrame(page, CORPUS, m.id);
      const w = await embeddedImageWidths(cf);
      const shown = w.filter((x) => x > 0).length;
      log(`${m.subject || m.id}: ${decodable} decodable inline image(s), widths in the reader ${JSON.stringify(w)}`);
      check(shown >= decodable, `${m.subject || m.id}: ${shown} of ${decodable} inline images have pixels`);
      images += shown;
    }
    check(messages >= 5, `only ${messages} corpus messages reference an inline image`);
    log(`${images} inline images with pixels across ${messages} corpus messages`);

    // A foreign site: neither its page nor a sandboxed frame in it (Origin: null) reads mail.
    const attachment = `${URL_}/v1/mailbox/${encodeURIComponent(box.address)}/messages/${msg.id}/attachments/${logo.id}`;
    const frameUrl = `${URL_}/frame/${encodeURIComponent(box.address)}/${msg.id}`;
    const probe = (url) => `fetch(${JSON.stringify(url)}).then((r) => r.ok ? r.text().then((t) => 'read ' + t.length) : 'refused ' + r.status, () => 'blocked')`;
    const inner = `<img src="${attachment}" onload="parent.postMessage('img loaded','*')" onerror="parent.postMessage('img failed','*')">`
      + `<script>Promise.all([${probe(attachment)}, ${probe(frameUrl)}]).then((r) => parent.postMessage('fetch ' + r.join(', '), '*'))</script>`;
    const foreign = await serve((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<!doctype html><script>window.results = []; addEventListener('message', (e) => results.push(e.data));
        Promise.all([${probe(attachment)}, ${probe(frameUrl)}]).then((r) => results.push('page ' + r.join(', ')));</script>
        <iframe sandbox="allow-scripts" srcdoc="${inner.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}"></iframe>
        <iframe id="embed" src="${frameUrl}"></iframe>`);
    });
    try {
      const evil = await ctx.newPage();
      await evil.goto(`${foreign.base}/`);
      await evil.waitForFunction(() => window.results.length >= 3, null, { timeout: 10_000 });
      const results = (await evil.evaluate(() => window.results)).sort();
      log(`foreign page: ${JSON.stringify(results)}`);
      check(results.includes('img failed'), 'a foreign sandboxed frame cannot load the attachment as an image');
      check(!results.some((r) => /read \d/.test(r)), `a foreign page read mail: ${results}`);
      const embedded = evil.frames().find((f) => f.url().startsWith(frameUrl));
      const readable = embedded ? await embedded.evaluate(() => document.body?.innerText ?? '').catch(() => '') : '';
      check(!readable.includes('Verify email'), 'a foreign page cannot show a message frame (frame-ancestors)');
      await evil.close();
    } finally {
      foreign.server.close();
    }
  } finally {
    await close();
    target.server.close();
  }
});
