// The page: its state (the chats, the open chat), the event stream that keeps it current,
// routing (`#chat/<id>[/<message_id>]`, `#join/<id>`), and the wiring of the forms.
// The parts: api.js (HTTP), stream.js (events), chatlist.js, chat.js (the open chat),
// members.js, search.js, login.js, notices.js, dom.js. Built on the public API only; text
// from users is only ever set as text.

import { $, show, sleep } from './dom.js';
import { request, enc, session, whenUnauthorized, ApiError, NetworkError } from './api.js';
import { EventStream } from './stream.js';
import { ChatView } from './chat.js';
import { Search } from './search.js';
import { notify, notice, hideNotice } from './notices.js';
import { showLogin, login } from './login.js';
import { loadMembers } from './members.js';
import { loadChats, renderChats as renderList } from './chatlist.js';

const chats = new Map(); // chat_id → ChatSummary
let view = null; // the open ChatView
let started = false;


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

function renderChats() {
  renderList(chats, view?.id);
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
        if (view?.id === data.chat_id && !$('members-panel').hidden) showMembers();
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
    await loadChats(chats);
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

function showMembers() {
  if (!view) return;
  const id = view.id;
  loadMembers(id, {
    creator: chats.get(id)?.is_creator ?? false,
    current: () => view?.id === id,
    changed: async () => {
      await refreshChat(id);
      if (view?.id === id) showMembers();
    },
    notify,
  });
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
      const position = await loadChats(chats);
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
    login(false, enterApp);
  });
  $('register-button').addEventListener('click', () => login(true, enterApp));
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
  toggle('members-toggle', 'members-panel', showMembers);
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
  // Back online: the open chat fetches what it could not (the stream resumes by itself).
  window.addEventListener('online', () => view?.catchUp());
}

wire();
if (session.token) {
  enterApp();
} else {
  showLogin();
}
