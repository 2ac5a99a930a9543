// A signup test that reads the verification code from a Mailiy inbox.
// Run against a running `mailiy serve`: MAILIY_API (default http://127.0.0.1:8025) is the API,
// MAILIY_SMTP (default 127.0.0.1:1025) its SMTP port.
import { test, expect } from '@playwright/test';
import net from 'node:net';
import readline from 'node:readline';

const SMTP = process.env.MAILIY_SMTP ?? '127.0.0.1:1025';

test('signup mails a 6-digit verification code', async ({ request }) => {
  // 1. A fresh disposable address, for this test only.
  const created = await request.post('/v1/mailbox', { data: { ttlMinutes: 10 } });
  expect(created.status()).toBe(201);
  const { address } = await created.json();
  const box = `/v1/mailbox/${encodeURIComponent(address)}`;

  // 2. Sign up with it. In your suite the app under test sends this mail (e.g. after
  //    `page.fill('#email', address)`); here the test plays the app and sends it over SMTP.
  const sent = String(100000 + Math.floor(Math.random() * 900000));
  await sendMail(SMTP, 'no-reply@example.test', address,
    `From: Example App <no-reply@example.test>\nTo: ${address}\nSubject: Verify your email\n\n` +
    `Welcome! Your verification code is ${sent}.\nIt expires in 10 minutes.\n`);

  // 3. Wait for it: the server holds the request until a matching message arrives (up to 30 s).
  const list = await request.get(`${box}/messages`, {
    params: { wait: 30, subject: 'verify' },
    timeout: 35_000,
  });
  expect(list.ok()).toBeTruthy();
  const messages = await list.json();
  expect(messages, `no mail to ${address} within 30 s`).toHaveLength(1);

  // 4. The full message carries the one-time codes Mailiy found, best guess first.
  const message = await (await request.get(`${box}/messages/${messages[0].id}`)).json();
  const code = message.codes[0];
  expect(code).toMatch(/^\d{6}$/);
  expect(code).toBe(sent); // a real test would type `code` into the verification form

  await request.delete(box); // gone for good; it would expire on its own anyway
});

/** Sends one message over plain SMTP, as an app's mailer would: no dependency, just `net`. */
async function sendMail(hostPort: string, from: string, to: string, message: string) {
  const i = hostPort.lastIndexOf(':');
  const socket = net.connect(Number(hostPort.slice(i + 1)), hostPort.slice(0, i).replace(/^\[|\]$/g, ''));
  socket.setTimeout(10_000, () => socket.destroy(new Error('SMTP timeout')));
  const lines = readline.createInterface({ input: socket, crlfDelay: Infinity })[Symbol.asyncIterator]();
  // Reads one reply (all lines of a multi-line one) and checks its status code.
  const expectReply = async (code: number) => {
    let line: string;
    do {
      const next = await lines.next();
      if (next.done) throw new Error('SMTP connection closed');
      line = next.value;
    } while (line[3] === '-');
    if (!line.startsWith(String(code))) throw new Error(`SMTP: expected ${code}, got "${line}"`);
  };
  const command = (line: string, code: number) => { socket.write(`${line}\r\n`); return expectReply(code); };
  try {
    await expectReply(220);
    await command('EHLO localhost', 250);
    await command(`MAIL FROM:<${from}>`, 250);
    await command(`RCPT TO:<${to}>`, 250);
    await command('DATA', 354);
    // CRLF line ends, and a leading dot doubled (dot-stuffing), then <CRLF>.<CRLF> ends the data.
    const data = message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    await command(`${data.endsWith('\r\n') ? data : data + '\r\n'}.`, 250);
    await command('QUIT', 221);
  } finally {
    socket.destroy();
  }
}
