// The delivery receipt waits for the spool (settings.receiptAfterSpool,
// config account.baileys.receipt_after_spool): the Baileys patch and the
// sidecar's hook, on the fake socket's Baileys-shaped incoming() and on the
// real installed Baileys source.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { readSpool } from '../lib/pending_store.js';
import { patchSource } from '../scripts/patch-baileys.js';
import { fixture, inProcessSidecar, killAll, openSocket, readJsonLines, spawnSidecar, tempDir, waitFor, writeCues } from '../test-support/harness.js';

after(killAll);
const LIMIT = { timeout: 30000 };
const EVERYBODY = { mode: 'bot', allowedUsers: ['*'], reconnectInitialMs: 50, reconnectMaxMs: 200 };
const OPEN = { cue: 'open' };

function start(root, cues, settings) {
  const cueFile = path.join(root, `cues-${Math.random().toString(36).slice(2)}.jsonl`);
  writeCues(cueFile, cues);
  return spawnSidecar({
    stateDir: path.join(root, 'baileys'),
    mediaDir: path.join(root, 'media'),
    settings: { ...EVERYBODY, ...settings },
    env: { WABRIDGE_SIDECAR_FAKE_SOCKET: cueFile, WABRIDGE_SIDECAR_FAKE_LOG: path.join(root, 'calls.jsonl') },
  });
}

describe('the Baileys patch', () => {
  const require = createRequire(import.meta.url);
  const installed = require.resolve('@whiskeysockets/baileys/lib/Socket/messages-recv.js');

  test('npm ci left the installed Baileys patched: the hook is awaited right before the delivery receipt', () => {
    const text = fs.readFileSync(installed, 'utf8');
    const hook = text.indexOf('await config.wabridgeBeforeReceipt(');
    const receipt = text.indexOf('await sendReceipt(msg.key.remoteJid, participant, [msg.key.id], type);');
    const upsert = text.indexOf("await upsertMessage(msg, node.attrs.offline ? 'append' : 'notify');");
    assert.ok(hook > 0 && receipt > hook && upsert > receipt, 'hook, then receipt, then upsert');
    assert.ok(!text.slice(hook, receipt).includes('acked = true;\n                        // wabridge'), 'patched once');
  });

  test('patchSource is idempotent and refuses code it does not know', () => {
    const text = fs.readFileSync(installed, 'utf8');
    assert.equal(patchSource(text).changed, false);
    const unpatched = text.replace(/ {24}\/\/ wabridge:beforeReceipt[\s\S]*?\n {24}\}\n/, '');
    assert.ok(!unpatched.includes('wabridge'), 'the test could strip the patch');
    const again = patchSource(unpatched);
    assert.equal(again.changed, true);
    assert.equal(again.text, text);
    assert.throws(() => patchSource('const x = 1;\n'), /anchors on is not in/);
  });
});

describe('receipt after spool', LIMIT, () => {
  test('the message is in the spool (fsync) before the receipt, and made into one event', async () => {
    const h = inProcessSidecar({ settings: EVERYBODY });
    const sock = await openSocket(h);
    const msg = fixture('dm_text');
    let spooledAtReceipt = null;
    const realCall = sock.call.bind(sock);
    sock.call = (method, args, fn) => {
      if (method === 'sendReceipt') spooledAtReceipt = readSpool(h.stateDir).map((e) => e.uid);
      return realCall(method, args, fn);
    };
    await sock.incoming(msg, 'notify');
    await waitFor(() => h.events().length === 1, 2000, 'the event');
    assert.equal(spooledAtReceipt.length, 1, 'one message pending in the spool file when the receipt went out');
    assert.equal(spooledAtReceipt[0], h.events()[0].uid);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(h.events().length, 1, 'the upsert after the receipt is not taken twice');
    assert.equal(h.events()[0].origin, 'live');
  });

  test('a spool that cannot be written withholds the receipt (NACK); the event still reaches the worker', async () => {
    const h = inProcessSidecar({ settings: EVERYBODY });
    const sock = await openSocket(h);
    fs.closeSync(h.sidecar.spool.fd);
    h.sidecar.spool.fd = fs.openSync('/dev/null', 'r'); // every write fails (EBADF)
    await sock.incoming(fixture('dm_text'), 'notify');
    const calls = h.world.calls.map((c) => c.method);
    assert.ok(calls.includes('sendNack'));
    assert.ok(!calls.includes('sendReceipt'));
    await waitFor(() => h.events().length === 1, 2000, 'the event');
  });

  test('filtered-out messages get their receipt at once and make no event', async () => {
    const h = inProcessSidecar({ settings: { ...EVERYBODY, allowedUsers: [] } });
    const sock = await openSocket(h);
    await sock.incoming(fixture('dm_text'), 'notify');
    assert.ok(h.world.calls.some((c) => c.method === 'sendReceipt'));
    assert.equal(readSpool(h.stateDir).length, 0);
  });

  for (const receiptAfterSpool of [true, false]) {
    test(`kill -9 right after the receipt: the message ${receiptAfterSpool ? 'comes back after the restart' : 'is lost (receipt_after_spool = false)'}`, async () => {
      const root = tempDir();
      const first = start(root, [OPEN, { cue: 'incoming', msg: fixture('dm_text'), dieAfterReceipt: true }], { receiptAfterSpool });
      const ex = await first.exit;
      assert.equal(ex.signal, 'SIGKILL');
      // Without the hook nothing was taken before the upsert; with it the
      // event may already have gone out (unconfirmed) before the receipt.
      if (!receiptAfterSpool) assert.equal(first.events().length, 0, 'died before the upsert');
      assert.deepEqual(readJsonLines(path.join(root, 'calls.jsonl')).map((c) => c.method), ['sendReceipt']);

      const second = start(root, [OPEN], { receiptAfterSpool });
      await waitFor(() => second.states().some((s) => s.state === 'connected'), 5000, 'connected');
      if (receiptAfterSpool) {
        await waitFor(() => second.events().length === 1, 5000, 'the replayed event');
        assert.equal(second.events()[0].origin, 'offline');
        assert.equal(second.events()[0].event.messageId, fixture('dm_text').key.id);
      } else {
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(second.events().length, 0, 'WhatsApp has the receipt; nothing brings the message back');
      }
      second.end();
      await second.exit;
    });
  }
});
