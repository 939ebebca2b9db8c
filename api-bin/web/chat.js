// One open chat: opens at the newest messages (`before=` empty), loads older pages when
// scrolled to the top (`before=<prev>`), appends new messages (from the event stream, then
// `from=<next>` to close any gap and learn the cursor to mark read), marks what it shows
// as read, and posts with a per-message `Idempotency-Key`, in the order typed: a message
// stays pending until its 201, is retried with the same key after a network error, and is
// shown once (by `message_id`) whatever arrives first.

import { $, el, show, sleepOrOnline, timeEl, randomKey } from './dom.js';
import { request, enc, session, ApiError, NetworkError, isTransient } from './api.js';

const PAGE = 50;
const CATCH_UP_PAGE = 200;

export class ChatView {
  /**
   * `summary`: the chat's ChatSummary. `hooks`: `notify(error)` shows a failure,
   * `read(chatId, answer)` after the marker moved, `changed(chatId)` when the chat
   * itself needs reloading (membership changed).
   */
  constructor(summary, hooks) {
    this.chat = summary;
    this.id = summary.chat_id;
    this.hooks = hooks;
    this.seen = new Set();
    this.pending = new Map(); // message_id (once known) → pending entry
    this.prev = null;
    this.next = null;
    this.readSent = null;
    this.loadingOlder = false;
    this.catching = null;
    this.catchAgain = false;
    this.closed = false;
    this.opening = null;
    this.outbox = [];
    this.flushing = false;
    this.box = $('messages');
    this.list = $('message-list');
    this.pendingList = $('pending-list');
    this.list.replaceChildren();
    this.pendingList.replaceChildren();
    show($('history-start'), false);
    show($('load-older'), false);
  }

  close() {
    this.closed = true;
  }

  /** My identities in this chat (ids). */
  mine() {
    return new Set(this.chat.my_users.map((u) => u.user_id));
  }

  /** Opens at the newest messages, or pages back until `focusId` is shown. */
  open(focusId) {
    this.opening ??= this.load(focusId).finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  async load(focusId) {
    const page = await request('GET', `/v1/chats/${enc(this.id)}/messages?limit=${PAGE}&before=`);
    if (this.closed) return;
    this.prev = page.prev ? page.prev.iterator : null;
    this.next = page.next.iterator;
    this.append(page.messages);
    this.updateOlder();
    this.scrollToEnd();
    if (focusId) {
      let rounds = 0;
      while (!this.seen.has(focusId) && this.prev && rounds < 100 && !this.closed) {
        if (this.loadingOlder) {
          await sleepOrOnline(50); // a page the scrolling asked for is on its way
          continue;
        }
        await this.loadOlder(CATCH_UP_PAGE);
        rounds += 1;
      }
      const target = this.list.querySelector(`[data-message-id="${CSS.escape(focusId)}"]`);
      if (target) {
        target.classList.add('hit');
        target.scrollIntoView({ block: 'center' });
        target.focus();
      }
    }
    await this.fill();
    // Whatever the stream announced while the first page loaded, then the read marker.
    await this.catchUp();
  }

  /** Loads older pages while the list does not fill its box (so scrolling can start). */
  async fill() {
    const box = this.box;
    while (this.prev && !this.closed && box.clientHeight > 0 && box.scrollHeight <= box.clientHeight + 40) {
      await this.loadOlder();
    }
  }

  updateOlder() {
    show($('load-older'), Boolean(this.prev));
    show($('history-start'), !this.prev);
  }

  nearTop() {
    return this.box.scrollTop < 150;
  }

  nearEnd() {
    return this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight < 80;
  }

  scrollToEnd() {
    this.box.scrollTop = this.box.scrollHeight;
  }

  /** The page before the first shown message, kept in view where the reader was. */
  async loadOlder(limit = PAGE) {
    if (this.loadingOlder || !this.prev || this.closed) return;
    this.loadingOlder = true;
    $('load-older').disabled = true;
    // History put above is not news: screen readers should not read it out as the log's
    // new entries.
    this.box.setAttribute('aria-busy', 'true');
    try {
      const page = await request(
        'GET', `/v1/chats/${enc(this.id)}/messages?limit=${limit}&before=${enc(this.prev)}`,
      );
      if (this.closed) return;
      const fromEnd = this.box.scrollHeight - this.box.scrollTop;
      const nodes = page.messages.filter((m) => !this.seen.has(m.message_id)).map((m) => this.node(m));
      this.list.prepend(...nodes);
      this.prev = page.prev ? page.prev.iterator : null;
      this.box.scrollTop = this.box.scrollHeight - fromEnd;
      this.updateOlder();
    } catch (e) {
      this.hooks.notify(e);
    } finally {
      this.loadingOlder = false;
      $('load-older').disabled = false;
      this.box.removeAttribute('aria-busy');
    }
  }

  /** A message from the event stream: shown at once, then the gap (if any) is closed. */
  live(message) {
    if (this.closed || !this.next) return; // still opening: its catch-up will get it
    const atEnd = this.nearEnd();
    this.append([message]);
    if (atEnd) this.scrollToEnd();
    this.catchUp();
  }

  /**
   * Reads from `next` to the end of the chat, appending what is not shown yet, then marks
   * read. One at a time; a call during one runs once more after it.
   */
  catchUp() {
    if (!this.next) {
      // The first page never came (a network error): try it again instead.
      if (this.closed) return null;
      return this.open().catch((e) => {
        if (!(e instanceof NetworkError)) this.hooks.notify(e);
      });
    }
    if (this.catching) {
      this.catchAgain = true;
      return this.catching;
    }
    this.catching = (async () => {
      try {
        do {
          this.catchAgain = false;
          for (;;) {
            const page = await request(
              'GET',
              `/v1/chats/${enc(this.id)}/messages?limit=${CATCH_UP_PAGE}&from=${enc(this.next)}`,
            );
            if (this.closed) return;
            const atEnd = this.nearEnd();
            this.append(page.messages);
            if (atEnd) this.scrollToEnd();
            this.next = page.next.iterator;
            if (page.messages.length < CATCH_UP_PAGE) break;
          }
        } while (this.catchAgain && !this.closed);
        this.markRead();
      } catch (e) {
        if (!(e instanceof NetworkError)) this.hooks.notify(e);
        if (isTransient(e)) {
          // Try again later (the stream's reconnect also calls this after a drop).
          const wait = e instanceof ApiError && e.retryAfter !== null ? e.retryAfter * 1000 : 2000;
          setTimeout(() => this.catchUp(), Math.max(wait, 500));
        }
      } finally {
        this.catching = null;
      }
    })();
    return this.catching;
  }

  append(messages) {
    const nodes = [];
    for (const m of messages) {
      if (this.seen.has(m.message_id)) continue;
      nodes.push(this.node(m));
    }
    this.list.append(...nodes);
  }

  /** A message's element (text only), and the pending copy it replaces gone. */
  node(m) {
    this.seen.add(m.message_id);
    const waiting = this.pending.get(m.message_id);
    if (waiting) {
      waiting.node.remove();
      this.pending.delete(m.message_id);
    }
    const mine = this.mine().has(m.user_id);
    return el('li', {
      className: mine ? 'message mine' : 'message',
      tabIndex: -1,
      dataset: { messageId: m.message_id },
    },
    el('div', { className: 'meta' }, el('span', { className: 'author' }, m.user_name), ' ', timeEl(m.created_at)),
    el('p', { className: 'text' }, m.text));
  }

  /** Moves the read marker to the end of what is shown, when the page is seen. */
  async markRead() {
    if (this.closed || !this.next || document.visibilityState !== 'visible') return;
    if (this.readSent === this.next) return;
    const cursor = this.next;
    this.readSent = cursor;
    try {
      const answer = await request('PUT', `/v1/chats/${enc(this.id)}/read`, { body: { iterator: cursor } });
      this.hooks.read(this.id, answer);
    } catch (e) {
      this.readSent = null;
      if (!(e instanceof NetworkError)) this.hooks.notify(e);
    }
  }

  /** Posts `text` as my first identity in the chat. */
  send(text) {
    const me = this.chat.my_users[0];
    if (!me) return;
    const entry = {
      key: randomKey(),
      text,
      userId: me.user_id,
      status: el('span', { className: 'status' }, 'Sending…'),
    };
    entry.node = el('li', { className: 'message mine pending' },
      el('div', { className: 'meta' }, el('span', { className: 'author' }, me.user_name), ' ', entry.status),
      el('p', { className: 'text' }, text));
    this.pendingList.append(entry.node);
    this.scrollToEnd();
    this.outbox.push(entry);
    this.flush();
  }

  /**
   * Posts the outbox one message at a time, so messages are stored in the order they were
   * typed even when some must wait (throttling, a network error) and be retried.
   */
  async flush() {
    if (this.flushing) return;
    this.flushing = true;
    try {
      // Closing the chat does not stop it: what was typed still goes out.
      while (this.outbox.length > 0 && session.token) {
        await this.post(this.outbox[0]);
        this.outbox.shift();
      }
    } finally {
      this.flushing = false;
    }
  }

  async post(entry) {
    let attempt = 0;
    while (session.token) {
      try {
        const answer = await request(
          'POST', `/v1/chats/${enc(this.id)}/messages?user_id=${enc(entry.userId)}`,
          { body: { message: entry.text }, headers: { 'Idempotency-Key': entry.key } },
        );
        entry.messageId = answer.message_id;
        if (this.seen.has(answer.message_id)) {
          entry.node.remove();
        } else {
          this.pending.set(answer.message_id, entry);
          entry.status.textContent = 'Sent';
          this.catchUp();
        }
        return;
      } catch (e) {
        if (!isTransient(e)) {
          this.failed(entry, e);
          return;
        }
        attempt += 1;
        let wait = Math.min(1000 * 2 ** (attempt - 1), 8000);
        if (e instanceof ApiError && e.retryAfter !== null) wait = Math.max(1, e.retryAfter) * 1000;
        entry.node.classList.add('retrying');
        entry.status.textContent = e instanceof ApiError && e.status === 429
          ? 'Too many requests: sending again shortly…'
          : 'Not sent yet: retrying…';
        this.hooks.notify(e);
        await sleepOrOnline(wait);
      }
    }
  }

  failed(entry, e) {
    entry.node.classList.add('failed');
    const why = e instanceof ApiError && e.code === 'user-not-found'
      ? 'Not sent: you are no longer a member of this chat.'
      : `Not sent (${e instanceof ApiError ? e.code : 'error'}).`;
    entry.status.textContent = why;
    const discard = el('button', { type: 'button', className: 'link' }, 'Discard');
    discard.addEventListener('click', () => entry.node.remove());
    entry.status.after(' ', discard);
    if (e instanceof ApiError && e.status === 401) return;
    this.hooks.notify(e);
  }
}
