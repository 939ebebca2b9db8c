// The client's Server-Sent Events parser (api-bin/web/stream.js) on its own, in Node:
// frames split anywhere across chunks, CRLF line ends, comments, multi-line data, `retry`,
// and the last id remembered only once an event was handled.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventStream } from '../../api-bin/web/stream.js';

/** A body that delivers `chunks` one by one. */
function body(chunks) {
  const bytes = chunks.map((c) => new TextEncoder().encode(c));
  return new ReadableStream({
    pull(controller) {
      if (bytes.length === 0) controller.close();
      else controller.enqueue(bytes.shift());
    },
  });
}

async function parse(chunks) {
  const events = [];
  const ids = [];
  const stream = new EventStream({
    onEvent: (e) => {
      events.push(e);
      ids.push(stream.lastId);
    },
    onStatus: () => {},
    onUnauthorized: () => {},
  });
  await stream.read(body(chunks), new AbortController());
  return { events, ids, stream };
}

test('frames split across chunks are put back together', async () => {
  const text = 'retry: 2000\n\nid: p1\nevent: message.created\ndata: {"chat_id":"c1","n":1}\n\n'
    + ': keep-alive\n\nid: p2\nevent: chat.renamed\ndata: {"chat":{"chat_name":"x"}}\n\n';
  for (let size = 1; size <= text.length; size += 7) {
    const chunks = [];
    for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
    const { events, stream } = await parse(chunks);
    assert.deepEqual(events, [
      { id: 'p1', type: 'message.created', data: { chat_id: 'c1', n: 1 } },
      { id: 'p2', type: 'chat.renamed', data: { chat: { chat_name: 'x' } } },
    ], `chunks of ${size}`);
    assert.equal(stream.lastId, 'p2');
    assert.equal(stream.retryMs, 2000);
  }
});

test('CRLF line ends, data on several lines, and a frame without a type', async () => {
  const { events } = await parse(['id: a\r\ndata: {"x":\r\ndata: 1}\r\n\r\n']);
  assert.deepEqual(events, [{ id: 'a', type: 'message', data: { x: 1 } }]);
});

test('the last id moves only after its event was handled, and a cut frame is not an event', async () => {
  const { events, ids, stream } = await parse(['id: one\nevent: t\ndata: {}\n\nid: two\nevent: t\ndata: {']);
  assert.equal(events.length, 1);
  assert.deepEqual(ids, [null], 'during the handler the last id is still the one before');
  assert.equal(stream.lastId, 'one', 'a reconnect resumes after the last whole event');
});

test('a frame whose data is not JSON is skipped', async () => {
  const { events, stream } = await parse(['id: bad\nevent: t\ndata: nope\n\nid: good\nevent: t\ndata: 1\n\n']);
  assert.deepEqual(events, [{ id: 'good', type: 't', data: 1 }]);
  assert.equal(stream.lastId, 'good');
});
