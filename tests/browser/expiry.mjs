// Expiry: a mailbox made via the API with expiresAt 3 s ahead shows its expiry in words, counting
// down, vanishes from the UI within ~1.5 s after it expires and leaves a notice saying so; one
// that reaches the warning (`--expiry-warning-minutes 1` here) gets an in-page warning with an
// extension that works.
import { URL_, api, launch, main, check, log, watchdog, shotDir } from './lib.mjs';

watchdog(40_000);

await main(async () => {
  const { browser, close } = await launch();
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(URL_ + '/');
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 10_000 });

    const expiresAt = new Date(Date.now() + 3_000).toISOString();
    const m = await api('POST', '/v1/mailbox', { expiresAt, localPart: `expiry-${Date.now()}` });
    const expiresMs = Date.parse(m.expiresAt);
    log('mailbox', m.address, 'expires', m.expiresAt);
    const row = page.locator(`#mailbox-list li.mailbox[data-id="${m.id}"]`);
    await row.waitFor({ timeout: 2_000 }); // live via mailbox.created
    const cd = row.locator('.countdown');
    const first = (await cd.textContent()).trim();
    check(/^Expires .+ · in [0-3] s$/.test(first), `expiry in words, under 3 s: ${first}`);
    // It counts down: wait for a different value while the mailbox is still alive.
    await page.waitForFunction(
      ([id, v]) => {
        const el = document.querySelector(`#mailbox-list li.mailbox[data-id="${id}"] .countdown`);
        return el && el.textContent.trim() !== v;
      },
      [m.id, first],
      { timeout: 2_500, polling: 50 },
    );
    const later = await cd.textContent().catch(() => '(gone)');
    log(`countdown ${first} -> ${later}`);
    check(Date.now() < expiresMs, 'the countdown moved before the expiry');

    await row.waitFor({ state: 'detached', timeout: Math.max(500, expiresMs + 1_500 - Date.now()) });
    const after = Date.now() - expiresMs;
    log(`vanished ${after} ms after expiresAt`);
    check(after >= -1_000, `did not vanish early (${after} ms)`);
    check(after <= 1_500, `vanished within 1.5 s of expiry (${after} ms)`);
    const gone = page.getByTestId('expired');
    await gone.waitFor({ timeout: 2_000 });
    check((await gone.textContent()).includes(`${m.address} expired`), 'a notice says it expired');

    // The warning: the event comes a minute ahead; its Extend moves the expiry.
    const soon = await api('POST', '/v1/mailbox', {
      expiresAt: new Date(Date.now() + 63_000).toISOString(), localPart: `warned-${Date.now()}`,
    });
    const warn = page.getByTestId('expiring');
    await warn.waitFor({ timeout: 8_000 });
    check((await warn.textContent()).includes(`${soon.address} expires`), `the warning names it: ${await warn.textContent()}`);
    await page.screenshot({ path: `${shotDir()}/expiry-warning-1280.png` });
    await warn.getByRole('button', { name: /^Extend/ }).click();
    await warn.waitFor({ state: 'detached', timeout: 3_000 });
    const after2 = (await api('GET', `/v1/mailbox/${soon.id}`)).expiresAt;
    check(Date.parse(after2) > Date.parse(soon.expiresAt) + 5 * 60_000, `extended: ${soon.expiresAt} -> ${after2}`);
  } finally {
    await close();
  }
});
