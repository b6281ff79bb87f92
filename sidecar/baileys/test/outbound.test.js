// Outbound ops → Baileys socket calls (lib/outbound.js) on the fake socket.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import { Outbound, inferMediaType, mediaContent } from '../lib/outbound.js';
import { BoundedMap } from '../lib/serial_queue.js';
import { FakeSocket, FakeWorld, inProcessSidecar, openSocket, tempDir, waitFor } from '../test-support/harness.js';

const CHAT = '4915112345678@s.whatsapp.net';
const GROUP = '5511987654321-1612345678@g.us';

function setup({ connected = true, world = new FakeWorld(), timeoutMs } = {}) {
  const sock = new FakeSocket(world);
  const messages = new BoundedMap(100);
  const names = new BoundedMap(100);
  const sent = [];
  const ob = new Outbound({
    getSocket: () => sock,
    isConnected: () => connected,
    stateText: () => (connected ? 'connected' : 'disconnected'),
    messages,
    names,
    onSent: (m) => sent.push(m),
    timeoutMs,
  });
  return { ob, sock, world, messages, names, sent };
}

const call = (world, i = -1) => world.calls.at(i);

describe('ops', () => {
  test('send: text, the bridge\'s message id, a reply', async () => {
    const { ob, world, messages, sent } = setup();
    const r = await ob.run({ op: 'send', id: 'o1.0.a1', messageId: '3EB0AAAA', args: { chatId: CHAT, message: 'hello' } });
    assert.deepEqual(r, { ok: true, messageIds: ['3EB0AAAA'] });
    assert.deepEqual(call(world).args, [CHAT, { text: 'hello' }, { messageId: '3EB0AAAA' }]);
    assert.equal(sent.length, 1);

    messages.set('Q1', { key: { remoteJid: CHAT, id: 'Q1', fromMe: false }, message: { conversation: 'quoted text' } });
    await ob.run({ op: 'send', id: 'o2', messageId: '3EB0BBBB', args: { chatId: CHAT, message: 're', replyTo: 'Q1' } });
    assert.deepEqual(call(world).args[2].quoted, { key: { remoteJid: CHAT, id: 'Q1', fromMe: false }, message: { conversation: 'quoted text' } });
    await ob.run({ op: 'send', id: 'o3', messageId: '3EB0CCCC', args: { chatId: CHAT, message: 're', replyTo: 'UNSEEN' } });
    assert.deepEqual(call(world).args[2].quoted.key, { remoteJid: CHAT, id: 'UNSEEN', fromMe: false }, 'a stand-in for a message never seen');
  });

  test('send without a message id lets Baileys choose one', async () => {
    const { ob, world } = setup();
    const r = await ob.run({ op: 'send', id: 'd', messageId: '', args: { chatId: CHAT, message: 'x' } });
    assert.equal(r.ok, true);
    assert.match(r.messageIds[0], /^FAKE/);
    assert.deepEqual(call(world).args[2], {});
  });

  test('edit', async () => {
    const { ob, world } = setup();
    const r = await ob.run({ op: 'edit', id: 'e', messageId: '3EB0EDIT', args: { chatId: CHAT, messageId: '3EB0ORIG', message: 'fixed' } });
    assert.deepEqual(r, { ok: true, messageIds: ['3EB0EDIT'] });
    assert.deepEqual(call(world).args[1], { text: 'fixed', edit: { remoteJid: CHAT, id: '3EB0ORIG', fromMe: true } });
  });

  test('send-media for each media type', async () => {
    const dir = tempDir();
    const file = (name) => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, 'data');
      return p;
    };
    const { ob, world } = setup();
    const cases = [
      [{ filePath: file('a.jpg'), mediaType: 'image', fileName: 'a.jpg', caption: 'cap' }, { image: { url: path.join(dir, 'a.jpg') }, caption: 'cap', mimetype: 'image/jpeg' }],
      [{ filePath: file('b.mp4'), mediaType: 'video', fileName: 'b.mp4' }, { video: { url: path.join(dir, 'b.mp4') }, mimetype: 'video/mp4' }],
      [{ filePath: file('c.ogg'), mediaType: 'audio', fileName: 'c.ogg' }, { audio: { url: path.join(dir, 'c.ogg') }, mimetype: 'audio/ogg; codecs=opus', ptt: true }],
      [{ filePath: file('d.mp3'), mediaType: 'audio', fileName: 'd.mp3' }, { audio: { url: path.join(dir, 'd.mp3') }, mimetype: 'audio/mpeg', ptt: false }],
      [{ filePath: file('e.pdf'), mediaType: 'document', fileName: 'Report.pdf', caption: 'see' }, { document: { url: path.join(dir, 'e.pdf') }, mimetype: 'application/pdf', fileName: 'Report.pdf', caption: 'see' }],
      [{ filePath: file('f.webp'), mediaType: 'sticker', fileName: 'f.webp' }, { sticker: { url: path.join(dir, 'f.webp') }, mimetype: 'image/webp' }],
    ];
    for (const [args, content] of cases) {
      const r = await ob.run({ op: 'send-media', id: 'm', messageId: '3EB0MEDIA', args: { chatId: CHAT, ...args } });
      assert.deepEqual(r, { ok: true, messageIds: ['3EB0MEDIA'] }, args.filePath);
      assert.deepEqual(JSON.parse(JSON.stringify(call(world).args[1])), content, args.filePath);
    }
    const missing = await ob.run({ op: 'send-media', id: 'm2', messageId: '3EB0X', args: { chatId: CHAT, filePath: path.join(dir, 'nope.jpg'), mediaType: 'image' } });
    assert.equal(missing.ok, false);
    assert.match(missing.error, /file not found/);
    assert.equal(inferMediaType('MOV'), 'video');
    assert.equal((await mediaContent({ filePath: file('g.xyz') })).mimetype, 'application/octet-stream');
  });

  test('send-poll and send-location', async () => {
    const { ob, world } = setup();
    assert.deepEqual(
      await ob.run({ op: 'send-poll', id: 'p', messageId: '3EB0POLL', args: { chatId: GROUP, question: 'Lunch?', options: ['Pizza', 'Sushi'], selectableCount: 1 } }),
      { ok: true, messageIds: ['3EB0POLL'] },
    );
    assert.deepEqual(call(world).args[1], { poll: { name: 'Lunch?', values: ['Pizza', 'Sushi'], selectableCount: 1 } });
    await ob.run({ op: 'send-location', id: 'l', messageId: '3EB0LOC', args: { chatId: CHAT, latitude: 52.52, longitude: 13.405, name: 'TV tower' } });
    assert.deepEqual(call(world).args[1], { location: { degreesLatitude: 52.52, degreesLongitude: 13.405, name: 'TV tower' } });
  });

  test('react, and "" removes a reaction', async () => {
    const { ob, world } = setup();
    await ob.run({ op: 'react', id: 'r', messageId: '3EB0R1', args: { chatId: GROUP, messageId: 'TARGET', emoji: '👍', participant: '4915112345678@s.whatsapp.net' } });
    assert.deepEqual(call(world).args[1], { react: { text: '👍', key: { remoteJid: GROUP, id: 'TARGET', fromMe: false, participant: '4915112345678@s.whatsapp.net' } } });
    assert.deepEqual(call(world).args[2], { messageId: '3EB0R1' });
    await ob.run({ op: 'react', id: 'r2', messageId: '3EB0R2', args: { chatId: CHAT, messageId: 'MINE', emoji: '', fromMe: true } });
    assert.deepEqual(call(world).args[1], { react: { text: '', key: { remoteJid: CHAT, id: 'MINE', fromMe: true } } });
  });

  test('typing, read and chat', async () => {
    const world = new FakeWorld();
    world.groups.set(GROUP, { id: GROUP, subject: 'Book club 📚', participants: [{ id: 'a@s.whatsapp.net' }, { id: 'b@lid' }] });
    const { ob, names } = setup({ world });
    assert.deepEqual(await ob.run({ op: 'typing', id: 't', args: { chatId: CHAT, presence: 'recording' } }), { ok: true });
    assert.deepEqual(call(world).args, ['recording', CHAT]);
    assert.deepEqual(await ob.run({ op: 'read', id: 'rd', args: { key: { remoteJid: GROUP, id: 'M1', participant: 'a@s.whatsapp.net', fromMe: false } } }), {
      ok: true,
      data: { marked: true },
    });
    assert.deepEqual(call(world).args, [[{ remoteJid: GROUP, id: 'M1', fromMe: false, participant: 'a@s.whatsapp.net' }]]);
    assert.deepEqual(await ob.run({ op: 'chat', id: 'c', args: { chatId: GROUP } }), {
      ok: true,
      data: { name: 'Book club 📚', isGroup: true, participants: ['a@s.whatsapp.net', 'b@lid'] },
    });
    names.set(CHAT, 'Björn');
    assert.deepEqual(await ob.run({ op: 'chat', id: 'c2', args: { chatId: CHAT } }), { ok: true, data: { name: 'Björn', isGroup: false, participants: [] } });
    const unknown = await ob.run({ op: 'chat', id: 'c3', args: { chatId: '999@g.us' } });
    assert.equal(unknown.ok, false, 'the worker then answers its fallback');
  });

  test('unsupported op, missing args, not connected, a failing send', async () => {
    const { ob, world } = setup();
    assert.deepEqual(await ob.run({ op: 'teleport', id: 'x', args: {} }), { ok: false, error: 'unsupported op' });
    const missing = await ob.run({ op: 'send', id: 'x', args: { message: 'no chat' } });
    assert.equal(missing.ok, false);
    assert.match(missing.error, /chatId is required/);
    world.failures.set('sendMessage', ['rate-overlimit']);
    const failed = await ob.run({ op: 'send', id: 'x', messageId: '3EB0F', args: { chatId: CHAT, message: 'm' } });
    assert.deepEqual(failed, { ok: false, error: 'rate-overlimit' });
    const off = setup({ connected: false });
    const r = await off.ob.run({ op: 'send', id: 'x', messageId: '3EB0N', args: { chatId: CHAT, message: 'm' } });
    assert.equal(r.ok, false);
    assert.match(r.error, /not connected to WhatsApp \(state: disconnected\)/);
    assert.equal(off.world.calls.length, 0, 'nothing reached the socket');
  });

  test('a send that never returns times out and frees the queue', async () => {
    const world = new FakeWorld();
    world.delays.set('sendMessage', 300);
    const { ob } = setup({ world, timeoutMs: 50 });
    const r = await ob.run({ op: 'send', id: 'x', messageId: '3EB0T', args: { chatId: CHAT, message: 'slow' } });
    assert.equal(r.ok, false);
    assert.match(r.error, /timed out/);
  });
});

describe('serialization', () => {
  test('a second send waits for the first to finish; typing does not wait', async () => {
    const world = new FakeWorld();
    world.delays.set('sendMessage', 120);
    const { ob } = setup({ world });
    const a = ob.run({ op: 'send', id: 'a', messageId: 'A', args: { chatId: CHAT, message: 'first' } });
    const b = ob.run({ op: 'send-location', id: 'b', messageId: 'B', args: { chatId: CHAT, latitude: 1, longitude: 2 } });
    const t = ob.run({ op: 'typing', id: 't', args: { chatId: CHAT } });
    const results = await Promise.all([a, b, t]);
    assert.ok(results.every((r) => r.ok));
    const sends = world.calls.filter((c) => c.method === 'sendMessage');
    assert.equal(sends.length, 2);
    assert.equal(sends[0].args[1].text, 'first', 'in arrival order');
    assert.ok(sends[1].start >= sends[0].end, `second started ${sends[1].start} before the first ended ${sends[0].end}`);
    const typing = world.calls.find((c) => c.method === 'sendPresenceUpdate');
    assert.ok(typing.start < sends[0].end, 'typing ran while the first send was on the wire');
  });

  test('a failed send does not stop the next', async () => {
    const world = new FakeWorld();
    world.failures.set('sendMessage', ['boom']);
    const { ob } = setup({ world });
    const [a, b] = await Promise.all([
      ob.run({ op: 'send', id: 'a', messageId: 'A', args: { chatId: CHAT, message: '1' } }),
      ob.run({ op: 'send', id: 'b', messageId: 'B', args: { chatId: CHAT, message: '2' } }),
    ]);
    assert.equal(a.ok, false);
    assert.deepEqual(b, { ok: true, messageIds: ['B'] });
  });
});

describe('through the sidecar', () => {
  test('send lines get send_result lines; sends are serialized; our sends are not echoed in self-chat', async () => {
    const world = new FakeWorld();
    world.delays.set('sendMessage', 60);
    const h = inProcessSidecar({ world, settings: { mode: 'self-chat' } });
    h.line({ type: 'send', id: 'early', op: 'send', messageId: '3EB0E', args: { chatId: CHAT, message: 'too early' } });
    await waitFor(() => h.out.find((m) => m.type === 'send_result' && m.id === 'early'), 2000, 'early result');
    assert.match(h.out.find((m) => m.id === 'early').error, /not connected/);
    const sock = await openSocket(h);
    const self = '15550000001@s.whatsapp.net';
    for (const id of ['s1', 's2', 's3']) h.line({ type: 'send', id, op: 'send', messageId: `3EB0${id}`, args: { chatId: self, message: id } });
    h.line({ type: 'send', id: 'u', op: 'nonsense', args: {} });
    h.line({ type: 'send', id: 'bad', op: 'send', args: [] });
    await waitFor(() => h.out.filter((m) => m.type === 'send_result').length === 6, 3000, '6 results');
    const results = Object.fromEntries(h.out.filter((m) => m.type === 'send_result').map((m) => [m.id, m]));
    assert.deepEqual(results.s2, { type: 'send_result', id: 's2', ok: true, messageIds: ['3EB0s2'] });
    assert.deepEqual(results.u, { type: 'send_result', id: 'u', ok: false, messageIds: [], error: 'unsupported op' });
    assert.equal(results.bad.ok, false);
    const sends = world.calls.filter((c) => c.method === 'sendMessage');
    for (let i = 1; i < sends.length; i++) assert.ok(sends[i].start >= sends[i - 1].end, 'one at a time');
    // WhatsApp may show our own message in the self chat: it is not an event.
    sock.deliver([{ key: { remoteJid: self, fromMe: true, id: '3EB0s1' }, messageTimestamp: 1717171717, message: { conversation: 's1' } }]);
    sock.deliver([{ key: { remoteJid: self, fromMe: true, id: 'TYPED' }, messageTimestamp: 1717171717, message: { conversation: 'typed by me' } }]);
    await waitFor(() => h.events().length === 1, 2000, 'one event');
    await h.sidecar.inbound.idle();
    assert.deepEqual(h.events().map((e) => e.event.messageId), ['TYPED']);
  });
});
