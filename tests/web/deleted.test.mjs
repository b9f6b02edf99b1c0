// A convention deleted while the page is open (DELETE /api/conventions/{id}): the server
// closes the page's connection with 4014 (PROTOCOL.md §15). The protocol client, in Node with a
// stand-in WebSocket: it stops for good ('fatal', 'deleted'), rejects what waited, and opens no
// new connection (no reconnection loop), where a retryable close (1013) reconnects. The
// message is in French and English.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../../web/src/client.js';
import { DICT } from '../../web/src/i18n.js';

class FakeSocket {
  static made = [];
  static OPEN = 1;
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.made.push(this);
  }
  send(data) {
    this.sent.push(data);
  }
  close() {}
}
globalThis.WebSocket = FakeSocket;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function closedWith(code) {
  FakeSocket.made = [];
  const c = new Client('ws://127.0.0.1:1/ws', 'effacee.0123456789abcdef0123456789abcdef');
  c.connect();
  const ws = FakeSocket.made[0];
  ws.readyState = FakeSocket.OPEN;
  ws.onopen();
  ws.onclose({ code, reason: '' });
  return c;
}

test('a deleted convention stops the page for good, without reconnecting', async () => {
  const c = closedWith(4014);
  assert.equal(c.status, 'fatal');
  assert.equal(c.fatal, 'deleted');
  // The shortest backoff is 0.5 s at most: nothing opens after it.
  await sleep(800);
  assert.equal(FakeSocket.made.length, 1);
  c.retryNow();
  assert.equal(FakeSocket.made.length, 1);
  c.stop();
});

test('a retryable close reconnects (the contrast)', async () => {
  const c = closedWith(1013);
  assert.equal(c.status, 'connecting');
  await sleep(800);
  assert.equal(FakeSocket.made.length, 2);
  c.stop();
});

test('the deleted page says so in French and English', () => {
  for (const key of ['fatal.deleted', 'fatal.deleted_help', 'public.deleted']) {
    const [fr, en] = DICT[key];
    assert.match(fr, /supprimée|effacées/);
    assert.ok(en.length > 10, key);
  }
});
