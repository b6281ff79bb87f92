// index.js as a real child process, driven by the fake socket
// (WABRIDGE_SIDECAR_FAKE_SOCKET): the protocol as the worker sees it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { readSpool } from '../lib/pending_store.js';
import { appendCues, deadline, fixture, killAll, readJsonLines, sleep, spawnSidecar, tempDir, waitFor, writeCues } from '../test-support/harness.js';

after(killAll);
const LIMIT = { timeout: 30000 };

const OPEN = { cue: 'open', user: { id: '15550000001:7@s.whatsapp.net', lid: '100000000000001:7@lid', name: 'Bridge' } };
const EVERYBODY = { mode: 'bot', allowedUsers: ['*'], reconnectInitialMs: 50, reconnectMaxMs: 200 };

function account() {
  const root = tempDir();
  return { root, stateDir: path.join(root, 'accounts/main/baileys'), mediaDir: path.join(root, 'accounts/main/media') };
}

function start(acc, cues, { settings = EVERYBODY, env = {} } = {}) {
  const cueFile = path.join(acc.root, `cues-${Date.now()}-${Math.random().toString(36).slice(2)}.jsonl`);
  writeCues(cueFile, cues);
  const p = spawnSidecar({ stateDir: acc.stateDir, mediaDir: acc.mediaDir, settings, env: { WABRIDGE_SIDECAR_FAKE_SOCKET: cueFile, ...env } });
  p.cueFile = cueFile;
  return p;
}

async function exitOf(p, ms = 3000) {
  const t0 = Date.now();
  const result = await Promise.race([p.exit, deadline(ms)]);
  if (!result) {
    p.child.kill('SIGKILL');
    throw new Error(`no exit within ${ms} ms; stderr:\n${p.stderr()}`);
  }
  return { ...result, ms: Date.now() - t0 };
}

const withoutOrigin = (events) => events.map((e) => ({ uid: e.uid, event: e.event }));

describe('the spool across restarts', LIMIT, () => {
  test('unconfirmed events are kept on EOF, redelivered as offline first, and gone once confirmed', async () => {
    const acc = account();
    const first = start(acc, [
      { cue: 'media', messageId: '3EB0IMAGE00000000001', text: 'JPEGDATA' },
      OPEN,
      { cue: 'message', msg: fixture('dm_text') },
      { cue: 'message', msg: fixture('image') },
      { cue: 'message', msg: fixture('group_quote_mentions') },
    ]);
    await waitFor(() => first.events().length === 3, 5000, '3 live events');
    assert.equal(first.out[0].type, 'hello');
    assert.equal(first.out[0].upstream, 'baileys');
    assert.equal(first.out[0].protocol, 1);
    assert.deepEqual(first.events().map((e) => e.origin), ['live', 'live', 'live']);
    const image = first.events()[1].event;
    assert.equal(image.hasMedia, true);
    assert.equal(image.mediaUrls.length, 1);
    assert.ok(image.mediaUrls[0].startsWith(acc.mediaDir + path.sep));
    assert.equal(fs.readFileSync(image.mediaUrls[0], 'utf8'), 'JPEGDATA');
    // The worker confirms the first only, then goes away.
    first.write({ type: 'confirm', uids: [first.events()[0].uid] });
    await sleep(100);
    first.end();
    const ex = await exitOf(first);
    assert.equal(ex.code, 0, first.stderr());
    assert.ok(ex.ms < 2000, `exited ${ex.ms} ms after EOF`);
    assert.deepEqual(readSpool(acc.stateDir).map((e) => e.uid), first.events().slice(1).map((e) => e.uid));

    // Next start: the two unconfirmed come back, offline, before anything new.
    const second = start(acc, [OPEN, { cue: 'message', delayMs: 200, msg: fixture('poll') }]);
    await waitFor(() => second.events().length === 3, 5000, '2 redelivered + 1 new');
    const ev = second.events();
    assert.deepEqual(ev.map((e) => e.origin), ['offline', 'offline', 'live']);
    assert.deepEqual(withoutOrigin(ev.slice(0, 2)), withoutOrigin(first.events().slice(1)), 'byte-identical events, same uids');
    second.write({ type: 'confirm', uids: ev.map((e) => e.uid) });
    await waitFor(() => readSpool(acc.stateDir).length === 0, 3000, 'spool empty');
    second.end();
    assert.equal((await exitOf(second)).code, 0);

    // And once confirmed, nothing comes back.
    const third = start(acc, [OPEN]);
    await waitFor(() => third.states().some((s) => s.state === 'connected'), 5000, 'connected');
    await sleep(300);
    assert.deepEqual(third.events(), []);
    third.end();
    assert.equal((await exitOf(third)).code, 0);
  });

  test('kill -9 of the sidecar loses nothing it has emitted (write-ahead spool)', async () => {
    const acc = account();
    const first = start(acc, [OPEN, { cue: 'message', msg: fixture('dm_text') }, { cue: 'message', msg: fixture('location') }]);
    await waitFor(() => first.events().length === 2, 5000, '2 events');
    first.child.kill('SIGKILL');
    await first.exit;
    const second = start(acc, [OPEN]);
    await waitFor(() => second.events().length === 2, 5000, 'redelivery');
    assert.deepEqual(second.events().map((e) => e.origin), ['offline', 'offline']);
    assert.deepEqual(withoutOrigin(second.events()), withoutOrigin(first.events()));
    second.end();
    await exitOf(second);
  });

  test('messages taken but not yet made into events are made at the next start', async () => {
    const acc = account();
    // Baileys holds these back (as during a sync); the worker leaves before
    // they are released: the release on shutdown puts them in the spool.
    const first = start(acc, [OPEN, { cue: 'hold', messages: [fixture('dm_text'), fixture('contacts')] }]);
    await waitFor(() => first.states().some((s) => s.state === 'connected'), 5000, 'connected');
    await sleep(200);
    first.end();
    assert.equal((await exitOf(first)).code, 0);
    assert.deepEqual(first.events(), []);
    const spooled = readSpool(acc.stateDir);
    assert.deepEqual(spooled.map((e) => [Boolean(e.raw), Boolean(e.event)]), [[true, false], [true, false]]);

    const second = start(acc, [OPEN]);
    await waitFor(() => second.events().length === 2, 5000, '2 events made from the raw messages');
    assert.deepEqual(second.events().map((e) => [e.origin, e.event.body]), [
      ['offline', 'see you at 5 "sharp" <b>&</b> 🎉'],
      ['offline', '[Contacts: Ada Lovelace, Alan Turing]'],
    ]);
    second.write({ type: 'confirm', uids: second.events().map((e) => e.uid) });
    await waitFor(() => readSpool(acc.stateDir).length === 0, 3000, 'confirmed');
    second.end();
    await exitOf(second);
  });

  test('SIGTERM keeps the unconfirmed events and exits 0', async () => {
    const acc = account();
    const p = start(acc, [OPEN, { cue: 'message', msg: fixture('contact') }]);
    await waitFor(() => p.events().length === 1, 5000, 'event');
    p.child.kill('SIGTERM');
    const ex = await exitOf(p);
    assert.equal(ex.code, 0);
    assert.equal(readSpool(acc.stateDir).length, 1);
    assert.match(p.stderr(), /exiting \(SIGTERM\): 1 unconfirmed event/);
  });
});

describe('stop and EOF', LIMIT, () => {
  test('stop: no new events, state stopped, stdout closed, stdin still read until EOF, then exit 0', async () => {
    const acc = account();
    const p = start(acc, [OPEN, { cue: 'message', msg: fixture('dm_text') }]);
    await waitFor(() => p.events().length === 1, 5000, 'event');
    const uid = p.events()[0].uid;
    p.write({ type: 'stop' });
    await waitFor(() => p.stdoutEnded(), 3000, 'stdout EOF');
    assert.equal(p.out.at(-1).type, 'state');
    assert.equal(p.out.at(-1).state, 'stopped');
    assert.equal(p.child.exitCode, null, 'still running after stop');
    // A message arriving now is not emitted (the socket is ended anyway), and
    // the final confirm is still taken.
    appendCues(p.cueFile, [{ cue: 'message', msg: fixture('poll') }]);
    p.write({ type: 'confirm', uids: [uid] });
    await waitFor(() => readSpool(acc.stateDir).length === 0, 3000, 'confirm taken after stop');
    p.end();
    const ex = await exitOf(p);
    assert.equal(ex.code, 0, p.stderr());
    assert.equal(p.events().length, 1);
    assert.deepEqual(p.bad, [], 'stdout held protocol lines only');
  });

  test('stop followed at once by EOF exits promptly', async () => {
    const acc = account();
    const p = start(acc, [OPEN, { cue: 'message', msg: fixture('dm_text') }]);
    await waitFor(() => p.events().length === 1, 5000, 'event');
    p.write({ type: 'stop' });
    p.end();
    const ex = await exitOf(p);
    assert.equal(ex.code, 0);
    assert.ok(ex.ms < 1500, `${ex.ms} ms`);
    assert.equal(readSpool(acc.stateDir).length, 1, 'unconfirmed: kept for the next start');
  });

  test('stdin is read while nobody reads stdout; EOF still ends the process', async () => {
    const acc = account();
    const big = fixture('dm_text');
    big.message.conversation = 'x'.repeat(200000);
    const cues = [OPEN];
    for (let i = 0; i < 20; i++) {
      const m = structuredClone(big);
      m.key.id = `BIG${i}`;
      cues.push({ cue: 'message', msg: m });
    }
    const p = start(acc, cues);
    await waitFor(() => p.states().some((s) => s.state === 'connected'), 5000, 'connected');
    p.child.stdout.pause(); // the worker stops reading (its journal is behind)
    await waitFor(() => readSpool(acc.stateDir).length === 20, 5000, 'all 20 taken into the spool');
    p.end();
    const ex = await exitOf(p);
    assert.equal(ex.code, 0);
    assert.equal(readSpool(acc.stateDir).length, 20);
  });
});

describe('lifecycle and outbound through the process', LIMIT, () => {
  test('pairing: QR payload and pairing code in state lines', async () => {
    const acc = account();
    const log = path.join(acc.root, 'calls.jsonl');
    const p = start(acc, [{ cue: 'pairing_code', code: 'WABR1234' }, { cue: 'qr', qr: '2@AbC,xyz,123' }, { cue: 'qr', delayMs: 100, qr: '2@next' }, OPEN], {
      settings: { ...EVERYBODY, pairPhone: '4915112345678' },
      env: { WABRIDGE_SIDECAR_FAKE_LOG: log },
    });
    await waitFor(() => p.states().some((s) => s.state === 'connected'), 5000, 'connected');
    const qrs = p.states().filter((s) => s.state === 'qr');
    assert.equal(qrs[0].qr, '2@AbC,xyz,123');
    assert.ok(qrs.some((s) => s.pairingCode === 'WABR1234' && s.qr), JSON.stringify(qrs));
    assert.equal(qrs.at(-1).qr, '2@next');
    assert.deepEqual(readJsonLines(log).filter((c) => c.method === 'requestPairingCode').map((c) => c.args), [['4915112345678']]);
    p.end();
    assert.equal((await exitOf(p)).code, 0);
  });

  test('disconnects are retried in the same process; logged_out stops retrying', async () => {
    const acc = account();
    const p = start(acc, [
      { cue: 'close', status: 428, message: 'Connection Closed' },
      { cue: 'close', status: 408, message: 'WebSocket Error (getaddrinfo ENOTFOUND web.whatsapp.com)' },
      OPEN,
      { cue: 'logged_out', delayMs: 50 },
    ]);
    await waitFor(() => p.states().some((s) => s.state === 'logged_out'), 5000, 'logged_out');
    const seq = p.states().map((s) => s.state);
    assert.deepEqual(seq, ['connecting', 'disconnected', 'connecting', 'disconnected', 'connecting', 'connected', 'logged_out']);
    const reasons = p.states().filter((s) => s.reason).map((s) => s.reason);
    assert.match(reasons[0], /^428 connection closed: Connection Closed; reconnecting in 50 ms/);
    assert.match(reasons[1], /^408 .*ENOTFOUND.*; reconnecting in 100 ms/);
    assert.match(reasons[2], /wabridge pair --account main/);
    await sleep(400);
    assert.equal(p.states().at(-1).state, 'logged_out', 'no reconnect after logged_out');
    assert.equal(p.child.exitCode, null, 'it stays up (confirms still work) until EOF');
    p.end();
    assert.equal((await exitOf(p)).code, 0);
  });

  test('send lines become Baileys calls, one at a time, each answered', async () => {
    const acc = account();
    const log = path.join(acc.root, 'calls.jsonl');
    const p = start(acc, [{ cue: 'delay', method: 'sendMessage', ms: 80 }, { cue: 'group', id: '123-456@g.us', subject: 'Team', participants: ['a@s.whatsapp.net'] }, OPEN], {
      env: { WABRIDGE_SIDECAR_FAKE_LOG: log },
    });
    await waitFor(() => p.states().some((s) => s.state === 'connected'), 5000, 'connected');
    const chat = '4915112345678@s.whatsapp.net';
    p.write({ type: 'send', id: 'o1.0.a1', op: 'send', messageId: '3EB0000000000000000000A1', args: { chatId: chat, message: 'one' } });
    p.write({ type: 'send', id: 'o1.1.a1', op: 'send', messageId: '3EB0000000000000000000A2', args: { chatId: chat, message: 'two' } });
    p.write({ type: 'send', id: 'd1', op: 'chat', args: { chatId: '123-456@g.us' } });
    p.write({ type: 'send', id: 'd2', op: 'typing', args: { chatId: chat, presence: 'composing' } });
    p.write({ type: 'send', id: 'd3', op: 'sing', args: {} });
    p.write('this is not json');
    await waitFor(() => p.out.filter((m) => m.type === 'send_result').length === 5, 5000, '5 results');
    const r = Object.fromEntries(p.out.filter((m) => m.type === 'send_result').map((m) => [m.id, m]));
    assert.deepEqual(r['o1.0.a1'].messageIds, ['3EB0000000000000000000A1']);
    assert.deepEqual(r['o1.1.a1'].messageIds, ['3EB0000000000000000000A2']);
    assert.deepEqual(r.d1.data, { name: 'Team', isGroup: true, participants: ['a@s.whatsapp.net'] });
    assert.equal(r.d2.ok, true);
    assert.deepEqual([r.d3.ok, r.d3.error], [false, 'unsupported op']);
    assert.ok(p.out.some((m) => m.type === 'log' && m.level === 'warn' && /not valid JSON/.test(m.msg)), 'malformed line logged and skipped');
    const sends = readJsonLines(log).filter((c) => c.method === 'sendMessage');
    assert.deepEqual(sends.map((c) => c.args[2].messageId), ['3EB0000000000000000000A1', '3EB0000000000000000000A2']);
    assert.ok(sends[1].start >= sends[0].end, 'the second send waited for the first');
    p.end();
    assert.equal((await exitOf(p)).code, 0);
  });

  test('a JS module can make the sockets', async () => {
    const acc = account();
    const mod = path.join(acc.root, 'socket.mjs');
    fs.writeFileSync(
      mod,
      `export function createSocket({ FakeSocket, world }) {
         const sock = new FakeSocket(world);
         setTimeout(() => {
           sock.open({ id: '1555:1@s.whatsapp.net' });
           sock.deliver([{ key: { remoteJid: '4477@s.whatsapp.net', id: 'M1', fromMe: false }, messageTimestamp: 1717171717, message: { conversation: 'from a module' } }]);
         }, 10);
         return sock;
       }\n`,
    );
    const p = spawnSidecar({ stateDir: acc.stateDir, mediaDir: acc.mediaDir, settings: EVERYBODY, env: { WABRIDGE_SIDECAR_FAKE_SOCKET: mod } });
    await waitFor(() => p.events().length === 1, 5000, 'event');
    assert.equal(p.events()[0].event.body, 'from a module');
    assert.deepEqual(p.events()[0].event.botIds, ['1555@s.whatsapp.net']);
    p.end();
    assert.equal((await exitOf(p)).code, 0);
  });

  test('bad arguments: hello, a disconnected state with the reason, exit 2', async () => {
    const acc = account();
    const p = start(acc, [OPEN], { settings: { mode: 'broadcast' } });
    const ex = await exitOf(p);
    assert.equal(ex.code, 2);
    assert.equal(p.out[0].type, 'hello');
    assert.equal(p.out[1].state, 'disconnected');
    assert.match(p.out[1].reason, /settings.mode/);
  });
});
