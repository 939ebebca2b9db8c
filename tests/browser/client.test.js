// The web client in a real browser, two people in two browser contexts, against one
// in-memory service: joining by invitation, live messages both ways, unread badges,
// reloading, scrolling back through history, search, members, and the session's end.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Service, withBrowser, register, createChat, send, shownTexts, chatEntry, account, api, unique,
} from './harness.js';

let service;

before(async () => {
  // Throttling high enough that seeding through the API is not slowed down.
  service = await new Service('client', { RATE_LIMIT_PER_SEC: '10000', RATE_LIMIT_BURST: '10000' }).start();
});

after(async () => {
  await service?.stop();
});

/** Waits until a message with exactly this text is shown on `page` (at most `ms`). */
async function sees(page, text, ms = 1000) {
  await page.locator('#message-list .message .text').getByText(text, { exact: true }).waitFor({ timeout: ms });
}

test('two people chat through an invitation link, live, with unread badges', async () => {
  await withBrowser('two people chat', async (open, dialogs) => {
    const base = service.base;
    const alice = `alice-${unique()}`;
    const bob = `bob-${unique()}`;
    const a = await open('alice');
    const b = await open('bob');

    await register(a, base, alice);
    const chat = await createChat(a, 'Lunch');
    await a.getByRole('button', { name: 'Invite' }).click();
    const link = await a.getByLabel(/Invitation link/).inputValue();
    assert.equal(link, `${base}/app/#join/${chat}`);

    // Bob opens the link, registers, and is asked for a display name.
    await b.goto(link);
    await b.getByLabel('User name').fill(bob);
    await b.getByLabel('Password').fill('a good password');
    await b.getByRole('button', { name: 'Register' }).click();
    await b.getByLabel('Your display name').fill('Bob');
    await b.getByRole('button', { name: 'Join', exact: true }).click();
    await b.locator('#chat-title', { hasText: 'Lunch' }).waitFor();
    assert.ok(b.url().endsWith(`#chat/${chat}`));

    // Each sees the other's message within a second.
    await a.locator('#conn', { hasText: 'Live' }).waitFor();
    await b.locator('#conn', { hasText: 'Live' }).waitFor();
    await send(a, 'Hello Bob');
    await sees(b, 'Hello Bob');
    await send(b, 'Hi Alice');
    await sees(a, 'Hi Alice');
    // Nothing stays pending, nothing is shown twice.
    await a.locator('#pending-list .message').first().waitFor({ state: 'detached' }).catch(() => {});
    assert.deepEqual(await shownTexts(a), ['Hello Bob', 'Hi Alice']);
    assert.deepEqual(await shownTexts(b), ['Hello Bob', 'Hi Alice']);
    assert.equal(await a.locator('#pending-list .message').count(), 0);

    // Alice looks at another chat: Bob's messages raise the badge of Lunch, which moves
    // to the top; opening it clears the badge.
    const other = await createChat(a, 'Other');
    await send(b, 'Are you there?');
    await send(b, 'Lunch at noon');
    const lunch = chatEntry(a, chat);
    await lunch.locator('.badge', { hasText: '2' }).waitFor({ timeout: 1000 });
    assert.equal(await a.locator('#chat-list li').first().locator('a').getAttribute('data-chat-id'), chat);
    assert.equal(await lunch.locator('.preview').textContent(), 'Bob: Lunch at noon');
    assert.equal(await chatEntry(a, other).locator('.badge').count(), 0);
    await lunch.click();
    await sees(a, 'Lunch at noon');
    await lunch.locator('.badge').waitFor({ state: 'detached', timeout: 2000 });
    // Bob had the chat open all along: no badge for him.
    assert.equal(await chatEntry(b, chat).locator('.badge').count(), 0);

    // Bob reloads: still logged in, same chat, same messages, no badge.
    const before = await shownTexts(b);
    await b.reload();
    await b.locator('#chat-title', { hasText: 'Lunch' }).waitFor();
    await sees(b, 'Lunch at noon', 5000);
    assert.deepEqual(await shownTexts(b), before);
    assert.equal(await chatEntry(b, chat).locator('.badge').count(), 0);
    await b.locator('#conn', { hasText: 'Live' }).waitFor();

    // Markup in a message is text, and runs nothing.
    const markup = '<img src=x onerror=alert(1)>';
    await send(a, markup);
    await sees(b, markup);
    await sees(a, markup);
    assert.equal(await b.locator('#messages img').count(), 0);
    assert.equal(await chatEntry(b, chat).locator('.preview').textContent(), `${alice}: ${markup}`);
    await b.waitForTimeout(300);
    assert.deepEqual(dialogs, []);
  });
});
