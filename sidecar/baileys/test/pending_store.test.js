// The spool (lib/pending_store.js): write-ahead records, confirms, compaction, damage.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { Spool, readSpool } from '../lib/pending_store.js';
import { memoryLog, tempDir } from '../test-support/harness.js';

const raw = (uid) => ({ uid, origin: 'live', msg: { key: { remoteJid: 'a@s.whatsapp.net', id: uid } } });
const lines = (dir) => fs.readFileSync(path.join(dir, 'spool.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

test('raw, event and confirm records; reopen keeps only what is pending, in order', () => {
  const dir = tempDir();
  const s = Spool.open(dir);
  assert.deepEqual(s.addRaw([raw('u1'), raw('u2'), raw('u3')]).map((x) => x.uid), ['u1', 'u2', 'u3']);
  assert.deepEqual(s.addRaw([raw('u2'), raw('u4')]).map((x) => x.uid), ['u4'], 'a pending uid is not taken twice');
  s.setEvent('u1', 'live', { body: 'one' });
  s.setEvent('u2', 'live', { body: 'two' });
  assert.equal(s.confirm(['u2', 'nobody']), 1, 'unknown uids are ignored');
  assert.equal(s.confirm(['u2']), 0, 'a second confirm is a no-op');
  assert.equal(s.size, 3);
  s.close();

  const recs = lines(dir);
  assert.deepEqual(recs[0], { v: 1 });
  assert.ok(recs.some((r) => r.t === 'confirm' && r.uids.join() === 'u2'));

  const again = Spool.open(dir);
  const pending = again.pending();
  assert.deepEqual(pending.map((p) => p.uid), ['u1', 'u3', 'u4']);
  assert.deepEqual(pending[0].event, { body: 'one' });
  assert.equal(pending[0].raw, undefined, 'the event replaces the raw message');
  assert.deepEqual(pending[1].raw, raw('u3').msg);
  // Compacted on open: the version line and one record per pending uid.
  assert.deepEqual(lines(dir).map((r) => r.t ?? 'v'), ['v', 'event', 'raw', 'raw']);
  again.confirm(['u1', 'u3', 'u4']);
  again.close();
  assert.deepEqual(readSpool(dir), []);
});

test('a torn last line and damaged lines are skipped, the rest is kept', () => {
  const dir = tempDir();
  const file = path.join(dir, 'spool.jsonl');
  fs.writeFileSync(
    file,
    [
      '{"v":1}',
      JSON.stringify({ t: 'event', uid: 'good', origin: 'live', event: { body: 'x' } }),
      '\u0000\u0000\u0000garbage',
      JSON.stringify({ t: 'nonsense', uid: 'z' }),
      JSON.stringify({ t: 'raw', uid: 'also-good', origin: 'offline', msg: { key: {} } }),
    ].join('\n') + '\n{"t":"raw","uid":"torn","ori',
  );
  const log = memoryLog();
  const s = Spool.open(dir, { log });
  assert.deepEqual(s.pending().map((p) => p.uid), ['good', 'also-good']);
  assert.equal(s.skipped, 2);
  assert.ok(log.lines.some((l) => l.level === 'warn' && /skipped 2 damaged/.test(l.msg)));
  s.close();
  assert.ok(!fs.readFileSync(file, 'utf8').includes('torn'), 'the torn line is gone after compaction');
  assert.ok(!fs.existsSync(`${file}.tmp`));
});

test('an unknown format version is refused', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'spool.jsonl'), '{"v":2}\n');
  assert.throws(() => Spool.open(dir), /format version 2/);
});

test('a dropped uid is forgotten', () => {
  const dir = tempDir();
  const s = Spool.open(dir);
  s.addRaw([raw('d1')]);
  s.drop('d1');
  s.close();
  assert.deepEqual(readSpool(dir), []);
});

test('the file is compacted once everything is confirmed and it has grown', () => {
  const dir = tempDir();
  const s = Spool.open(dir);
  const big = 'x'.repeat(10000);
  for (let i = 0; i < 20; i++) {
    s.addRaw([raw(`b${i}`)]);
    s.setEvent(`b${i}`, 'live', { body: big });
  }
  const before = fs.statSync(path.join(dir, 'spool.jsonl')).size;
  assert.ok(before > 200000);
  s.confirm(Array.from({ length: 20 }, (_, i) => `b${i}`));
  const after = fs.statSync(path.join(dir, 'spool.jsonl')).size;
  assert.ok(after < 100, `compacted to ${after} bytes`);
  s.addRaw([raw('later')]);
  s.close();
  assert.deepEqual(readSpool(dir).map((p) => p.uid), ['later'], 'appending goes on after compaction');
});

test('records written before a crash (no close) are there on the next open', () => {
  const dir = tempDir();
  const s = Spool.open(dir);
  s.addRaw([raw('c1')]);
  s.setEvent('c1', 'live', { body: 'kept' });
  // no close(): the process "dies" here
  const next = Spool.open(dir);
  assert.deepEqual(next.pending().map((p) => [p.uid, p.event?.body]), [['c1', 'kept']]);
  next.close();
});
