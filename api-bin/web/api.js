// The public HTTP API: one `request` that adds the session, parses the JSON answer and
// turns every failure into an `ApiError` (the contract's `{"message": code}` with the
// status and `Retry-After`) or a `NetworkError` (no answer at all).

const TOKEN_KEY = 'messenger.session';
const NAME_KEY = 'messenger.user';

/** An error answer of the API. */
export class ApiError extends Error {
  constructor(status, code, retryAfter) {
    super(`${status} ${code}`);
    this.status = status;
    this.code = code;
    /** Seconds to wait (429, and 503 when the service says so), else null. */
    this.retryAfter = retryAfter;
  }
}

/** No answer: the network or the server is down. */
export class NetworkError extends Error {
  constructor(cause) {
    super('network error');
    this.cause = cause;
  }
}

/** Worth trying again later with the same request: no answer, 429, or 5xx. */
export function isTransient(e) {
  return e instanceof NetworkError || (e instanceof ApiError && (e.status === 429 || e.status >= 500));
}

/**
 * The session: its token lives in `sessionStorage` (this tab only, gone when the tab
 * closes, never sent by the browser on its own: no cookie, so no CSRF).
 */
export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  get userName() { return sessionStorage.getItem(NAME_KEY) ?? ''; },
  start(token, userName) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(NAME_KEY, userName);
  },
  end() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(NAME_KEY);
  },
};

let onUnauthorized = () => {};

/** Called with the error when an authenticated request answers 401 (the session ended). */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/** The `Authorization` header of the session, if any. */
export function authHeaders() {
  const token = session.token;
  return token ? { Authorization: `session_id ${token}` } : {};
}

/** `Retry-After` in whole seconds, or null. */
export function retryAfterOf(resp) {
  const value = Number.parseInt(resp.headers.get('Retry-After') ?? '', 10);
  return Number.isFinite(value) && value >= 0 ? value : null;
}

/**
 * Calls the API. `body` (an object) is sent as JSON; `headers` are added. Resolves to
 * the parsed answer (null for an empty one).
 */
export async function request(method, path, { body, headers = {}, signal } = {}) {
  const init = {
    method,
    headers: { ...authHeaders(), ...headers },
    cache: 'no-store',
    signal,
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  let text;
  try {
    resp = await fetch(path, init);
    text = await resp.text();
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new NetworkError(e);
  }
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    const code = data && typeof data.message === 'string' ? data.message : `http-${resp.status}`;
    const error = new ApiError(resp.status, code, retryAfterOf(resp));
    if (resp.status === 401 && init.headers.Authorization) onUnauthorized(error);
    throw error;
  }
  return data;
}

/** `encodeURIComponent` for ids and cursors in paths and queries. */
export const enc = encodeURIComponent;
