// Shared helpers for the browser tests (driven by tests/browser.rs against a real `mailiy serve`).
// Debian's Chromium through playwright-core from examples/playwright (no browser download).
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import net from 'node:net';
import readline from 'node:readline';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { chromium } = await import(
  new URL('../../examples/playwright/node_modules/playwright-core/index.mjs', import.meta.url).href
);

export const URL_ = (process.env.MAILIY_URL ?? '').replace(/\/$/, '');
export const SMTP = process.env.MAILIY_SMTP ?? '';
if (!URL_ || !SMTP) throw new Error('MAILIY_URL and MAILIY_SMTP must be set');
export const SHOTS = join(ROOT, 'target/ui-screenshots');

export function log(...a) {
  console.log(`[${((performance.now()) / 1000).toFixed(2)}s]`, ...a);
}

export function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

/** Launches Chromium (playwright-core gives it a fresh temporary profile); returns { browser, close }. */
export async function launch() {
  const b = await chromium.launch({
    executablePath: process.env.MAILIY_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    timeout: 30_000,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--explicitly-allowed-ports=9',
    ],
  });
  return {
    browser: b,
    async close() {
      await b.close().catch(() => {});
    },
  };
}

/** Fails the script (exit 1) after `ms`, so a hang never outlives the Rust-side timeout. */
export function watchdog(ms) {
  const t = setTimeout(() => {
    console.error(`watchdog: script took longer than ${ms} ms`);
    process.exit(2);
  }, ms);
  t.unref();
}

/** Runs `main`, reporting failures with exit code 1. */
export async function main(fn) {
  try {
    await fn();
    log('PASS');
    process.exit(0);
  } catch (e) {
    console.error('FAIL:', e && e.stack ? e.stack : e);
    process.exit(1);
  }
}

export async function api(method, path, body) {
  const res = await fetch(URL_ + path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

export function shotDir() {
  mkdirSync(SHOTS, { recursive: true });
  return SHOTS;
}

/** Sends one message over plain SMTP (as examples/playwright/signup.spec.ts does); `to` is an
 * address or a list of them (the envelope's, whatever the headers say). */
export async function sendMail(from, to, message, { user } = {}) {
  const i = SMTP.lastIndexOf(':');
  const socket = net.connect(Number(SMTP.slice(i + 1)), SMTP.slice(0, i).replace(/^\[|\]$/g, ''));
  socket.setTimeout(10_000, () => socket.destroy(new Error('SMTP timeout')));
  const lines = readline.createInterface({ input: socket, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const expectReply = async (code) => {
    let line;
    do {
      const next = await lines.next();
      if (next.done) throw new Error('SMTP connection closed');
      line = next.value;
    } while (line[3] === '-');
    if (!line.startsWith(String(code))) throw new Error(`SMTP: expected ${code}, got "${line}"`);
  };
  const command = (line, code) => { socket.write(`${line}\r\n`); return expectReply(code); };
  try {
    await expectReply(220);
    await command('EHLO localhost', 250);
    // Logged in as `user` (AUTH PLAIN, any password): mail to an unknown address lands in its inbox.
    if (user) await command(`AUTH PLAIN ${Buffer.from(`\0${user}\0x`).toString('base64')}`, 235);
    await command(`MAIL FROM:<${from}>`, 250);
    for (const t of [].concat(to)) await command(`RCPT TO:<${t}>`, 250);
    await command('DATA', 354);
    const data = message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    await command(`${data.endsWith('\r\n') ? data : data + '\r\n'}.`, 250);
    await command('QUIT', 221);
  } finally {
    socket.destroy();
  }
}

/** Starts an HTTP server on a free loopback port (a link's target, a foreign site); resolves
 * to { server, base } (base: its URL, without a trailing slash). */
export function serve(handler) {
  const server = http.createServer(handler);
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok({ server, base: `http://127.0.0.1:${server.address().port}` }));
  });
}

/** A link's target: a page whose `<h1>` says `heading`; `seen` lists the paths it was asked for. */
export async function linkTarget(heading) {
  const seen = [];
  const t = await serve((req, res) => {
    seen.push(req.url);
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(`<!doctype html><title>${heading}</title><h1>${heading}</h1>`);
  });
  return { ...t, seen };
}

/** A page in a fresh context (default: a 1280x800 window); page errors go to `errors`. */
export async function newPage(browser, errors, opts = { viewport: { width: 1280, height: 800 } }) {
  const ctx = await browser.newContext(opts);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  return { ctx, page };
}

/** Besides light at 1280x800, every view is saved dark and narrow: [file suffix, context]. */
export const SHOT_VARIANTS = [
  ['dark-1280x800', { viewport: { width: 1280, height: 800 }, colorScheme: 'dark' }],
  ['narrow-360x740', { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true }],
];
