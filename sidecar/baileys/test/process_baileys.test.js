// index.js with the real Baileys (no fake socket). This machine has no route
// to WhatsApp, so the sidecar must report the failure and keep retrying by
// itself, with its backoff, in the same process.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import { SIDECAR_DIR, deadline, killAll, spawnSidecar, tempDir, waitFor } from '../test-support/harness.js';

after(killAll);

test('a spooled Baileys message comes back as one Baileys can use (bytes, enums, Longs)', async () => {
  const { loadBaileysBackend } = await import('../lib/backend_baileys.js');
  const { storableMessage, mapMessage } = await import('../lib/event_mapper.js');
  const { proto } = await import('@whiskeysockets/baileys');
  const backend = await loadBaileysBackend({ logLevel: 'silent' });
  assert.equal(backend.version, '7.0.0-rc14');
  const message = proto.Message.decode(
    proto.Message.encode({
      imageMessage: {
        caption: 'cap',
        mimetype: 'image/jpeg',
        mediaKey: Buffer.from([1, 2, 3, 4]),
        contextInfo: { stanzaId: 'Q1', participant: '447700900123@s.whatsapp.net', quotedMessage: { conversation: 'orig' }, mentionedJid: ['447700900123@s.whatsapp.net'] },
      },
    }).finish(),
  );
  const info = proto.WebMessageInfo.decode(proto.WebMessageInfo.encode({ key: { id: 'X' }, messageTimestamp: 1717171717 }).finish());
  const msg = { key: { remoteJid: '4915112345678@s.whatsapp.net', id: '3EB0X', fromMe: false }, messageTimestamp: info.messageTimestamp, pushName: 'B', message };
  const stored = JSON.parse(JSON.stringify(storableMessage(msg)));
  const back = backend.reviveMessage(stored);
  assert.ok(Buffer.isBuffer(back.message.imageMessage.mediaKey) || back.message.imageMessage.mediaKey instanceof Uint8Array);
  assert.deepEqual([...back.message.imageMessage.mediaKey], [1, 2, 3, 4]);
  const before = await mapMessage(msg, {});
  const after = await mapMessage(back, {});
  assert.deepEqual(after, before);
  assert.equal(after.timestamp, 1717171717);
  assert.equal(after.quotedText, 'orig');
});

test('real Baileys without a network: hello, connecting, disconnected with a reason, connecting again, exit 0 on EOF', { timeout: 60000 }, async (t) => {
  assert.ok(fs.existsSync(path.join(SIDECAR_DIR, 'node_modules/@whiskeysockets/baileys/package.json')), 'npm ci first');
  const root = tempDir();
  const stateDir = path.join(root, 'accounts/phone/baileys');
  const env = { WABRIDGE_SIDECAR_FAKE_SOCKET: '' };
  const p = spawnSidecar({
    account: 'phone',
    stateDir,
    mediaDir: path.join(root, 'accounts/phone/media'),
    settings: { mode: 'bot', allowedUsers: ['*'], reconnectInitialMs: 300, reconnectMaxMs: 1000 },
    env,
  });
  try {
    await waitFor(() => p.out.length > 0, 20000, 'hello');
    const hello = p.out[0];
    assert.equal(hello.type, 'hello');
    assert.equal(hello.protocol, 1);
    assert.equal(hello.upstream, 'baileys');
    assert.match(hello.version, /baileys 7\.0\.0-rc14/);

    await waitFor(() => p.states().some((s) => s.state !== 'connecting'), 40000, 'a state after connecting');
    const first = p.states().find((s) => s.state !== 'connecting');
    if (first.state === 'qr') {
      // A machine with a route to WhatsApp gets a pairing QR instead.
      assert.ok(first.qr.length > 10);
      t.diagnostic('WhatsApp is reachable here: got a QR instead of a disconnect');
    } else {
      assert.equal(p.states()[0].state, 'connecting');
      assert.equal(first.state, 'disconnected');
      assert.ok(first.reason.length > 0, 'a reason');
      assert.match(first.reason, /reconnecting in 300 ms \(attempt 1\)/);
      // It tries again by itself: more connecting states from the same process.
      await waitFor(() => p.states().filter((s) => s.state === 'connecting').length >= 3, 15000, '3 connecting states');
      const delays = p
        .states()
        .filter((s) => s.state === 'disconnected')
        .map((s) => Number(/reconnecting in (\d+)/.exec(s.reason)?.[1]));
      assert.deepEqual(delays.slice(0, 2), [300, 600]);
      assert.equal(p.child.exitCode, null, 'the same process keeps trying');
    }
    assert.deepEqual(p.bad, [], 'stdout carries protocol lines only');
    assert.ok(fs.existsSync(path.join(stateDir, 'auth')), 'auth state directory');
    assert.ok(fs.existsSync(path.join(stateDir, 'spool.jsonl')), 'spool');

    const t0 = Date.now();
    p.end();
    const ex = await Promise.race([p.exit, deadline(5000)]);
    assert.ok(ex, `exited after EOF; stderr:\n${p.stderr()}`);
    assert.equal(ex.code, 0);
    assert.ok(Date.now() - t0 < 2000, 'promptly (the worker kills after 2 s)');
  } finally {
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
  }
});
