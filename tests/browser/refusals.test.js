// Refusals said in words: a throttled client sees the `Retry-After` countdown and loses
// nothing (messages sent past the limit wait and go out once each, in order); a 503 says
// the service is unavailable. Runs its own service with low limits and search off.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Service, withBrowser, register, createChat, send, shownTexts, unique } from './harness.js';

let service;

before(async () => {
  service = await new Service('throttle', {
    RATE_LIMIT_PER_SEC: '1',
    RATE_LIMIT_BURST: '15',
    LOGIN_FAILURES_PER_CLIENT: '2',
    LOGIN_CLIENT_WINDOW_SECS: '600',
    // New searches answer 503.
    SEARCH: 'off',
  }).start();
});

after(async () => {
  await service?.stop();
});

test('too many failed logins show a countdown', async () => {
  await withBrowser('login countdown', async (open) => {
    const page = await open('mallory');
    const name = `victim-${unique()}`;
    await register(page, service.base, name, 'the right password');
    await page.getByRole('button', { name: 'Log out' }).click();
    const error = page.locator('#login-error');
    for (let i = 0; i < 2; i += 1) {
      await page.getByLabel('User name').fill(name);
      await page.getByLabel('Password').fill(`wrong ${i}`);
      await page.getByRole('button', { name: 'Log in' }).click();
      await error.getByText('Wrong password.').waitFor();
    }
    await page.getByRole('button', { name: 'Log in' }).click();
    await error.getByText(/^Too many attempts\. Try again in \d+ s\.$/).waitFor();
    const first = Number((await error.textContent()).match(/(\d+) s/)[1]);
    assert.ok(first > 500 && first <= 600, `${first} s left`);
    await page.waitForTimeout(2100);
    const later = Number((await error.textContent()).match(/(\d+) s/)[1]);
    assert.ok(later < first, `the countdown runs: ${first} then ${later}`);
  });
});

test('messages sent past the request limit wait for the countdown and go out once each', async () => {
  await withBrowser('request countdown', async (open) => {
    const page = await open('eager');
    await register(page, service.base, `eager-${unique()}`);
    await createChat(page, 'Fast typing');
    const texts = Array.from({ length: 10 }, (_, i) => `quick message ${i + 1}`);
    for (const text of texts) await send(page, text);
    await page.locator('#notice').getByText(/^Too many requests\. Try again in \d+ s\.$/).waitFor({ timeout: 10_000 });
    for (const text of texts) {
      await page.locator('#message-list .text', { hasText: new RegExp(`^${text}$`) }).waitFor({ timeout: 60_000 });
    }
    await page.locator('#pending-list .message').first().waitFor({ state: 'detached', timeout: 30_000 });
    assert.deepEqual(await shownTexts(page), texts);
  });
});

test('a search the service cannot take says it is unavailable', async () => {
  await withBrowser('unavailable', async (open) => {
    const page = await open('curious');
    await register(page, service.base, `curious-${unique()}`);
    await page.getByLabel('Search messages').fill('anything at all');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.locator('#notice', { hasText: 'The service is unavailable right now' }).waitFor();
    await page.locator('#search-status', { hasText: 'The search could not run.' }).waitFor();
  });
});
