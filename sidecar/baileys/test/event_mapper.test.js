// Baileys message fixtures → SPEC §4 events (lib/event_mapper.js).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import {
  bodyOf,
  classifyContent,
  mapMessage,
  mediaFileName,
  storableMessage,
  toSeconds,
  uidOf,
  unwrapContent,
} from '../lib/event_mapper.js';
import { ME, fixture, memoryLog, tempDir } from '../test-support/harness.js';

// Every SPEC §4 field an upstream sends, with its JSON type.
const SPEC_FIELDS = {
  messageId: 'string',
  chatId: 'string',
  senderId: 'string',
  senderName: 'string',
  chatName: 'string',
  isGroup: 'boolean',
  body: 'string',
  hasMedia: 'boolean',
  mediaType: 'string',
  mediaUrls: 'array',
  mime: 'string',
  fileName: 'string',
  mentionedIds: 'array',
  quotedMessageId: 'string',
  quotedParticipant: 'string',
  quotedText: 'string',
  hasQuotedMessage: 'boolean',
  botIds: 'array',
  readReceiptKey: 'object',
  timestamp: 'integer',
};

function assertSpecShape(event) {
  assert.deepEqual(Object.keys(event).sort(), Object.keys(SPEC_FIELDS).sort(), 'exactly the SPEC §4 fields');
  for (const [field, type] of Object.entries(SPEC_FIELDS)) {
    const v = event[field];
    if (type === 'array') {
      assert.ok(Array.isArray(v), `${field} is an array`);
      for (const x of v) assert.equal(typeof x, 'string', `${field} holds strings`);
    } else if (type === 'integer') assert.ok(Number.isInteger(v) && v > 1e9 && v < 1e10, `${field} is seconds, got ${v}`);
    else if (type === 'object') assert.ok(v && typeof v === 'object' && !Array.isArray(v), `${field} is an object`);
    else assert.equal(typeof v, type, `${field} is a ${type}`);
  }
  const k = event.readReceiptKey;
  assert.deepEqual(Object.keys(k).sort(), ['fromMe', 'id', 'participant', 'remoteJid']);
  assert.equal(typeof k.remoteJid, 'string');
  assert.equal(typeof k.id, 'string');
  assert.equal(typeof k.participant, 'string');
  assert.equal(typeof k.fromMe, 'boolean');
  // The event must survive the protocol's JSON round trip unchanged.
  assert.deepEqual(JSON.parse(JSON.stringify(event)), event);
}

const noMedia = { me: ME };

describe('event mapping', () => {
  test('direct text message', async () => {
    const e = await mapMessage(fixture('dm_text'), noMedia);
    assertSpecShape(e);
    assert.equal(e.messageId, '3EB0C431D2A8F00D0001');
    assert.equal(e.chatId, '4915112345678@s.whatsapp.net');
    assert.equal(e.senderId, '4915112345678@s.whatsapp.net');
    assert.equal(e.senderName, 'Björn Müller');
    assert.equal(e.chatName, 'Björn Müller');
    assert.equal(e.isGroup, false);
    assert.equal(e.body, 'see you at 5 "sharp" <b>&</b> 🎉');
    assert.equal(e.hasMedia, false);
    assert.equal(e.mediaType, '');
    assert.deepEqual(e.mediaUrls, []);
    assert.deepEqual(e.botIds, ['15550000001@s.whatsapp.net', '100000000000001@lid']);
    assert.deepEqual(e.readReceiptKey, { remoteJid: '4915112345678@s.whatsapp.net', id: '3EB0C431D2A8F00D0001', participant: '', fromMe: false });
    assert.equal(e.timestamp, 1717171717);
    assert.equal(uidOf(fixture('dm_text')), '4915112345678@s.whatsapp.net:3EB0C431D2A8F00D0001');
  });

  test('direct message from a LID keeps the LID as chat and sender; Long timestamps', async () => {
    const msg = fixture('dm_text_lid');
    const e = await mapMessage(msg, noMedia);
    assertSpecShape(e);
    assert.equal(e.chatId, '123456789012345@lid');
    assert.equal(e.senderId, '123456789012345@lid');
    assert.equal(e.body, 'hi from a LID');
    assert.equal(e.timestamp, 1717171718);
    assert.equal(uidOf(msg), '123456789012345@lid:3EB0C431D2A8F00D0002');
  });

  test('group text with a quote and mentions', async () => {
    const msg = fixture('group_quote_mentions');
    const e = await mapMessage(msg, { me: ME, chatName: async (jid) => (jid === '5511987654321-1612345678@g.us' ? 'Book club 📚' : '') });
    assertSpecShape(e);
    assert.equal(e.isGroup, true);
    assert.equal(e.chatName, 'Book club 📚');
    assert.equal(e.senderId, '4915112345678@s.whatsapp.net', 'device suffix removed');
    assert.equal(e.body, '@15550000001 @4477 look at this');
    assert.deepEqual(e.mentionedIds, ['15550000001@s.whatsapp.net', '447700900123@s.whatsapp.net'], 'deduplicated');
    assert.equal(e.quotedMessageId, '3EB0QUOTED0000000001');
    assert.equal(e.quotedParticipant, '447700900123@s.whatsapp.net');
    assert.equal(e.quotedText, 'the original text');
    assert.equal(e.hasQuotedMessage, true);
    assert.equal(e.readReceiptKey.participant, '4915112345678:3@s.whatsapp.net', 'the key as Baileys gave it');
    assert.equal(e.timestamp, 1717171719, 'string timestamps too');
    assert.equal(uidOf(msg), '5511987654321-1612345678@g.us:3EB0C431D2A8F00D0003:4915112345678@s.whatsapp.net');
  });

  test('group message from a LID participant; group name falls back to the id', async () => {
    const msg = fixture('group_lid_participant');
    const e = await mapMessage(msg, { me: ME, chatName: async () => '' });
    assertSpecShape(e);
    assert.equal(e.senderId, '987654321098765@lid');
    assert.equal(e.chatName, '120363012345678901');
    assert.equal(e.body, 'hello group');
    assert.equal(uidOf(msg), '120363012345678901@g.us:3EB0C431D2A8F00D0004:987654321098765@lid');
  });

  const mediaCases = [
    ['image', 'image', 'a photo', 'image/jpeg', '', '.jpg'],
    ['video', 'video', 'a clip', 'video/mp4', '', '.mp4'],
    ['audio', 'audio', '', 'audio/mpeg', '', '.mp3'],
    ['ptt', 'ptt', '', 'audio/ogg; codecs=opus', '', '.ogg'],
    ['document', 'document', 'the report', 'application/pdf', 'Report Q2.PDF', '.pdf'],
    ['sticker', 'sticker', '', 'image/webp', '', '.webp'],
    ['view_once_image', 'image', 'once', 'image/png', '', '.png'],
  ];
  for (const [name, mediaType, body, mime, fileName, ext] of mediaCases) {
    test(`${name}: media downloaded into the media dir`, async () => {
      const dir = tempDir();
      const msg = fixture(name);
      const e = await mapMessage(msg, { me: ME, mediaDir: dir, downloadMedia: async () => Buffer.from(`bytes of ${name}`) });
      assertSpecShape(e);
      assert.equal(e.hasMedia, true);
      assert.equal(e.mediaType, mediaType);
      assert.equal(e.body, body);
      assert.equal(e.mime, mime);
      assert.equal(e.fileName, fileName);
      assert.equal(e.mediaUrls.length, 1);
      assert.equal(path.dirname(e.mediaUrls[0]), dir);
      assert.ok(e.mediaUrls[0].endsWith(ext), `${e.mediaUrls[0]} ends with ${ext}`);
      assert.equal(fs.readFileSync(e.mediaUrls[0], 'utf8'), `bytes of ${name}`);
      assert.deepEqual(fs.readdirSync(dir), [path.basename(e.mediaUrls[0])], 'no temp files left');
      // Mapping again (a redelivery) writes the same file, not a second one.
      const again = await mapMessage(fixture(name), { me: ME, mediaDir: dir, downloadMedia: async () => Buffer.from('x') });
      assert.deepEqual(again.mediaUrls, e.mediaUrls);
    });
  }

  test('media from a stream is written too', async () => {
    const dir = tempDir();
    const { Readable } = await import('node:stream');
    const e = await mapMessage(fixture('image'), { me: ME, mediaDir: dir, downloadMedia: async () => Readable.from([Buffer.from('ab'), Buffer.from('cd')]) });
    assert.equal(fs.readFileSync(e.mediaUrls[0], 'utf8'), 'abcd');
  });

  test('a failed download still gives the event, without mediaUrls, and a log line', async () => {
    const dir = tempDir();
    const log = memoryLog();
    const e = await mapMessage(fixture('image'), {
      me: ME,
      mediaDir: dir,
      log,
      downloadMedia: async () => {
        throw new Error('403 media expired');
      },
    });
    assertSpecShape(e);
    assert.equal(e.hasMedia, true);
    assert.equal(e.mediaType, 'image');
    assert.deepEqual(e.mediaUrls, []);
    assert.equal(e.body, 'a photo');
    assert.ok(log.lines.some((l) => l.level === 'warn' && l.msg.includes('403 media expired')), JSON.stringify(log.lines));
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  test('a download that hangs times out', async () => {
    const log = memoryLog();
    const e = await mapMessage(fixture('video'), { me: ME, mediaDir: tempDir(), log, downloadTimeoutMs: 50, downloadMedia: () => new Promise(() => {}) });
    assert.deepEqual(e.mediaUrls, []);
    assert.ok(log.lines.some((l) => l.msg.includes('timed out')));
  });

  test('location', async () => {
    const e = await mapMessage(fixture('location'), noMedia);
    assertSpecShape(e);
    assert.equal(e.mediaType, 'location');
    assert.equal(e.hasMedia, false);
    assert.equal(e.body, '[Location: Fernsehturm, Panoramastraße 1A, Berlin 52.52,13.405]');
  });

  test('contact and contacts', async () => {
    const one = await mapMessage(fixture('contact'), noMedia);
    assertSpecShape(one);
    assert.equal(one.mediaType, 'contact');
    assert.equal(one.body, '[Contact: Ada Lovelace +44 7700 900123]');
    const many = await mapMessage(fixture('contacts'), noMedia);
    assertSpecShape(many);
    assert.equal(many.mediaType, 'contacts');
    assert.equal(many.body, '[Contacts: Ada Lovelace, Alan Turing]');
  });

  test('reaction points at the message reacted to', async () => {
    const e = await mapMessage(fixture('reaction'), { me: ME });
    assertSpecShape(e);
    assert.equal(e.mediaType, 'reaction');
    assert.equal(e.body, '[Reaction: 👍 to 3EB0MINE000000000001]');
    assert.equal(e.quotedMessageId, '3EB0MINE000000000001');
    assert.equal(e.quotedParticipant, '15550000001@s.whatsapp.net');
    assert.equal(e.hasQuotedMessage, true);
    const removed = fixture('reaction');
    removed.message.reactionMessage.text = '';
    assert.equal((await mapMessage(removed, noMedia)).body, '[Reaction removed from 3EB0MINE000000000001]');
  });

  test('poll creation', async () => {
    const e = await mapMessage(fixture('poll'), noMedia);
    assertSpecShape(e);
    assert.equal(e.mediaType, 'poll');
    assert.equal(e.body, '[Poll: Lunch? Options: Pizza, Sushi]');
  });

  test('ephemeral wrapper, quoting an image without caption', async () => {
    const e = await mapMessage(fixture('ephemeral_text'), noMedia);
    assertSpecShape(e);
    assert.equal(e.body, 'this disappears');
    assert.equal(e.quotedText, '[image]');
    assert.equal(e.quotedMessageId, '3EB0IMAGE00000000001');
    assert.equal(e.quotedParticipant, '15550000001@s.whatsapp.net');
  });

  test('own message in the self chat: sender is us', async () => {
    const e = await mapMessage(fixture('self_chat'), noMedia);
    assertSpecShape(e);
    assert.equal(e.senderId, '15550000001@s.whatsapp.net');
    assert.equal(e.chatId, '15550000001@s.whatsapp.net');
    assert.equal(e.senderName, 'Bridge Owner');
    assert.equal(e.readReceiptKey.fromMe, true);
    const lid = await mapMessage(fixture('self_chat_lid'), noMedia);
    assert.equal(lid.senderId, '100000000000001@lid');
    assert.equal(lid.body, 'note to self via LID');
  });

  test('every fixture that is a message maps to a SPEC-shaped event', async () => {
    for (const name of ['dm_text', 'dm_text_lid', 'group_quote_mentions', 'group_lid_participant', 'image', 'video', 'audio', 'ptt', 'document', 'sticker', 'location', 'contact', 'contacts', 'reaction', 'poll', 'ephemeral_text', 'view_once_image', 'self_chat', 'self_chat_lid']) {
      assertSpecShape(await mapMessage(fixture(name), noMedia));
    }
  });
});

describe('content helpers', () => {
  test('classification of signalling and unknown contents', () => {
    assert.equal(classifyContent(unwrapContent(fixture('protocol_revoke').message)).kind, 'signalling');
    assert.equal(classifyContent(unwrapContent(fixture('key_distribution_only').message)).kind, 'signalling');
    assert.equal(classifyContent({ someFutureMessage: { x: 1 } }).kind, 'unknown');
    assert.equal(classifyContent(null).kind, 'unknown');
    assert.equal(classifyContent({ conversation: '' }).kind, 'unknown');
  });

  test('bodies of buttons, lists and invites', () => {
    assert.equal(bodyOf({ buttonsResponseMessage: { selectedDisplayText: 'Yes' } }), 'Yes');
    assert.equal(bodyOf({ listResponseMessage: { title: 'Option B' } }), 'Option B');
    assert.equal(bodyOf({ groupInviteMessage: { groupName: 'Friends' } }), '[Group invite: Friends]');
  });

  test('timestamps', () => {
    assert.equal(toSeconds(1717171717), 1717171717);
    assert.equal(toSeconds('1717171717'), 1717171717);
    assert.equal(toSeconds({ low: 1717171717, high: 0, unsigned: true }), 1717171717);
    assert.equal(toSeconds({ toNumber: () => 1717171717 }), 1717171717);
    assert.equal(toSeconds(1717171717123), 1717171717, 'milliseconds by mistake');
    assert.equal(toSeconds(undefined), 0);
  });

  test('uids are stable, bounded and free of control characters', () => {
    const msg = fixture('group_quote_mentions');
    assert.equal(uidOf(msg), uidOf(structuredClone(msg)));
    const odd = fixture('dm_text');
    odd.key.id = `A\nB${'x'.repeat(400)}`;
    const uid = uidOf(odd);
    assert.ok(Buffer.byteLength(uid) <= 256);
    assert.ok(!/[\u0000-\u001f]/.test(uid));
    assert.equal(uid, uidOf(structuredClone(odd)));
  });

  test('media file names are stable per uid and safe', () => {
    const a = mediaFileName('c:1', '../../etc/passwd', 'document', 'application/pdf', 'x.PDF');
    assert.ok(!a.includes('/'));
    assert.ok(a.endsWith('.pdf'));
    assert.equal(a, mediaFileName('c:1', '../../etc/passwd', 'document', 'application/pdf', 'x.PDF'));
    assert.notEqual(a, mediaFileName('c:2', '../../etc/passwd', 'document', 'application/pdf', 'x.PDF'));
  });

  test('storable messages turn bytes into base64', () => {
    const msg = fixture('image');
    msg.message.imageMessage.mediaKey = Buffer.from([1, 2, 3]);
    msg.message.imageMessage.fileSha256 = new Uint8Array([4, 5]);
    const stored = storableMessage(msg);
    assert.equal(stored.message.imageMessage.mediaKey, 'AQID');
    assert.equal(stored.message.imageMessage.fileSha256, 'BAU=');
  });
});
