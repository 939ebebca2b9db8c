// The login form: log in or register, and the reason the form is shown again (logged
// out, or the session ended). The token goes to `sessionStorage` (see api.js).

import { $, show } from './dom.js';
import { request, session, ApiError, NetworkError } from './api.js';
import { countdown } from './notices.js';

export function showLogin(reason) {
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

/**
 * Logs in (after registering, with `register`) with the form's name and password, then
 * calls `loggedIn`; says in the form what went wrong.
 */
export async function login(register, loggedIn) {
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
    await loggedIn();
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
