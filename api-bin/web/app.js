// The page: log in, the chat list (live from the event stream), one open chat, members,
// invitations, search, and plain messages for throttling, outages and lost connectivity.
// Built on the public API only; text from users is only ever set as text.

import { $, el, show, sleep } from './dom.js';
import { request, enc, session, whenUnauthorized, ApiError, NetworkError } from './api.js';
import { EventStream } from './stream.js';
import { ChatView } from './chat.js';
import { Search } from './search.js';

const chats = new Map(); // chat_id → ChatSummary
let view = null; // the open ChatView
let started = false;

// --- notices ---------------------------------------------------------------------------

let noticeTimer = null;

/** Says what went wrong in words: throttling (with its countdown), outages, the network. */
function notify(e) {
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
function notice(text, kind = 'error') {
  clearInterval(noticeTimer);
  clearTimeout(noticeHide);
  const box = $('notice');
  box.textContent = text;
  box.dataset.kind = kind;
  show(box, true);
  if (kind !== 'offline') noticeHide = setTimeout(() => hideNotice(kind), kind === 'info' ? 4000 : 10_000);
}

function hideNotice(kind) {
  const box = $('notice');
  if (kind && box.dataset.kind !== kind) return;
  clearInterval(noticeTimer);
  show(box, false);
}

/** Shows `text(seconds)` in `node`, counting down each second, then calls `done`. */
function countdown(node, seconds, text, done) {
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

// --- the session ---------------------------------------------------------------------------

const stream = new EventStream({
  onEvent: handleEvent,
  onStatus: connection,
  onUnauthorized: () => sessionEnded(),
  onOpen: (resumed) => {
    hideNotice('offline');
    // Whatever the open chat missed in a drop comes from the stream's replay; the
    // catch-up also moves its cursor (to mark read) past it.
    if (resumed) view?.catchUp();
  },
});

function connection(state, detail) {
  const conn = $('conn');
  conn.dataset.state = state;
  conn.textContent = {
    connecting: 'Connecting…',
    live: 'Live',
    reconnecting: 'Reconnecting…',
    throttled: `Too many requests: reconnecting in ${detail} s…`,
  }[state] ?? '';
}

whenUnauthorized(() => sessionEnded());

function sessionEnded() {
  const had = session.token !== null;
  leaveApp();
  showLogin(had ? 'Your session has ended. Log in again.' : '');
}

function leaveApp() {
  session.end();
  stream.stop();
  started = false;
  closeChat();
  chats.clear();
  $('chat-list').replaceChildren();
  $('conn').textContent = '';
  delete $('conn').dataset.state;
  document.title = 'Messenger';
  $('whoami').textContent = '';
  show($('logout'), false);
  show($('main-view'), false);
  show($('join-view'), false);
}

function showLogin(reason) {
  show($('main-view'), false);
  show($('join-view'), false);
  show($('login-view'), true);
  $('login-reason').textContent = reason ?? '';
  show($('login-reason'), Boolean(reason));
  $('login-name').focus();
}

const LOGIN_ERRORS = {
  'user-already-exists': 'That user name is taken.',
  'user-not-found': 'No account has that name. Register it?',
  'bad-password': 'Wrong password.',
  'bad-parameters': 'The name must be 1–255 characters, the password 1–1024.',
};

async function login(register) {
  const name = $('login-name').value;
  const password = $('login-password').value;
  const error = $('login-error');
  error.textContent = '';
  if (!name.trim() || !password) {
    error.textContent = 'Enter a user name and a password.';
    return;
  }
  const body = { user_name: name, password };
  for (const b of $('login-form').querySelectorAll('button')) b.disabled = true;
  try {
    if (register) await request('POST', '/v1/auth/register', { body });
    const { session_id: token } = await request('POST', '/v1/auth/login', { body });
    session.start(token, name);
    $('login-password').value = '';
    show($('login-view'), false);
    await enterApp();
  } catch (e) {
    if (e instanceof ApiError && e.status === 429) {
      countdown(error, e.retryAfter ?? 1, (s) => `Too many attempts. Try again in ${s} s.`,
        () => { error.textContent = ''; });
    } else if (e instanceof ApiError && LOGIN_ERRORS[e.code]) {
      error.textContent = LOGIN_ERRORS[e.code];
    } else if (e instanceof NetworkError) {
      error.textContent = 'Cannot reach the server. Try again in a moment.';
    } else {
      error.textContent = e instanceof ApiError && e.status === 503
        ? 'The service is unavailable right now. Try again in a moment.'
        : 'Logging in failed. Try again.';
    }
  } finally {
    for (const b of $('login-form').querySelectorAll('button')) b.disabled = false;
  }
}

async function logout() {
  try {
    await request('POST', '/v1/auth/logout');
  } catch {
    // Ended here either way: the token is forgotten below.
  }
  leaveApp();
  showLogin('You are logged out.');
}

// --- the chat list ---------------------------------------------------------------------

/** Loads every chat; answers the event position to follow the stream from. */
async function loadChats() {
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

function renderChats() {
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
  list.replaceChildren(...sorted.map(chatItem));
  const unread = sorted.reduce((n, c) => n + c.unread_count, 0);
  document.title = unread > 0 ? `(${unread}) Messenger` : 'Messenger';
  show($('no-chats'), sorted.length === 0);
  if (focused) list.querySelector(`[data-chat-id="${CSS.escape(focused)}"]`)?.focus();
}

function chatItem(c) {
  const open = view?.id === c.chat_id;
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

/** Reloads one chat's summary; a chat the caller can no longer read leaves the list. */
async function refreshChat(id) {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    try {
      const summary = await request('GET', `/v1/chats/${enc(id)}`);
      if (!started) return null;
      chats.set(id, summary);
      if (view?.id === id) {
        view.chat = summary;
        renderHeader(summary);
      }
      renderChats();
      return summary;
    } catch (e) {
      if (e instanceof ApiError && e.code === 'chat-not-found') {
        chats.delete(id);
        if (view?.id === id) {
          closeChat();
          location.hash = '';
          notice('You are no longer a member of that chat.');
        }
        renderChats();
        return null;
      }
      if (!(e instanceof NetworkError) && !(e instanceof ApiError && e.status >= 500)) {
        notify(e);
        return null;
      }
      await sleep(1000 * (attempt + 1));
    }
  }
  return null;
}

function handleEvent({ type, data }) {
  if (!started) return;
  switch (type) {
    case 'message.created': {
      const c = chats.get(data.chat_id);
      if (!c) {
        refreshChat(data.chat_id);
        return;
      }
      c.last_message = data.message;
      const mine = c.my_users.some((u) => u.user_id === data.message.user_id);
      const shown = view?.id === c.chat_id && document.visibilityState === 'visible';
      if (!mine && !shown) c.unread_count += 1;
      if (view?.id === c.chat_id) view.live(data.message);
      renderChats();
      return;
    }
    case 'member.joined':
    case 'member.left':
      refreshChat(data.chat_id).then(() => {
        if (view?.id === data.chat_id && !$('members-panel').hidden) loadMembers();
      });
      return;
    case 'chat.created':
      refreshChat(data.chat.chat_id);
      return;
    case 'chat.renamed': {
      const c = chats.get(data.chat.chat_id);
      if (!c) return;
      c.chat_name = data.chat.chat_name;
      if (view?.id === c.chat_id) renderHeader(c);
      renderChats();
      return;
    }
    case 'read.updated': {
      const c = chats.get(data.chat_id);
      if (!c) return;
      c.unread_count = data.unread_count;
      c.read = data.read;
      renderChats();
      return;
    }
    case 'reset':
      reload();
      return;
    default:
      // Types this page does not know yet (edits, deletions…) are ignored.
  }
}

/** Everything again by REST (after `reset`: the stream goes on live from now). */
async function reload() {
  try {
    await loadChats();
    renderChats();
    if (view) openChat(view.id);
  } catch (e) {
    notify(e);
  }
}

// --- the open chat ---------------------------------------------------------------------

const hooks = {
  notify,
  read(chatId, answer) {
    const c = chats.get(chatId);
    if (!c) return;
    c.unread_count = answer.unread_count;
    c.read = answer.read;
    renderChats();
  },
};

function renderHeader(c) {
  $('chat-title').textContent = c.chat_name;
  show($('rename-toggle'), c.is_creator);
  $('invite-link').value = `${location.origin}/app/#join/${c.chat_id}`;
  const member = c.my_users.length > 0;
  show($('composer'), member);
  show($('self-join'), !member);
  if (!member && !$('self-join-name').value) $('self-join-name').value = session.userName;
}

function closeChat() {
  view?.close();
  view = null;
  show($('chat-pane'), false);
  show($('no-chat'), true);
  document.body.classList.remove('chat-open');
  for (const id of ['invite-box', 'rename-form', 'members-panel']) show($(id), false);
  for (const id of ['invite-toggle', 'rename-toggle', 'members-toggle']) $(id).setAttribute('aria-expanded', 'false');
}

async function openChat(id, focusId) {
  let c = chats.get(id);
  if (!c) c = await refreshChat(id);
  if (!c) {
    notice('That chat does not exist, or you are not in it.');
    return;
  }
  const same = view?.id === id;
  closeChat();
  view = new ChatView(c, hooks);
  renderHeader(c);
  show($('no-chat'), false);
  show($('chat-pane'), true);
  document.body.classList.add('chat-open');
  renderChats();
  // The focus goes where the next keystroke belongs (a search hit takes it once shown).
  if (!focusId && !same) {
    (c.my_users.length ? $('composer-text') : $('self-join-name')).focus({ preventScroll: true });
  }
  try {
    await view.open(focusId);
  } catch (e) {
    notify(e);
    if (e instanceof ApiError && e.code === 'chat-not-found') refreshChat(id);
  }
}

async function loadMembers() {
  if (!view) return;
  const id = view.id;
  try {
    const { users } = await request('GET', `/v1/chats/${enc(id)}/users?limit=1000`);
    if (view?.id !== id) return;
    const creator = chats.get(id)?.is_creator;
    $('member-list').replaceChildren(...users.map((u) => memberItem(id, u, creator)));
  } catch (e) {
    notify(e);
  }
}

function memberItem(chatId, u, creator) {
  const item = el('li', {}, el('span', { className: 'author' }, u.user_name), u.is_mine ? ' (you)' : '');
  if (u.is_mine || creator) {
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
        notify(e);
      }
    });
    item.append(' ', button);
  }
  return item;
}

function toggle(buttonId, panelId, onOpen) {
  const button = $(buttonId);
  button.addEventListener('click', () => {
    const open = $(panelId).hidden;
    show($(panelId), open);
    button.setAttribute('aria-expanded', String(open));
    if (open) onOpen?.();
  });
}

// --- joining by invitation ---------------------------------------------------------------

function showJoin(id) {
  show($('main-view'), false);
  show($('join-view'), true);
  $('join-view').dataset.chatId = id;
  $('join-error').textContent = '';
  if (!$('join-name').value) $('join-name').value = session.userName;
  $('join-name').focus();
}

async function join(id, name, errorNode) {
  errorNode.textContent = '';
  if (!name.trim()) {
    errorNode.textContent = 'Enter the name the others will see.';
    return false;
  }
  try {
    await request('POST', `/v1/chats/${enc(id)}/users`, { body: { user_name: name } });
    await refreshChat(id);
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.code === 'chat-not-found') {
      errorNode.textContent = 'This invitation does not work: the chat does not exist, or you cannot join it.';
    } else if (e instanceof ApiError && e.code === 'bad-parameters') {
      errorNode.textContent = 'The name must be 1–255 characters.';
    } else {
      notify(e);
    }
    return false;
  }
}

// --- routing ---------------------------------------------------------------------------

function route() {
  if (!started) return;
  const [kind, id, messageId] = location.hash.slice(1).split('/');
  if (kind === 'join' && id) {
    showJoin(id);
    return;
  }
  show($('join-view'), false);
  show($('main-view'), true);
  if (kind === 'chat' && id) {
    if (view?.id !== id || messageId) openChat(id, messageId);
  } else if (view) {
    closeChat();
    renderChats();
  }
}

async function enterApp() {
  $('whoami').textContent = `Logged in as ${session.userName}`;
  show($('logout'), true);
  show($('login-view'), false);
  for (let attempt = 0; ; attempt += 1) {
    try {
      const position = await loadChats();
      started = true;
      hideNotice();
      stream.start(position);
      break;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      notify(e);
      await sleep(Math.min(1000 * 2 ** attempt, 10_000));
      if (!session.token) return;
    }
  }
  renderChats();
  route();
}

// --- wiring ----------------------------------------------------------------------------

function wire() {
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    login(false);
  });
  $('register-button').addEventListener('click', () => login(true));
  $('logout').addEventListener('click', logout);

  $('new-chat-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('new-chat-name');
    const name = input.value;
    if (!name.trim()) {
      input.focus();
      return;
    }
    try {
      const { chat_id: id } = await request('POST', '/v1/chats', { body: { chat_name: name } });
      // The creator joins under the account's name, so it can post at once.
      await request('POST', `/v1/chats/${enc(id)}/users`, { body: { user_name: session.userName } });
      await refreshChat(id);
      input.value = '';
      location.hash = `#chat/${id}`;
    } catch (e) {
      notify(e);
    }
  });

  const search = new Search({
    chatName: (id) => chats.get(id)?.chat_name ?? 'a chat',
    open: (chatId, messageId) => {
      location.hash = `#chat/${chatId}/${messageId}`;
    },
    notify,
  });
  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    search.start($('search-text').value);
  });

  $('join-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const id = $('join-view').dataset.chatId;
    if (await join(id, $('join-name').value, $('join-error'))) location.hash = `#chat/${id}`;
  });
  $('join-cancel').addEventListener('click', () => {
    location.hash = '';
  });
  $('self-join').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (view && await join(view.id, $('self-join-name').value, $('notice'))) {
      show($('notice'), false);
      $('composer-text').focus();
    }
  });

  $('back').addEventListener('click', () => {
    location.hash = '';
  });
  toggle('invite-toggle', 'invite-box', () => $('invite-link').select());
  toggle('rename-toggle', 'rename-form', () => {
    $('rename-name').value = view?.chat.chat_name ?? '';
    $('rename-name').focus();
  });
  toggle('members-toggle', 'members-panel', loadMembers);
  $('invite-copy').addEventListener('click', async () => {
    const link = $('invite-link').value;
    try {
      await navigator.clipboard.writeText(link);
      notice('Invitation link copied.', 'info');
    } catch {
      $('invite-link').select();
      notice('Copy the selected link (Ctrl+C).', 'info');
    }
  });
  $('rename-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!view) return;
    const name = $('rename-name').value;
    if (!name.trim()) return;
    try {
      const summary = await request('PATCH', `/v1/chats/${enc(view.id)}`, { body: { chat_name: name } });
      chats.set(summary.chat_id, summary);
      if (view?.id === summary.chat_id) {
        view.chat = summary;
        renderHeader(summary);
      }
      renderChats();
      show($('rename-form'), false);
      $('rename-toggle').setAttribute('aria-expanded', 'false');
      $('chat-title').focus();
    } catch (err) {
      notify(err);
    }
  });

  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const box = $('composer-text');
    const text = box.value;
    if (!text.trim() || !view) return;
    view.send(text);
    box.value = '';
  });
  $('composer-text').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('load-older').addEventListener('click', () => view?.loadOlder());
  $('messages').addEventListener('scroll', () => {
    if (view?.nearTop()) view.loadOlder();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') view?.catchUp();
  });
  window.addEventListener('hashchange', route);
}

wire();
if (session.token) {
  enterApp();
} else {
  showLogin();
}
