// Signs up with a fresh Mailiy address and enters the code the app mailed to it.
// The /signup page, its fields and buttons stand for your app under test.
describe('signup', () => {
  it('verifies the email address with the mailed code', () => {
    cy.mailiyNewAddress({ ttlMinutes: 10 }).then((address) => {
      cy.visit('/signup');
      cy.get('input[name=email]').type(address);
      cy.contains('button', 'Sign up').click();

      cy.mailiyWaitForCode(address, { subject: 'verify' }).then((code) => {
        expect(code).to.match(/^\d{6}$/);
        cy.get('input[name=code]').type(code);
        cy.contains('button', 'Verify').click();
        cy.contains('Welcome');
      });
    });
  });
});
