// The chat list: every chat of the caller, most recent activity first (the last
// message's time, else the chat's creation), with the last message and an unread badge;
// the unread total goes in the tab's title.

import { $, el, show } from './dom.js';
import { request, enc } from './api.js';

/**
 * Loads every chat of the caller into `chats` (chat_id → ChatSummary); answers the event
 * position of the first page, to follow the stream from (nothing in between is missed).
 */
export async function loadChats(chats) {
  const loaded = new Map();
  let from = '';
  let position = null;
  for (;;) {
    const page = await request('GET', `/v1/chats?limit=100${from ? `&from=${enc(from)}` : ''}`);
    position ??= page.events.iterator;
    for (const c of page.chats) loaded.set(c.chat_id, c);
    if (page.chats.length < 100) break;
    from = page.next.iterator;
  }
  chats.clear();
  for (const [id, c] of loaded) chats.set(id, c);
  return position;
}

function activity(c) {
  return c.last_message ? c.last_message.created_at : c.created_at;
}

/** Renders `chats`, most recent activity first, `openId` marked as the open one. */
export function renderChats(chats, openId) {
  const list = $('chat-list');
  const focused = document.activeElement?.dataset?.chatId;
  const sorted = [...chats.values()].sort((a, b) => {
    // Newest first; the instants parsed (their texts may differ in length), then as text
    // (microseconds), then by id, as the service orders them.
    const x = activity(a);
    const y = activity(b);
    const dx = Date.parse(x);
    const dy = Date.parse(y);
    if (dx !== dy) return dy - dx;
    if (x !== y) return x < y ? 1 : -1;
    return a.chat_id < b.chat_id ? 1 : -1;
  });
  list.replaceChildren(...sorted.map((c) => chatItem(c, c.chat_id === openId)));
  const unread = sorted.reduce((n, c) => n + c.unread_count, 0);
  document.title = unread > 0 ? `(${unread}) Messenger` : 'Messenger';
  show($('no-chats'), sorted.length === 0);
  if (focused) list.querySelector(`[data-chat-id="${CSS.escape(focused)}"]`)?.focus();
}

function chatItem(c, open) {
  const last = c.last_message;
  const badge = c.unread_count > 0
    ? el('span', { className: 'badge' }, String(c.unread_count), el('span', { className: 'visually-hidden' }, ' unread'))
    : null;
  const link = el('a', {
    className: 'chat-item',
    href: `#chat/${c.chat_id}`,
    dataset: { chatId: c.chat_id },
    attrs: open ? { 'aria-current': 'page' } : {},
  },
  el('span', { className: 'chat-line' }, el('span', { className: 'chat-name' }, c.chat_name), badge),
  el('span', { className: 'preview' }, last ? `${last.user_name}: ${last.text}` : 'No messages yet'));
  return el('li', {}, link);
}
