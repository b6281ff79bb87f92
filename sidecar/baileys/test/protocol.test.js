// Line framing and the message formats (lib/protocol.js).
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';

import { LineReader, ProtocolWriter, encodeLine, parseWorkerLine } from '../lib/protocol.js';

function reader(opts = {}) {
  const stream = new PassThrough();
  const got = { lines: [], ended: false, oversize: 0 };
  new LineReader(stream, {
    onLine: (l) => got.lines.push(l),
    onEnd: () => (got.ended = true),
    onOversize: () => got.oversize++,
    ...opts,
  });
  return { stream, got };
}

test('lines split across chunks, CRLF, empty lines and a torn last line', async () => {
  const { stream, got } = reader();
  stream.write('{"a":');
  stream.write('1}\n\n{"b":2}\r\n{"c"');
  stream.write(':"é');
  stream.write(Buffer.from([0xc3])); // first byte of a 2-byte character...
  stream.write(Buffer.from([0xa9, 0x22, 0x7d, 0x0a])); // ...and the rest
  stream.end('{"torn":');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got.lines, ['{"a":1}', '{"b":2}', '{"c":"éé"}']);
  assert.equal(got.ended, true);
});

test('an over-long line is dropped up to its newline, the next one is read', async () => {
  const { stream, got } = reader({ maxLineBytes: 10 });
  stream.write('0123456789abc');
  stream.write('def\n{"ok":1}\n');
  stream.end();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got.lines, ['{"ok":1}']);
  assert.equal(got.oversize, 1);
});

test('worker lines', () => {
  assert.deepEqual(parseWorkerLine('{"type":"confirm","uids":["a","b"]}'), { type: 'confirm', uids: ['a', 'b'] });
  assert.deepEqual(parseWorkerLine('{"type":"stop"}'), { type: 'stop' });
  assert.deepEqual(parseWorkerLine('{"type":"send","id":"o12.0.a1","op":"send","messageId":"3EB0X","args":{"chatId":"c","message":"m"}}'), {
    type: 'send',
    id: 'o12.0.a1',
    op: 'send',
    messageId: '3EB0X',
    args: { chatId: 'c', message: 'm' },
  });
  assert.deepEqual(parseWorkerLine('{"type":"send","id":"d1","op":"chat"}'), { type: 'send', id: 'd1', op: 'chat', args: {}, messageId: '' });
  assert.match(parseWorkerLine('nope').error, /not valid JSON/);
  assert.match(parseWorkerLine('[1]').error, /not a JSON object/);
  assert.match(parseWorkerLine('{"type":"confirm","uids":[1]}').error, /uids/);
  assert.match(parseWorkerLine('{"type":"bogus"}').error, /unknown type/);
  const bad = parseWorkerLine('{"type":"send","id":"x","op":"send","args":[1]}');
  assert.equal(bad.id, 'x', 'a bad send keeps its id so it can be answered');
});

test('encoded lines are one line of valid, well-formed JSON', () => {
  const line = encodeLine({ type: 'event', event: { body: 'a\nb\u2028c', lone: 'x\ud800y' } });
  assert.equal(line.indexOf('\n'), line.length - 1);
  const back = JSON.parse(line);
  assert.equal(back.event.body, 'a\nb\u2028c');
  assert.equal(back.event.lone, 'x\ufffdy', 'a lone surrogate becomes U+FFFD');
});

test('the writer formats hello, state, event, send_result and log', async () => {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d) => (text += d));
  const w = new ProtocolWriter(stream);
  w.hello('1.2.3');
  w.state('qr', { qr: 'QRDATA', pairingCode: 'ABCD1234' });
  w.state('disconnected', { reason: 'because' });
  w.event('c:m', 'live', { body: 'x' });
  w.sendResult('s1', { ok: true, messageIds: ['3EB0'] });
  w.sendResult('s2', { ok: false, error: 'unsupported op' });
  w.sendResult('s3', { ok: true, data: { name: 'n' } });
  w.log('warn', 'careful');
  assert.equal(await w.close(), true);
  assert.equal(w.send({ type: 'log' }), false, 'closed');
  const msgs = text.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(msgs, [
    { type: 'hello', protocol: 1, upstream: 'baileys', version: '1.2.3' },
    { type: 'state', state: 'qr', qr: 'QRDATA', pairingCode: 'ABCD1234' },
    { type: 'state', state: 'disconnected', reason: 'because' },
    { type: 'event', uid: 'c:m', origin: 'live', event: { body: 'x' } },
    { type: 'send_result', id: 's1', ok: true, messageIds: ['3EB0'] },
    { type: 'send_result', id: 's2', ok: false, messageIds: [], error: 'unsupported op' },
    { type: 'send_result', id: 's3', ok: true, messageIds: [], data: { name: 'n' } },
    { type: 'log', level: 'warn', msg: 'careful' },
  ]);
});
