// The service restarted under two open pages (on PostgreSQL, so nothing is lost with the
// process): both pages say they are reconnecting, a message typed meanwhile stays pending
// and goes out once the service is back, a message posted by someone else before the pages
// reconnect arrives through the stream's replay (Last-Event-ID), and nothing is shown
// twice — without reloading either page.
//
// Needs MESSENGER_TEST_DATABASE_URL (skipped without it); each run uses a schema of its
// own and drops it afterwards.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  Service, withBrowser, register, createChat, send, shownTexts, chatEntry, account, api, unique,
} from './harness.js';

const databaseUrl = process.env.MESSENGER_TEST_DATABASE_URL;
const schema = `browser_${process.pid}_${unique()}`;
let service;

after(async () => {
  await service?.stop();
  if (!databaseUrl) return;
  try {
    execFileSync('psql', [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-qAtc', `DROP SCHEMA IF EXISTS "${schema}" CASCADE`], {
      env: { ...process.env, PGOPTIONS: '-c client_min_messages=warning' },
    });
  } catch (e) {
    console.error(`could not drop schema ${schema}: ${e.message}`);
  }
});

test('pages resume after a restart of the service without missing a message', {
  skip: databaseUrl ? false : 'MESSENGER_TEST_DATABASE_URL is not set',
}, async () => {
  service = await new Service('restart', {
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: schema,
    RATE_LIMIT_PER_SEC: '10000',
    RATE_LIMIT_BURST: '10000',
  }).start();
  const base = service.base;

  await withBrowser('restart', async (open) => {
    const a = await open('alice');
    const b = await open('bob');
    await register(a, base, `alice-${unique()}`);
    const chat = await createChat(a, 'Through the restart');
    await register(b, base, `bob-${unique()}`, 'a good password', `#join/${chat}`);
    await b.getByLabel('Your display name').fill('Bob');
    await b.getByRole('button', { name: 'Join', exact: true }).click();
    await b.locator('#composer-text').waitFor();
    // A third person, through the API.
    const carol = await account(base, `carol-${unique()}`);
    const carolId = (await api(base, 'POST', `/v1/chats/${chat}/users`, { token: carol, body: { user_name: 'Carol' } })).body.user_id;
    // And a chat of Carol's that Bob joins but does not open: only the stream tells his
    // page of what happens there.
    const side = (await api(base, 'POST', '/v1/chats', { token: carol, body: { chat_name: 'Side chat' } })).body.chat_id;
    const carolSide = (await api(base, 'POST', `/v1/chats/${side}/users`, { token: carol, body: { user_name: 'Carol' } })).body.user_id;
    const bobToken = await b.evaluate(() => sessionStorage.getItem('messenger.session'));
    assert.equal((await api(base, 'POST', `/v1/chats/${side}/users`, { token: bobToken, body: { user_name: 'Bob' } })).status, 201);
    await chatEntry(b, side).waitFor();

    for (const page of [a, b]) await page.locator('#conn', { hasText: 'Live' }).waitFor();
    await send(a, 'before the restart');
    await b.locator('#message-list .text', { hasText: 'before the restart' }).waitFor({ timeout: 1000 });
    // A reload would lose this.
    for (const page of [a, b]) await page.evaluate(() => { window.notReloaded = true; });

    await service.stop();
    for (const page of [a, b]) await page.locator('#conn', { hasText: 'Reconnecting' }).waitFor({ timeout: 5000 });
    await send(a, 'typed while the service was down');
    await a.locator('#pending-list .message', { hasText: 'typed while the service was down' }).waitFor();

    await service.start();
    // Posted before the pages are back: they get it from the replay after their last id.
    const posted = await api(base, 'POST', `/v1/chats/${chat}/messages?user_id=${carolId}`, {
      token: carol, body: { message: 'posted during the restart' }, headers: { 'Idempotency-Key': unique() },
    });
    assert.equal(posted.status, 201);
    const aside = await api(base, 'POST', `/v1/chats/${side}/messages?user_id=${carolSide}`, {
      token: carol, body: { message: 'a side note during the restart' }, headers: { 'Idempotency-Key': unique() },
    });
    assert.equal(aside.status, 201);

    const expected = ['before the restart', 'typed while the service was down', 'posted during the restart'];
    for (const page of [a, b]) {
      for (const text of expected.slice(1)) {
        await page.locator('#message-list .text', { hasText: text }).waitFor({ timeout: 15_000 });
      }
      await page.locator('#conn', { hasText: 'Live' }).waitFor({ timeout: 15_000 });
      assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page was not reloaded');
    }
    // The chat Bob does not look at: its badge and preview came from the stream's replay.
    await chatEntry(b, side).locator('.badge', { hasText: '1' }).waitFor({ timeout: 15_000 });
    assert.equal(await chatEntry(b, side).locator('.preview').textContent(), 'Carol: a side note during the restart');
    await a.locator('#pending-list .message').waitFor({ state: 'detached', timeout: 5000 });
    for (const page of [a, b]) {
      const texts = await shownTexts(page);
      assert.deepEqual([...texts].sort(), [...expected].sort(), 'each message once');
    }
    // One more each way, live again.
    await send(b, 'after the restart');
    await a.locator('#message-list .text', { hasText: 'after the restart' }).waitFor({ timeout: 1000 });
  });
});
