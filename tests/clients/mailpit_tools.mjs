// The npm `mailpit-api` client's four message tools, unchanged, against `mailiy serve`:
// htmlCheck, linkCheck (with and without follow), spamAssassinCheck and releaseMessage. Run by
// tests/mailpit.rs with MAILIY_URL, LINK_OK and LINK_MISSING (two URLs of a local site: 200 and
// 404), RELEASE_TO (an address the relay accepts). Prints one line per step; exits 1 at the
// first wrong answer.
import { MailpitClient } from 'mailpit-api';
import { check, step } from './steps.mjs';

const mp = new MailpitClient(process.env.MAILIY_URL);
const { LINK_OK, LINK_MISSING, RELEASE_TO } = process.env;


await mp.deleteMessages();
const gtube = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
const sent = await mp.sendMessage({
  From: { Email: 'app@example.test' },
  To: [{ Email: 'tools@example.test' }],
  Subject: 'Tools',
  Text: `Spam test ${gtube}`,
  HTML: `<div style="display:flex"><a href="${LINK_OK}">ok</a> <a href="${LINK_MISSING}">gone</a></div>`,
});

const html = await mp.htmlCheck('latest');
check(html.Total.Tests > 0 && html.Total.Nodes > 0, `html totals: ${JSON.stringify(html.Total)}`);
check(Array.isArray(html.Warnings) && html.Warnings.some((w) => w.Slug === 'css-display-flex'),
  `a warning for display:flex: ${JSON.stringify(html.Warnings.map((w) => w.Slug))}`);
check(Object.keys(html.Platforms).length > 0, 'platforms listed');
step('htmlCheck');

for (const follow of [false, true]) {
  const links = await mp.linkCheck(sent.ID, follow);
  const ok = links.Links.find((l) => l.URL === LINK_OK);
  const gone = links.Links.find((l) => l.URL === LINK_MISSING);
  check(ok && ok.StatusCode === 200, `200 link (follow=${follow}): ${JSON.stringify(links)}`);
  check(gone && gone.StatusCode === 404, `404 link (follow=${follow}): ${JSON.stringify(links)}`);
  check(links.Errors === 1, `one error (follow=${follow}): ${JSON.stringify(links)}`);
}
step('linkCheck');

const sa = await mp.spamAssassinCheck(sent.ID);
check(sa.IsSpam === true && sa.Score >= 1000, `GTUBE is spam: ${JSON.stringify(sa)}`);
check((sa.Rules || []).some((r) => r.Name === 'GTUBE'), `the GTUBE rule: ${JSON.stringify(sa.Rules)}`);
step('spamAssassinCheck');

const released = await mp.releaseMessage(sent.ID, { To: [RELEASE_TO] });
check(released === 'ok', `release answers ok: ${JSON.stringify(released)}`);
let refused = null;
try {
  await mp.releaseMessage(sent.ID, { To: ['someone@not-allowed.test'] });
} catch (e) {
  refused = e;
}
check(refused !== null, 'a recipient the relay may not take is refused');
step('releaseMessage');
