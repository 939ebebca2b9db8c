// Search: start a task, show its progress while a worker runs it, then list the hits a
// page at a time; a hit opens its chat at that message.

import { $, el, show, sleep, timeEl } from './dom.js';
import { request, enc, ApiError } from './api.js';

const HITS_PAGE = 20;
const STATUS_TEXT = {
  WAITING: 'Waiting for a worker…',
  IN_PROCESS: 'Searching…',
};

export class Search {
  /** `chatName(id)` names a hit's chat; `open(chatId, messageId)`; `notify(error)`. */
  constructor({ chatName, open, notify }) {
    this.chatName = chatName;
    this.openHit = open;
    this.notify = notify;
    this.run = 0;
    this.task = null;
    this.next = null;
    $('search-more').addEventListener('click', () => this.more());
    $('search-close').addEventListener('click', () => this.close());
  }

  close() {
    this.run += 1;
    show($('search-panel'), false);
    $('search-text').focus();
  }

  async start(text) {
    const run = ++this.run;
    const status = $('search-status');
    const hits = $('search-hits');
    hits.replaceChildren();
    show($('search-more'), false);
    show($('search-panel'), true);
    if (text.trim().length < 4) {
      status.textContent = 'Type at least 4 characters.';
      return;
    }
    status.textContent = 'Starting the search…';
    try {
      const { task_id: task } = await request('POST', '/v1/chats/search', { body: { message: text } });
      this.task = task;
      for (let i = 0; ; i += 1) {
        if (run !== this.run) return;
        const { status: state } = await request('GET', `/v1/chats/search/status/${enc(task)}`);
        if (state === 'SUCCESS') break;
        if (state === 'FAILED') {
          status.textContent = 'The search failed. Try again, or with other words.';
          return;
        }
        status.textContent = STATUS_TEXT[state] ?? 'Searching…';
        await sleep(Math.min(200 + i * 100, 1000));
      }
      this.next = null;
      hits.replaceChildren();
      await this.more(run);
    } catch (e) {
      if (run !== this.run) return;
      status.textContent = e instanceof ApiError && e.code === 'bad-parameters'
        ? 'That search has no words to look for.'
        : 'The search could not run.';
      this.notify(e);
    }
  }

  async more(run = this.run) {
    const status = $('search-status');
    const hits = $('search-hits');
    const from = this.next ? `&from=${enc(this.next)}` : '';
    try {
      const page = await request('GET', `/v1/chats/search/${enc(this.task)}/messages?limit=${HITS_PAGE}${from}`);
      if (run !== this.run) return;
      this.next = page.next.iterator;
      for (const hit of page.messages) hits.append(this.hit(hit));
      const count = hits.children.length;
      status.textContent = count === 0 ? 'No messages found.' : `${count} message${count === 1 ? '' : 's'} found.`;
      show($('search-more'), page.messages.length === HITS_PAGE);
    } catch (e) {
      this.notify(e);
    }
  }

  hit(hit) {
    const button = el('button', { type: 'button', className: 'hit-button' },
      el('span', { className: 'meta' },
        el('span', { className: 'chat-name' }, this.chatName(hit.chat_id)), ' · ',
        el('span', { className: 'author' }, hit.user_name), ' · ', timeEl(hit.created_at)),
      el('span', { className: 'text' }, hit.text));
    button.addEventListener('click', () => this.openHit(hit.chat_id, hit.message_id));
    return el('li', {}, button);
  }
}
