// Cypress custom commands for Mailiy: a fresh disposable address, and the code mailed to it.
//
// Wire them in with one line in cypress/support/commands.js (adjust the path):
//   import '../../examples/cypress/mailiy';
// The API is Cypress.env('MAILIY_API'), default http://127.0.0.1:8025: set it with
// CYPRESS_MAILIY_API=... or `env: { MAILIY_API: process.env.MAILIY_API }` in cypress.config.js.

const api = () => Cypress.env('MAILIY_API') || 'http://127.0.0.1:8025';
const mailboxUrl = (address) => `${api()}/v1/mailbox/${encodeURIComponent(address)}`;

// cy.mailiyNewAddress() yields a new address, e.g. "quiet-otter-4821@mailiy.localhost".
// Options are the body of POST /v1/mailbox, e.g. { ttlMinutes: 10 }.
Cypress.Commands.add('mailiyNewAddress', (options = {}) =>
  cy.request('POST', `${api()}/v1/mailbox`, options).its('body.address'),
);

// cy.mailiyWaitForCode(address) yields the one-time code of the first mail to `address`.
// The server holds the request until the mail arrives (at most `timeout` seconds, ≤ 60).
Cypress.Commands.add('mailiyWaitForCode', (address, { subject, timeout = 30 } = {}) =>
  cy
    .request({
      url: `${mailboxUrl(address)}/messages`,
      qs: subject ? { wait: timeout, subject } : { wait: timeout },
      timeout: (timeout + 10) * 1000, // longer than the server's wait
    })
    .then(({ body: messages }) => {
      expect(messages, `mail to ${address} within ${timeout} s`).to.have.length.greaterThan(0);
      return cy.request(`${mailboxUrl(address)}/messages/${messages[0].id}`);
    })
    .then(({ body: message }) => {
      expect(message.codes, `a one-time code in "${message.subject}"`).to.not.be.empty;
      return message.codes[0]; // best guess first
    }),
);
