import { defineConfig } from '@playwright/test';

// Only the `request` fixture (HTTP) is used, so no browser is ever launched or downloaded.
export default defineConfig({
  testDir: '.',
  timeout: 60_000, // the wait below may hold a request for up to 30 s
  reporter: 'list',
  use: {
    // Every request.get('/v1/...') goes to the Mailiy API.
    baseURL: process.env.MAILIY_API ?? 'http://127.0.0.1:8025',
  },
});
