// The connection lifecycle (lib/connection.js): states, backoff, logged_out, pairing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Connection, backoffDelay, disconnectInfo } from '../lib/connection.js';
import { FakeSocket, FakeWorld, fakeBackend } from '../lib/fake_socket.js';
import { sleep, waitFor } from '../test-support/harness.js';

// A connection whose timers are recorded and fired by hand.
function manual({ initial = 100, max = 1000, pairPhone = '', world = new FakeWorld(), createFails = 0 } = {}) {
  const timers = [];
  const sockets = [];
  const states = [];
  const backend = fakeBackend({ world, onSocket: (s) => sockets.push(s) });
  if (createFails) {
    const create = backend.createSocket;
    let fails = createFails;
    backend.createSocket = async (o) => {
      if (fails-- > 0) throw new Error('auth files unreadable');
      return create(o);
    };
  }
  const conn = new Connection({
    backend,
    account: 'phone',
    authDir: '/nonexistent',
    pairPhone,
    reconnectInitialMs: initial,
    reconnectMaxMs: max,
    setTimer: (fn, ms) => {
      const t = { fn, ms, cleared: false };
      timers.push(t);
      return t;
    },
    clearTimer: (t) => (t.cleared = true),
  });
  conn.on('state', (s) => states.push(s));
  const fire = async () => {
    const t = timers.at(-1);
    t.fn();
    await waitFor(() => sockets.length > 0 && !sockets.at(-1).closed, 1000, 'a new socket');
  };
  return { conn, timers, sockets, states, fire, world };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('backoff', () => {
  test('doubles from the initial delay and is capped', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, 1000, 60000)), [1000, 2000, 4000, 8000, 16000, 32000, 60000]);
    assert.equal(backoffDelay(100, 300, 1000), 1000);
    assert.equal(backoffDelay(0, 300, 1000), 300);
  });

  test('reconnect delays grow to the cap and start over after a connection opened', async () => {
    const m = manual({ initial: 100, max: 500 });
    m.conn.start();
    await waitFor(() => m.sockets.length === 1, 1000, 'first socket');
    for (let i = 0; i < 5; i++) {
      m.sockets.at(-1).close(428, 'Connection Closed');
      await m.fire();
    }
    assert.deepEqual(m.timers.map((t) => t.ms), [100, 200, 400, 500, 500]);
    m.sockets.at(-1).open();
    m.sockets.at(-1).close(408, 'Connection Lost');
    assert.equal(m.timers.at(-1).ms, 100, 'reset by the open connection');
    assert.equal(m.sockets.length, 6, 'one socket per attempt');
    const seq = m.states.map((s) => s.state);
    assert.deepEqual(seq.slice(0, 4), ['connecting', 'disconnected', 'connecting', 'disconnected']);
    assert.ok(seq.includes('connected'));
    const reason = m.states.find((s) => s.state === 'disconnected').reason;
    assert.match(reason, /^428 connection closed: Connection Closed; reconnecting in 100 ms \(attempt 1\)$/);
  });

  test('a socket that cannot even be created counts as a failed attempt', async () => {
    const m = manual({ createFails: 2 });
    m.conn.start();
    await waitFor(() => m.timers.length === 1, 1000, 'retry timer');
    assert.match(m.states.at(-1).reason, /cannot start the socket: auth files unreadable/);
    m.timers.at(-1).fn();
    await waitFor(() => m.timers.length === 2, 1000, 'second retry timer');
    assert.equal(m.timers[1].ms, 200);
    await m.fire();
    assert.equal(m.sockets.length, 1);
  });

  test('restart required (515) reconnects at once', async () => {
    const m = manual();
    m.conn.start();
    await waitFor(() => m.sockets.length === 1, 1000, 'socket');
    m.sockets[0].close(515, 'Stream Errored (restart required)');
    await waitFor(() => m.sockets.length === 2, 1000, 'second socket');
    assert.equal(m.timers.length, 0, 'no backoff');
    assert.ok(!m.states.some((s) => s.state === 'disconnected'));
  });

  test('with real timers, the time between attempts follows the backoff', async () => {
    const world = new FakeWorld();
    const sockets = [];
    const starts = [];
    const conn = new Connection({
      backend: fakeBackend({ world, onSocket: (s) => sockets.push(s) }),
      account: 'phone',
      authDir: '/nonexistent',
      reconnectInitialMs: 40,
      reconnectMaxMs: 160,
    });
    conn.on('state', (s) => {
      if (s.state === 'connecting') starts.push(Date.now());
    });
    conn.on('socket', (s) => s && setImmediate(() => s.close(408, 'WebSocket Error (getaddrinfo ENOTFOUND web.whatsapp.com)')));
    conn.start();
    await waitFor(() => starts.length >= 6, 5000, '6 attempts');
    conn.stop();
    const gaps = starts.slice(1, 6).map((t, i) => t - starts[i]);
    const expected = [40, 80, 160, 160, 160];
    gaps.forEach((gap, i) => assert.ok(gap >= expected[i] - 2, `gap ${i} = ${gap} ms, expected >= ${expected[i]}`));
    // Uncapped, the five gaps would take 40+80+160+320+640 = 1240 ms.
    const total = gaps.reduce((a, b) => a + b, 0);
    assert.ok(total < 1100, `5 gaps took ${total} ms (${gaps.join(', ')}); capped they take 600`);
    const n = starts.length;
    await sleep(250);
    assert.equal(starts.length, n, 'no attempts after stop()');
  });
});

describe('states', () => {
  test('qr, then connected', async () => {
    const m = manual();
    m.conn.start();
    await waitFor(() => m.sockets.length === 1, 1000, 'socket');
    m.sockets[0].qr('2@first');
    m.sockets[0].qr('2@second');
    m.sockets[0].open();
    assert.deepEqual(m.states, [
      { state: 'connecting' },
      { state: 'qr', qr: '2@first', pairingCode: undefined },
      { state: 'qr', qr: '2@second', pairingCode: undefined },
      { state: 'connected' },
    ]);
    assert.equal(m.conn.connected, true);
  });

  test('logged_out: no more retries, and the reason says what to do', async () => {
    const m = manual();
    m.conn.start();
    await waitFor(() => m.sockets.length === 1, 1000, 'socket');
    m.sockets[0].open();
    m.sockets[0].loggedOut();
    await settle();
    const last = m.states.at(-1);
    assert.equal(last.state, 'logged_out');
    assert.match(last.reason, /401/);
    assert.match(last.reason, /wabridge pair --account phone/);
    assert.equal(m.timers.length, 0, 'no reconnect scheduled');
    await sleep(50);
    assert.equal(m.sockets.length, 1, 'no new socket');
    assert.equal(m.conn.connected, false);
  });

  test('pairing by phone number: the code is requested once per socket and shown with the QR', async () => {
    const world = new FakeWorld({ pairingCode: 'ABCD1234' });
    const m = manual({ pairPhone: '4915112345678', world });
    m.conn.start();
    await waitFor(() => m.sockets.length === 1, 1000, 'socket');
    m.sockets[0].qr('2@qr1');
    await waitFor(() => m.states.some((s) => s.pairingCode === 'ABCD1234'), 1000, 'pairing code');
    m.sockets[0].qr('2@qr2');
    assert.deepEqual(m.states.at(-1), { state: 'qr', qr: '2@qr2', pairingCode: 'ABCD1234' });
    assert.deepEqual(world.calls.filter((c) => c.method === 'requestPairingCode').map((c) => c.args), [['4915112345678']]);
    // A new socket (after a disconnect) asks again.
    m.sockets[0].close(408, 'QR refs attempts ended');
    await m.fire();
    m.sockets[1].qr('2@qr3');
    await waitFor(() => world.calls.filter((c) => c.method === 'requestPairingCode').length === 2, 1000, 'second request');
    // A linked account never asks.
    m.sockets[1].open();
    m.sockets[1].close(428, 'x');
    await m.fire();
    m.sockets[2].qr('2@qr4');
    await sleep(20);
    assert.equal(world.calls.filter((c) => c.method === 'requestPairingCode').length, 2);
  });

  test('a failed pairing code request is logged and the QR still shown', async () => {
    const world = new FakeWorld();
    world.failures.set('requestPairingCode', ['Connection Closed']);
    const warnings = [];
    const m = manual({ pairPhone: '4915112345678', world });
    m.conn.log = { warn: (w) => warnings.push(w), info() {}, error() {} };
    m.conn.start();
    await waitFor(() => m.sockets.length === 1, 1000, 'socket');
    m.sockets[0].qr('2@qr');
    await waitFor(() => warnings.length === 1, 1000, 'warning');
    assert.match(warnings[0], /pairing code .* failed: Connection Closed/);
    assert.deepEqual(m.states.at(-1), { state: 'qr', qr: '2@qr', pairingCode: undefined });
  });

  test('stop ends the socket and ignores what it says afterwards', async () => {
    const m = manual();
    m.conn.start();
    await waitFor(() => m.sockets.length === 1, 1000, 'socket');
    m.sockets[0].open();
    const n = m.states.length;
    m.conn.stop();
    assert.equal(m.sockets[0].closed, true);
    m.sockets[0].close(428, 'late');
    assert.equal(m.states.length, n);
    assert.equal(m.timers.length, 0);
  });

  test('disconnect info from Boom-like errors', () => {
    assert.deepEqual(disconnectInfo({ output: { statusCode: 428, payload: { message: 'Connection Closed' } }, message: 'x' }), { status: 428, message: 'Connection Closed' });
    assert.deepEqual(disconnectInfo(new Error('plain')), { status: undefined, message: 'plain' });
    assert.deepEqual(disconnectInfo(undefined), { status: undefined, message: '' });
  });
});

test('FakeSocket.end emits a close once', async () => {
  const s = new FakeSocket();
  const updates = [];
  s.ev.on('connection.update', (u) => updates.push(u));
  await s.end(undefined);
  await s.end(undefined);
  assert.equal(updates.length, 1);
  assert.equal(updates[0].connection, 'close');
});
