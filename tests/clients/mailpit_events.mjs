// Mailpit's WebSocket stream with a real client (the `ws` package): two listeners, one at the
// root and one under a mailbox prefix; mail sent over SMTP (nodemailer) to that mailbox and to
// another. The root hears `new` for both, the prefix only for its own; each `new` comes within
// 50 ms of the SMTP 250 (sent after the commit). Then `update` on read and `delete`.
import WebSocket from 'ws';
import nodemailer from 'nodemailer';
import { check } from './steps.mjs';

const base = process.env.MAILIY_URL.replace(/^http/, 'ws');
const http = process.env.MAILIY_URL;
const mine = process.env.MAILIY_MINE;
const other = process.env.MAILIY_OTHER;
const smtp = nodemailer.createTransport({ host: '127.0.0.1', port: Number(process.env.MAILIY_PORT), secure: false, ignoreTLS: true });

function listen(url) {
  const frames = [];
  const ws = new WebSocket(url);
  ws.on('message', (data) => frames.push({ at: performance.now(), frame: JSON.parse(String(data)) }));
  return new Promise((resolve, reject) => {
    ws.on('open', () => resolve({ ws, frames }));
    ws.on('error', reject);
  });
}

async function until(frames, pred, what) {
  for (const t0 = performance.now(); performance.now() - t0 < 5000; await new Promise((r) => setTimeout(r, 2))) {
    const f = frames.find(pred);
    if (f) return f;
  }
  check(false, `timed out waiting for ${what}: ${JSON.stringify(frames.map((f) => f.frame.Type))}`);
}

const root = await listen(`${base}/api/events`);
const prefixed = await listen(`${base}/m/${mine}/api/events`);

const latencies = [];
for (const [to, subject] of [[other, 'for the other'], [mine, 'for mine']]) {
  await smtp.sendMail({ from: 'app@example.test', to, subject, text: 'hi' });
  const ok250 = performance.now();
  const got = await until(root.frames, (f) => f.frame.Type === 'new' && f.frame.Data.Subject === subject, `new "${subject}" at the root`);
  latencies.push(Math.max(0, got.at - ok250));
}
const mineNew = await until(prefixed.frames, (f) => f.frame.Type === 'new', 'new under the prefix');
check(mineNew.frame.Data.Subject === 'for mine' && mineNew.frame.Data.ID.startsWith('msg_'), `prefix new: ${JSON.stringify(mineNew.frame)}`);
await until(root.frames, (f) => f.frame.Type === 'stats' && f.frame.Data.Total >= 2, 'stats');
console.log(`new after 250: ${latencies.map((l) => l.toFixed(1)).join(' ms, ')} ms`);
check(latencies.every((l) => l < 50), `new within 50 ms of the 250: ${latencies}`);

const id = mineNew.frame.Data.ID;
const read = await fetch(`${http}/m/${mine}/api/v1/message/${id}`);
check(read.status === 200, 'read it');
await until(prefixed.frames, (f) => f.frame.Type === 'update' && f.frame.Data.ID === id && f.frame.Data.Read, 'update');
const del = await fetch(`${http}/m/${mine}/api/v1/messages`, { method: 'DELETE', body: '{}' });
check(del.status === 200, 'delete all in mine');
await until(prefixed.frames, (f) => f.frame.Type === 'delete' && f.frame.Data.ID === id, 'delete');
check(!prefixed.frames.some((f) => JSON.stringify(f.frame).includes('for the other')), 'the prefix heard nothing of the other mailbox');
root.ws.close();
prefixed.ws.close();
console.log('ok events');
