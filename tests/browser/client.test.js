// The web client in a real browser, two people in two browser contexts, against one
// in-memory service: joining by invitation, live messages both ways, unread badges,
// reloading, scrolling back through history, search, members, and the session's end.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Service, withBrowser, launch, register, createChat, send, shownTexts, chatEntry, account, api, unique,
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
    const a = await open('alice', { permissions: ['clipboard-read', 'clipboard-write'] });
    const b = await open('bob');

    await register(a, base, alice);
    const chat = await createChat(a, 'Lunch');
    await a.getByRole('button', { name: 'Invite' }).click();
    assert.equal(await a.getByLabel(/Invitation link/).inputValue(), `${base}/app/#join/${chat}`);
    await a.getByRole('button', { name: 'Copy link' }).click();
    await a.locator('#notice', { hasText: 'Invitation link copied.' }).waitFor();
    const link = await a.evaluate(() => navigator.clipboard.readText());
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
    // Names too.
    const named = await createChat(a, '<script>alert(2)</script>');
    assert.equal(await chatEntry(a, named).locator('.chat-name').textContent(), '<script>alert(2)</script>');
    assert.equal(await a.locator('#chat-title').textContent(), '<script>alert(2)</script>');
    await b.waitForTimeout(300);
    assert.deepEqual(dialogs, []);
  });
});

/** A chat made through the API: its id and the creator's member id in it. */
async function seededChat(token, name, memberName) {
  const base = service.base;
  const chat = (await api(base, 'POST', '/v1/chats', { token, body: { chat_name: name } })).body.chat_id;
  const member = (await api(base, 'POST', `/v1/chats/${chat}/users`, { token, body: { user_name: memberName } })).body.user_id;
  return { chat, member };
}

async function post(token, chat, member, text) {
  const r = await api(service.base, 'POST', `/v1/chats/${chat}/messages?user_id=${member}`, {
    token, body: { message: text }, headers: { 'Idempotency-Key': `seed-${unique()}` },
  });
  assert.equal(r.status, 201, `post ${text}`);
  return r.body.message_id;
}

/** Joins `chat` on `page` (logged in) through its invitation link. */
async function joinByLink(page, chat, displayName) {
  await page.goto(`${service.base}/app/#join/${chat}`);
  await page.getByLabel('Your display name').fill(displayName);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.locator('#composer-text').waitFor();
}

test('scrolling back through 500 messages shows each once, in order', async () => {
  const token = await account(service.base, `seeder-${unique()}`);
  const { chat, member } = await seededChat(token, 'History', 'Seeder');
  const texts = Array.from({ length: 500 }, (_, i) => `seeded message ${String(i + 1).padStart(3, '0')}`);
  for (const text of texts) await post(token, chat, member, text);

  await withBrowser('scroll back', async (open) => {
    const b = await open('bob');
    await register(b, service.base, `bob-${unique()}`);
    await joinByLink(b, chat, 'Bob');
    // It opens at the newest messages.
    await b.locator('#message-list .text', { hasText: 'seeded message 500' }).waitFor();
    assert.ok((await shownTexts(b)).length < 500);
    // Scroll to the top until the start of the chat shows.
    const start = b.locator('#history-start');
    for (let i = 0; i < 100 && !(await start.isVisible()); i += 1) {
      await b.locator('#messages').evaluate((box) => { box.scrollTop = 0; });
      await b.waitForTimeout(150);
    }
    assert.ok(await start.isVisible(), 'the start of the chat is reached');
    assert.deepEqual(await shownTexts(b), texts);
  });
});

test('search shows progress and hits, and a hit opens its chat at that message', async () => {
  const token = await account(service.base, `searcher-${unique()}`);
  const word = `zebra${unique()}`;
  const { chat, member } = await seededChat(token, 'Zoo', 'Keeper');
  const hit = await post(token, chat, member, `the ${word} escaped`);
  // Enough after it that the hit is not on the newest page.
  for (let i = 0; i < 120; i += 1) await post(token, chat, member, `later message ${i}`);

  await withBrowser('search', async (open) => {
    const b = await open('bob');
    await register(b, service.base, `bob-${unique()}`);
    await joinByLink(b, chat, 'Bob');
    await b.getByLabel('Search messages').fill(word);
    await b.getByRole('button', { name: 'Search', exact: true }).click();
    const result = b.locator('#search-hits .hit-button', { hasText: `the ${word} escaped` });
    await result.waitFor({ timeout: 15_000 });
    assert.match(await b.locator('#search-status').textContent(), /^1 message found\.$/);
    await result.click();
    const shown = b.locator(`#message-list [data-message-id="${hit}"]`);
    await shown.waitFor({ timeout: 10_000 });
    assert.match(await shown.getAttribute('class'), /\bhit\b/);
    assert.ok(await shown.evaluate((node) => document.activeElement === node), 'the hit has the focus');
  });
});

test('the creator renames, removes and joins a chat made elsewhere, a member leaves, and an ended session goes back to log in', async () => {
  await withBrowser('members', async (open) => {
    const base = service.base;
    const alice = `alice-${unique()}`;
    const a = await open('alice');
    const b = await open('bob');
    await register(a, base, alice);
    const chat = await createChat(a, 'Book club');
    await register(b, base, `bob-${unique()}`);
    await joinByLink(b, chat, 'Bob');

    // A rename shows at once on the other side.
    await a.getByRole('button', { name: 'Rename' }).click();
    await a.getByLabel('Chat name').fill('Reading group');
    await a.getByRole('button', { name: 'Save' }).click();
    await b.locator('#chat-title', { hasText: 'Reading group' }).waitFor({ timeout: 2000 });
    await chatEntry(b, chat).locator('.chat-name', { hasText: 'Reading group' }).waitFor();
    // Only the creator may rename.
    assert.equal(await b.getByRole('button', { name: 'Rename' }).isVisible(), false);

    // The members panel: the creator can remove Bob; Bob can only leave.
    await b.getByRole('button', { name: 'Members' }).click();
    await b.locator('#member-list li', { hasText: 'Bob (you)' }).waitFor();
    assert.equal(await b.getByRole('button', { name: `Remove ${alice}` }).count(), 0);
    await a.getByRole('button', { name: 'Members' }).click();
    const remove = a.getByRole('button', { name: 'Remove Bob' });
    await remove.click();
    await remove.click(); // the second click confirms
    await a.locator('#member-list li', { hasText: 'Bob' }).waitFor({ state: 'detached' });
    // Bob loses the chat at once.
    await chatEntry(b, chat).waitFor({ state: 'detached', timeout: 3000 });
    await b.locator('#notice', { hasText: 'no longer a member' }).waitFor();

    // Bob joins another chat and leaves it himself.
    const other = await createChat(a, 'Chess');
    await joinByLink(b, other, 'Bob');
    await b.getByRole('button', { name: 'Members' }).click();
    const leave = b.getByRole('button', { name: 'Leave Bob' });
    await leave.click();
    await leave.click();
    await chatEntry(b, other).waitFor({ state: 'detached', timeout: 3000 });

    // A chat Alice creates elsewhere (through the API, without joining it) appears at
    // once; she can read it, and joins from the page to post.
    const token = await a.evaluate(() => sessionStorage.getItem('messenger.session'));
    const made = (await api(base, 'POST', '/v1/chats', { token, body: { chat_name: 'Made elsewhere' } })).body.chat_id;
    await chatEntry(a, made).click();
    await a.locator('#chat-title', { hasText: 'Made elsewhere' }).waitFor();
    assert.equal(await a.locator('#composer').isVisible(), false);
    assert.equal(await a.getByLabel('Join this chat to post, as').inputValue(), alice);
    await a.getByRole('button', { name: 'Join', exact: true }).click();
    await a.locator('#composer-text').waitFor();
    await send(a, 'now I can post');
    await sees(a, 'now I can post');

    // Alice's session ends elsewhere: her page goes back to the login form.
    assert.equal((await api(base, 'POST', '/v1/auth/logout', { token })).status, 200);
    await a.locator('#login-reason', { hasText: 'Your session has ended' }).waitFor({ timeout: 10_000 });
    assert.equal(await a.evaluate(() => sessionStorage.getItem('messenger.session')), null);
  });
});

test('works with the keyboard alone on a phone-width screen', async () => {
  await withBrowser('phone and keyboard', async (open) => {
    const page = await open('phone', { viewport: { width: 390, height: 800 }, hasTouch: true });
    const name = `thumbs-${unique()}`;
    await page.goto(`${service.base}/app/`);
    // The login form has the focus; Tab goes name → password → Log in → Register.
    await page.keyboard.type(name);
    await page.keyboard.press('Tab');
    await page.keyboard.type('a good password');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Log in');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Register');
    await page.keyboard.press('Enter');
    await page.getByText(`Logged in as ${name}`).waitFor();

    // Every field has a label.
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, textarea')]
      .filter((f) => f.labels.length === 0 && !f.getAttribute('aria-label')).map((f) => f.id));
    assert.deepEqual(unlabelled, []);

    await page.getByLabel('New chat').focus();
    await page.keyboard.type('Pocket');
    await page.keyboard.press('Enter');
    // On a phone the chat takes the screen, with the focus in the message box.
    await page.locator('#chat-title', { hasText: 'Pocket' }).waitFor();
    assert.equal(await page.locator('#sidebar').isVisible(), false);
    await page.waitForFunction(() => document.activeElement?.id === 'composer-text', null, { timeout: 5000 });
    // Shift+Enter starts a new line; Enter sends.
    await page.keyboard.type('first line');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('typed on a phone');
    await page.keyboard.press('Enter');
    await page.locator('#message-list .text', { hasText: 'typed on a phone' }).waitFor();
    assert.deepEqual(await shownTexts(page), ['first line\ntyped on a phone']);
    assert.equal(await page.locator('#composer-text').inputValue(), '');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scrolling');

    // Back to the list, by keyboard.
    await page.getByRole('button', { name: 'Chats', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.locator('#sidebar').waitFor();
    assert.equal(await page.locator('#chat-view').isVisible(), false);
    assert.equal(await page.locator('#chat-list .preview').first().textContent(), `${name}: first line\ntyped on a phone`);
  });
});

test('a lost connection is said in words, keeps what was typed, and catches up after', async () => {
  await withBrowser('offline', async (open) => {
    const base = service.base;
    const a = await open('alice');
    const b = await open('bob');
    await register(a, base, `alice-${unique()}`);
    const chat = await createChat(a, 'Patchy signal');
    await register(b, base, `bob-${unique()}`);
    await joinByLink(b, chat, 'Bob');
    const second = await createChat(a, 'Notes');
    await send(a, 'a note to self');
    await sees(a, 'a note to self');
    await chatEntry(a, chat).click();
    for (const page of [a, b]) await page.locator('#conn', { hasText: 'Live' }).waitFor();

    await a.context().setOffline(true);
    await send(a, 'typed in a tunnel');
    const pending = a.locator('#pending-list .message', { hasText: 'typed in a tunnel' });
    await pending.getByText('Not sent yet: retrying…').waitFor({ timeout: 5000 });
    await a.locator('#notice', { hasText: 'Cannot reach the server' }).waitFor();
    await send(b, 'said while Alice was away');
    await sees(b, 'said while Alice was away');
    // Opening another chat offline: nothing to show yet. What was typed still goes out.
    await chatEntry(a, second).click();
    await a.locator('#chat-title', { hasText: 'Notes' }).waitFor();

    await a.context().setOffline(false);
    await sees(a, 'a note to self', 15_000);
    await sees(b, 'typed in a tunnel', 15_000);
    await chatEntry(a, chat).click();
    await sees(a, 'said while Alice was away', 15_000);
    await sees(a, 'typed in a tunnel', 15_000);
    for (const page of [a, b]) {
      const texts = await shownTexts(page);
      assert.deepEqual([...texts].sort(), ['said while Alice was away', 'typed in a tunnel'], 'each once');
    }
  });
});

test('the page refuses inline script and third-party connections', async () => {
  const browser = await launch();
  try {
    const page = await (await browser.newContext()).newPage();
    const refused = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) refused.push(m.text());
    });
    await page.goto(`${service.base}/app/`);
    await page.getByLabel('User name').waitFor();
    await page.addScriptTag({ content: 'window.inlineRan = true' }).catch(() => {});
    const connected = await page.evaluate(() => fetch('http://127.0.0.2:9/').then(() => true, () => false));
    assert.equal(await page.evaluate(() => window.inlineRan === true), false, 'inline script ran');
    assert.equal(connected, false);
    assert.ok(refused.some((m) => /script-src/.test(m)), refused.join('\n'));
    assert.ok(refused.some((m) => /connect-src/.test(m)), refused.join('\n'));
  } finally {
    await browser.close();
  }
});
