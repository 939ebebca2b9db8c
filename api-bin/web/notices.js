// Notices: what went wrong, in words. Throttling shows the `Retry-After` countdown, a 503
// says the service is unavailable, no answer at all says the page is reconnecting.

import { $, show } from './dom.js';
import { ApiError, NetworkError } from './api.js';

let noticeTimer = null;

/** Says what went wrong in words: throttling (with its countdown), outages, the network. */
export function notify(e) {
  if (e instanceof ApiError) {
    if (e.status === 401) return;
    if (e.status === 429) {
      countdown($('notice'), e.retryAfter ?? 1,
        (s) => `Too many requests. Try again in ${s} s.`, () => hideNotice());
      return;
    }
    if (e.status === 503) return notice('The service is unavailable right now. Try again in a moment.');
    if (e.status >= 500) return notice('Something went wrong on the server. Try again.');
    return notice(MESSAGES[e.code] ?? `The request failed (${e.code}).`);
  }
  if (e instanceof NetworkError) return notice('Cannot reach the server. Reconnecting…', 'offline');
  console.error(e);
}

const MESSAGES = {
  'chat-not-found': 'That chat does not exist, or you are not in it.',
  'user-not-found': 'That member is not in the chat.',
  forbidden: 'Only the chat’s creator can do that.',
  'bad-parameters': 'Check what you typed: it is empty or too long.',
};

let noticeHide = null;

/**
 * Shows a notice. `offline` stays until the connection is back; the others go after a
 * while (a new one replaces the old).
 */
export function notice(text, kind = 'error') {
  clearInterval(noticeTimer);
  clearTimeout(noticeHide);
  const box = $('notice');
  box.textContent = text;
  box.dataset.kind = kind;
  show(box, true);
  if (kind !== 'offline') noticeHide = setTimeout(() => hideNotice(kind), kind === 'info' ? 4000 : 10_000);
}

export function hideNotice(kind) {
  const box = $('notice');
  if (kind && box.dataset.kind !== kind) return;
  clearInterval(noticeTimer);
  show(box, false);
}

/** Shows `text(seconds)` in `node`, counting down each second, then calls `done`. */
export function countdown(node, seconds, text, done) {
  clearInterval(noticeTimer);
  clearTimeout(noticeHide);
  let left = Math.max(1, Math.ceil(seconds));
  node.textContent = text(left);
  node.dataset.kind = 'throttled';
  show(node, true);
  const timer = setInterval(() => {
    left -= 1;
    if (left <= 0) {
      clearInterval(timer);
      done();
    } else {
      node.textContent = text(left);
    }
  }, 1000);
  if (node === $('notice')) noticeTimer = timer;
  return timer;
}
