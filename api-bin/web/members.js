// The members panel: the chat's members in joining order; "Leave" on the caller's own
// identities, "Remove" on the others' for the chat's creator (each asks for a second
// click, so a stray one removes nobody).

import { $, el } from './dom.js';
import { request, enc } from './api.js';

/**
 * Lists the members of chat `id` in the panel. `ctx`: `creator` (may remove others),
 * `current()` (the chat still open?), `changed()` (after a leave or removal), `notify`.
 */
export async function loadMembers(id, ctx) {
  try {
    const { users } = await request('GET', `/v1/chats/${enc(id)}/users?limit=1000`);
    if (!ctx.current()) return;
    $('member-list').replaceChildren(...users.map((u) => memberItem(id, u, ctx)));
  } catch (e) {
    ctx.notify(e);
  }
}

function memberItem(chatId, u, ctx) {
  const item = el('li', {}, el('span', { className: 'author' }, u.user_name), u.is_mine ? ' (you)' : '');
  if (u.is_mine || ctx.creator) {
    const label = u.is_mine ? 'Leave' : 'Remove';
    const button = el('button', {
      type: 'button',
      className: 'secondary small',
      attrs: { 'aria-label': `${label} ${u.user_name}` },
    }, label);
    let armed = false;
    button.addEventListener('click', async () => {
      // Two steps: a stray click removes nobody.
      if (!armed) {
        armed = true;
        button.textContent = u.is_mine ? 'Confirm: leave' : `Confirm: remove`;
        setTimeout(() => {
          armed = false;
          button.textContent = label;
        }, 5000);
        return;
      }
      try {
        await request('DELETE', `/v1/chats/${enc(chatId)}/users/${enc(u.user_id)}`);
        await refreshChat(chatId);
        if (view?.id === chatId) loadMembers();
      } catch (e) {
        ctx.notify(e);
      }
    });
    item.append(' ', button);
  }
  return item;
}
