// Small DOM helpers. User data (names, texts) only ever goes in as text: `el` sets
// `textContent` and appends text nodes, never HTML.

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/**
 * A new element: `props` are properties (`className`, `type`, `disabled`, …), except
 * `attrs` (attributes, e.g. `aria-label`) and `dataset`; `children` are nodes or
 * strings (added as text).
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  const { attrs, dataset, ...rest } = props;
  Object.assign(node, rest);
  for (const [name, value] of Object.entries(attrs ?? {})) node.setAttribute(name, value);
  Object.assign(node.dataset, dataset ?? {});
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

/** Shows or hides an element. */
export function show(node, visible = true) {
  node.hidden = !visible;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateFormat = new Intl.DateTimeFormat(undefined, {
  month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
});

/** A message time as a person reads it: the time today, else date and time. */
export function shortTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const today = new Date();
  return d.toDateString() === today.toDateString() ? timeFormat.format(d) : dateFormat.format(d);
}

/** A `<time>` element for an RFC 3339 instant. */
export function timeEl(iso) {
  return el('time', { dateTime: iso, title: new Date(iso).toLocaleString() }, shortTime(iso));
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves after `ms` milliseconds, or sooner when the browser comes back online. */
export function sleepOrOnline(ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener('online', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    window.addEventListener('online', done);
  });
}

/** 128 random bits as 32 hex digits (works outside secure contexts too). */
export function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
