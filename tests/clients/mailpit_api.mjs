// The npm `mailpit-api` client, unchanged, against `mailiy serve`: its whole surface but the
// four message tools (mailpit_tools.mjs). Run by tests/mailpit.rs with MAILIY_URL (the root or a /m/{address}
// prefix) and MAILIY_TOKEN (basic auth's password, when the server wants one).
// Prints one line per step; exits 1 at the first wrong answer.
import { MailpitClient } from 'mailpit-api';
import { check, step } from './steps.mjs';

const base = process.env.MAILIY_URL;
const token = process.env.MAILIY_TOKEN;
const tag = process.env.MAILPIT_WORKER ?? 'w';
const mp = new MailpitClient(base, token ? { auth: { username: 'any', password: token } } : undefined);


await mp.deleteMessages();
check((await mp.listMessages()).total === 0, 'empty after delete all');

const png = Buffer.from('89504e470d0a1a0a', 'hex').toString('base64');
const sent = await mp.sendMessage({
  From: { Email: 'app@example.test', Name: 'The App' },
  To: [{ Email: `${tag}-user@example.test`, Name: 'Ünïcode User' }],
  Cc: [{ Email: `${tag}-cc@example.test` }],
  Subject: `Welcome ${tag}`,
  Text: `Your code is 123456 (${tag})`,
  HTML: `<p>Your code is <b>123456</b></p><script>alert(1)</script>`,
  Headers: { 'X-Custom': 'yes' },
  Tags: ['signup', 'eu'],
  Attachments: [{ Content: png, Filename: 'pixel.png', ContentType: 'image/png' }],
});
check(typeof sent.ID === 'string' && sent.ID.length > 0, `send answers an ID: ${JSON.stringify(sent)}`);
step('send');

const second = await mp.sendMessage({
  From: { Email: 'billing@example.test' },
  To: [{ Email: `${tag}-user@example.test` }],
  Subject: `Invoice ${tag}`,
  Text: 'Total: 42',
});

const list = await mp.listMessages();
check(list.total === 2 && list.messages_count === 2 && list.unread === 2, `list counts: ${JSON.stringify({ ...list, messages: undefined })}`);
check(list.messages[0].ID === second.ID && list.messages[0].Subject === `Invoice ${tag}`, 'newest first');
const first = list.messages[1];
check(first.From.Address === 'app@example.test' && first.From.Name === 'The App', `From: ${JSON.stringify(first.From)}`);
check(first.To[0].Name === 'Ünïcode User' && first.Attachments === 1 && !first.Read, `summary: ${JSON.stringify(first)}`);
check(JSON.stringify(first.Tags) === JSON.stringify(['eu', 'signup']), `tags: ${first.Tags}`);
check(list.tags.includes('signup'), `list tags: ${list.tags}`);
check((await mp.listMessages(1, 1)).messages[0].ID === sent.ID, 'start and limit page');
step('list');

const found = await mp.searchMessages({ query: `subject:welcome tag:signup` });
check(found.messages_count === 1 && found.messages[0].ID === sent.ID, `search: ${JSON.stringify(found.messages_count)}`);
check((await mp.searchMessages({ query: 'from:nobody' })).messages_count === 0, 'search finds nothing');
step('search');

const latest = await mp.getMessageSummary();
check(latest.ID === second.ID, 'latest is the newest');
const full = await mp.getMessageSummary(sent.ID);
check(full.Subject === `Welcome ${tag}` && full.Text.includes('123456'), `full: ${full.Subject}`);
check(full.HTML.includes('<b>123456</b>') && !full.HTML.includes('<script'), `HTML sanitized: ${full.HTML}`);
check(full.Attachments.length === 1 && full.Attachments[0].FileName === 'pixel.png' && full.Attachments[0].ContentType === 'image/png', `attachments: ${JSON.stringify(full.Attachments)}`);
check(full.Attachments[0].Checksums.SHA256.length === 64, 'a checksum');
check(full.Cc[0].Address === `${tag}-cc@example.test`, 'Cc');
check((await mp.listMessages()).unread === 0, 'reading marks read');
step('message by id and latest');

const headers = await mp.getMessageHeaders(sent.ID);
check(headers['X-Custom'][0] === 'yes' && headers.Subject[0] === `Welcome ${tag}`, `headers: ${Object.keys(headers)}`);
const raw = await mp.getMessageSource(sent.ID);
check(raw.includes('X-Custom: yes') && raw.includes('X-Tags: signup, eu'), 'raw source');
const part = await mp.getMessageAttachment(sent.ID, full.Attachments[0].PartID);
check(part.type === 'image/png' && Buffer.from(await part.arrayBuffer()).toString('base64') === png, 'the part');
step('headers, raw, part');

const html = await mp.renderMessageHTML(sent.ID);
check(html.includes('<b>123456</b>') && !html.includes('<script'), `view html: ${html}`);
const txt = await mp.renderMessageText();
check(txt.includes('Total: 42'), `view txt of latest: ${txt}`);
step('view html/txt');

await mp.setReadStatus();
check((await mp.listMessages()).unread === 2, 'all unread (Read defaults to false)');
await mp.setReadStatus({ IDs: [second.ID], Read: true });
check((await mp.listMessages()).unread === 1, 'read by IDs');
await mp.setReadStatus({ Search: 'subject:welcome', Read: true });
check((await mp.listMessages()).unread === 0, 'read by search');
await mp.setReadStatus({ Search: 'subject:invoice', Read: false });
const unread = await mp.searchMessages({ query: 'is:unread' });
check(unread.messages_count === 1 && unread.messages[0].ID === second.ID, 'unread by search');
await mp.setReadStatus({ Read: true });
check((await mp.listMessages()).unread === 0, 'all read');
step('read/unread');

await mp.setTags({ IDs: [second.ID], Tags: ['billing', 'eu'] });
check(JSON.stringify(await mp.getTags()) === JSON.stringify(['billing', 'eu', 'signup']), `tags: ${await mp.getTags()}`);
await mp.renameTag('eu', 'europe');
check((await mp.searchMessages({ query: 'tag:europe' })).messages_count === 2, 'renamed');
await mp.deleteTag('billing');
check(!(await mp.getTags()).includes('billing'), 'tag deleted');
const info = await mp.getInfo();
check(info.Messages === 2 && info.Tags.europe === 2 && typeof info.Version === 'string', `info: ${JSON.stringify(info)}`);
const ui = await mp.getConfiguration();
check(ui.MessageRelay && ui.MessageRelay.Enabled === false, 'webui');
step('tags, info, webui');

const chaos = await mp.setChaosTriggers({ Sender: { ErrorCode: 451, Probability: 100 } });
check(chaos.Sender.Probability === 100 && chaos.Recipient.Probability === 0, `chaos: ${JSON.stringify(chaos)}`);
check((await mp.getChaosTriggers()).Sender.ErrorCode === 451, 'chaos read back');
await mp.setChaosTriggers();
check((await mp.getChaosTriggers()).Sender.Probability === 0, 'chaos off');
step('chaos');

await mp.deleteMessages({ IDs: [second.ID] });
check((await mp.listMessages()).total === 1, 'delete by IDs');
const third = await mp.sendMessage({ From: { Email: 'a@example.test' }, To: [{ Email: `${tag}-user@example.test` }], Subject: 'Later' });
const waited = await mp.waitForMessage({ query: 'subject:later' }, { timeout: 10000, interval: 50 });
check(waited.ID === third.ID, 'waitForMessage');
const two = await mp.waitForMessages({ count: 2 }, { timeout: 10000, interval: 50 });
check(two.messages_count === 2, 'waitForMessages');
await mp.deleteMessagesBySearch({ query: 'subject:later' });
check((await mp.waitForMessages({ query: 'subject:later', count: 0 }, { timeout: 10000, interval: 50 })).messages_count === 0, 'delete by search');
step('wait helpers, delete by ids and search');

await mp.deleteMessages();
check((await mp.waitForMessages({ count: 0 }, { timeout: 10000, interval: 50 })).total === 0, 'delete all');
let missing = '';
try { await mp.getMessageSummary('msg_nope'); } catch (e) { missing = String(e); }
check(missing.includes('404'), `a missing message is 404: ${missing}`);
step('delete all, 404');
