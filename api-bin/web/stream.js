// The event stream, read with `fetch` and a streaming body: `EventSource` cannot send the
// `Authorization` header. The Server-Sent Events format is parsed here; after a drop the
// stream is opened again with `Last-Event-ID` (the id of the last event handled), so
// the service replays what was missed: nothing lost, nothing repeated.

import { authHeaders, retryAfterOf } from './api.js';
import { sleep } from './dom.js';

/** No byte for this long (keep-alives come every 15 s): the connection is dead. */
const SILENCE_MS = 40_000;

export class EventStream {
  /**
   * `onEvent({id, type, data})` for each event (in order); `onStatus(state, detail)` with
   * `connecting`, `live`, `reconnecting`, `throttled` (detail: seconds);
   * `onUnauthorized()` when the session ended; `onOpen(resumed)` after each connect.
   */
  constructor({ onEvent, onStatus, onUnauthorized, onOpen }) {
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onUnauthorized = onUnauthorized;
    this.onOpen = onOpen ?? (() => {});
    this.lastId = null;
    this.retryMs = 2000;
    this.stopped = true;
    this.controller = null;
    this.wake = null;
    this.online = () => this.wake?.();
  }

  /** Starts following the stream after position `after` (null: from now). */
  start(after) {
    this.stop();
    this.lastId = after || null;
    this.stopped = false;
    window.addEventListener('online', this.online);
    this.run();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.online);
    this.controller?.abort();
    this.wake?.();
  }

  /** Waits `ms`, or less if the browser comes back online. */
  pause(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  async run() {
    let failures = 0;
    let opened = false;
    while (!this.stopped) {
      const controller = new AbortController();
      this.controller = controller;
      let wait = null;
      try {
        this.onStatus(opened ? 'reconnecting' : 'connecting');
        const headers = { ...authHeaders(), Accept: 'text/event-stream' };
        if (this.lastId) headers['Last-Event-ID'] = this.lastId;
        const resp = await fetch('/v1/events/stream', {
          headers, cache: 'no-store', signal: controller.signal,
        });
        if (resp.status === 401) {
          this.stopped = true;
          this.onUnauthorized();
          return;
        }
        if (resp.status === 429) {
          wait = (retryAfterOf(resp) ?? 1) * 1000;
          this.onStatus('throttled', Math.ceil(wait / 1000));
        } else if (resp.status === 400) {
          // The position is unusable: go on live from now and let the page reload.
          this.lastId = null;
          this.onEvent({ id: null, type: 'reset', data: { reason: 'bad-position' } });
        } else if (resp.ok && resp.body) {
          this.onStatus('live');
          this.onOpen(opened);
          opened = true;
          failures = 0;
          await this.read(resp.body, controller);
        }
      } catch (e) {
        // A network error or an abort: reconnect below (unless stopped).
      }
      if (this.stopped) return;
      this.onStatus('reconnecting');
      failures += 1;
      const backoff = Math.min(this.retryMs * 2 ** Math.max(0, failures - 2), 10_000);
      await this.pause(wait ?? (failures === 1 ? 300 : backoff * (0.75 + Math.random() / 2)));
    }
  }

  /** Reads frames until the body ends, the connection goes silent, or `stop`. */
  async read(body, controller) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let data = [];
    let type = '';
    let id = null;
    let timer = setTimeout(() => controller.abort(), SILENCE_MS);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        clearTimeout(timer);
        timer = setTimeout(() => controller.abort(), SILENCE_MS);
        buffer += value;
        let newline;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          let line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line.endsWith('\r')) line = line.slice(0, -1);
          if (line === '') {
            if (data.length > 0) this.dispatch(id, type || 'message', data.join('\n'));
            data = [];
            type = '';
            continue;
          }
          if (line.startsWith(':')) continue; // a keep-alive comment
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? '' : line.slice(colon + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          if (field === 'data') data.push(value);
          else if (field === 'event') type = value;
          else if (field === 'id' && !value.includes('\0')) id = value;
          else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
        }
      }
    } finally {
      clearTimeout(timer);
      reader.cancel().catch(() => {});
    }
  }

  dispatch(id, type, text) {
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      return;
    }
    this.onEvent({ id, type, data });
    // Only once handled: a drop before this point replays the event.
    if (id) this.lastId = id;
  }
}
