// Which messages become events (lib/filters.js), directly and through a
// sidecar driven by the fake socket.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { allowlistMatches, decide, decideSync, isSelfChat, parseAllowlist, senderCandidates } from '../lib/filters.js';
import { ME, fixture, inProcessSidecar, openSocket, sleep, waitFor } from '../test-support/harness.js';

const bot = (allowedUsers, extra = {}) => ({ mode: 'bot', allow: parseAllowlist(allowedUsers), me: ME, sentIds: new Set(), ...extra });
const selfChat = (extra = {}) => ({ mode: 'self-chat', allow: parseAllowlist([]), me: ME, sentIds: new Set(), ...extra });

describe('allowlist', () => {
  test('parsing', () => {
    const list = parseAllowlist(['*', '4915112345678', '123456789012345@lid', '447700900123:4@s.whatsapp.net', '+49 151', 7]);
    assert.equal(list.all, true);
    assert.deepEqual([...list.numbers], ['4915112345678']);
    assert.deepEqual([...list.jids], ['123456789012345@lid', '447700900123@s.whatsapp.net']);
    assert.deepEqual(list.invalid, ['+49 151', '7']);
  });

  test('numbers match phone JIDs only; JIDs match exactly (without device)', () => {
    const list = parseAllowlist(['4915112345678', '123456789012345@lid']);
    assert.equal(allowlistMatches(list, ['4915112345678@s.whatsapp.net']), true);
    assert.equal(allowlistMatches(list, ['4915112345678:12@s.whatsapp.net']), true);
    assert.equal(allowlistMatches(list, ['4915112345678@lid']), false, 'a LID is not a phone number');
    assert.equal(allowlistMatches(list, ['123456789012345@lid']), true);
    assert.equal(allowlistMatches(list, ['999@s.whatsapp.net']), false);
    assert.equal(allowlistMatches(parseAllowlist([]), ['4915112345678@s.whatsapp.net']), false, 'empty takes nobody');
  });

  test('sender candidates include the alternative address and the resolved phone number', async () => {
    assert.deepEqual(await senderCandidates(fixture('dm_text_lid')), ['123456789012345@lid', '4915112345678@s.whatsapp.net']);
    const noAlt = fixture('group_lid_participant');
    delete noAlt.key.participantAlt;
    assert.deepEqual(await senderCandidates(noAlt, async (lid) => (lid === '987654321098765@lid' ? '447700900123@s.whatsapp.net' : null)), [
      '987654321098765@lid',
      '447700900123@s.whatsapp.net',
    ]);
    assert.deepEqual(await senderCandidates(noAlt, async () => {
      throw new Error('no mapping');
    }), ['987654321098765@lid']);
  });
});

describe('decide', () => {
  test('bot mode: empty allowlist takes nobody', async () => {
    const v = await decide(fixture('dm_text'), bot([]));
    assert.equal(v.take, false);
    assert.match(v.reason, /not in allowed_users/);
  });

  test('bot mode: "*" takes everybody', async () => {
    for (const name of ['dm_text', 'dm_text_lid', 'group_quote_mentions', 'image', 'reaction', 'poll']) {
      assert.deepEqual(await decide(fixture(name), bot(['*'])), { take: true }, name);
    }
  });

  test('bot mode: listed numbers and JIDs', async () => {
    assert.equal((await decide(fixture('dm_text'), bot(['4915112345678']))).take, true);
    assert.equal((await decide(fixture('dm_text'), bot(['4915112345678@s.whatsapp.net']))).take, true);
    assert.equal((await decide(fixture('dm_text'), bot(['4915100000000']))).take, false);
    // A LID sender is matched through its phone number (alt address) or its LID.
    assert.equal((await decide(fixture('dm_text_lid'), bot(['4915112345678']))).take, true);
    assert.equal((await decide(fixture('dm_text_lid'), bot(['123456789012345@lid']))).take, true);
    // In groups the participant is the sender, not the group.
    assert.equal((await decide(fixture('group_quote_mentions'), bot(['4915112345678']))).take, true);
    assert.equal((await decide(fixture('group_quote_mentions'), bot(['5511987654321']))).take, false);
    assert.equal((await decide(fixture('group_lid_participant'), bot(['447700900123']))).take, true);
  });

  test('bot mode: a LID sender without its phone number is looked up', async () => {
    const msg = fixture('group_lid_participant');
    delete msg.key.participantAlt;
    const lookups = [];
    const resolvePn = async (lid) => {
      lookups.push(lid);
      return lid === '987654321098765@lid' ? '447700900123@s.whatsapp.net' : null;
    };
    assert.deepEqual(decideSync(msg, bot(['447700900123'], { resolvePn })), { take: 'check' });
    assert.deepEqual(await decide(msg, bot(['447700900123'], { resolvePn })), { take: true });
    assert.equal((await decide(msg, bot(['4915100000000'], { resolvePn }))).take, false);
    assert.deepEqual(lookups, ['987654321098765@lid', '987654321098765@lid']);
    assert.equal(decideSync(msg, bot(['4915100000000'])).take, false, 'no lookup without a resolver');
    assert.deepEqual(decideSync(msg, bot(['987654321098765@lid'], { resolvePn })), { take: true }, 'a listed LID needs no lookup');
  });

  test('bot mode ignores your own messages', async () => {
    const v = await decide(fixture('from_me_other_chat'), bot(['*']));
    assert.equal(v.take, false);
    assert.match(v.reason, /own messages/);
    assert.equal((await decide(fixture('self_chat'), bot(['*']))).take, false);
  });

  test('self-chat mode takes only what you write in your own chat', async () => {
    assert.deepEqual(await decide(fixture('self_chat'), selfChat()), { take: true });
    assert.deepEqual(await decide(fixture('self_chat_lid'), selfChat()), { take: true });
    const other = await decide(fixture('from_me_other_chat'), selfChat());
    assert.equal(other.take, false);
    assert.match(other.reason, /not your own chat/);
    const stranger = await decide(fixture('dm_text'), selfChat({ allow: parseAllowlist(['*']) }));
    assert.equal(stranger.take, false, 'allowed_users does not apply in self-chat mode');
    assert.equal(isSelfChat(fixture('self_chat'), { id: '15550000001:9@s.whatsapp.net' }), true);
    assert.equal(isSelfChat(fixture('self_chat'), {}), false);
  });

  test('self-chat mode skips echoes of what this sidecar sent', async () => {
    const v = await decide(fixture('self_chat'), selfChat({ sentIds: new Set(['3EB0SELF000000000001']) }));
    assert.equal(v.take, false);
    assert.match(v.reason, /echo/);
  });

  test('signalling, status, channels and empty messages are skipped in every mode', async () => {
    for (const ctx of [bot(['*']), selfChat()]) {
      for (const [name, why] of [
        ['protocol_revoke', /signalling/],
        ['key_distribution_only', /signalling/],
        ['status_broadcast', /broadcast/],
        ['newsletter', /channel/],
        ['stub_no_content', /no content/],
      ]) {
        const v = await decide(fixture(name), ctx);
        assert.equal(v.take, false, name);
        assert.match(v.reason, why, name);
      }
    }
    assert.equal((await decide({ key: { remoteJid: 'x@s.whatsapp.net' } }, bot(['*']))).take, false);
  });
});

describe('filters through the fake socket', () => {
  const deliverAll = (sock) =>
    sock.deliver(['dm_text', 'dm_text_lid', 'group_quote_mentions', 'from_me_other_chat', 'self_chat', 'protocol_revoke', 'status_broadcast'].map(fixture));

  const ids = (h) => h.events().map((e) => e.event.messageId).sort();

  test('bot mode with an empty allowlist emits nothing', async () => {
    const h = inProcessSidecar({ settings: { mode: 'bot', allowedUsers: [] } });
    deliverAll(await openSocket(h));
    await h.sidecar.inbound.idle();
    await sleep(20);
    assert.deepEqual(ids(h), []);
    assert.ok(h.out.some((m) => m.type === 'log' && /empty allowed_users takes nobody/.test(m.msg)));
    assert.equal(h.sidecar.spool.size, 0, 'nothing spooled');
  });

  test('bot mode with "*" emits other people\'s messages', async () => {
    const h = inProcessSidecar({ settings: { mode: 'bot', allowedUsers: ['*'] } });
    deliverAll(await openSocket(h));
    await waitFor(() => h.events().length === 3, 2000, '3 events');
    await h.sidecar.inbound.idle();
    assert.deepEqual(ids(h), ['3EB0C431D2A8F00D0001', '3EB0C431D2A8F00D0002', '3EB0C431D2A8F00D0003']);
    assert.ok(h.events().every((e) => e.origin === 'live'));
  });

  test('bot mode with a listed number emits only that sender', async () => {
    const h = inProcessSidecar({ settings: { mode: 'bot', allowedUsers: ['447700900123'] } });
    const sock = await openSocket(h);
    deliverAll(sock);
    sock.deliver([fixture('group_lid_participant')]);
    await waitFor(() => h.events().length >= 1, 2000, 'an event');
    await h.sidecar.inbound.idle();
    assert.deepEqual(ids(h), ['3EB0C431D2A8F00D0004']);
  });

  test('self-chat mode emits only the self chat', async () => {
    const h = inProcessSidecar({ settings: { mode: 'self-chat', allowedUsers: ['*'] } });
    deliverAll(await openSocket(h));
    await waitFor(() => h.events().length >= 1, 2000, 'an event');
    await h.sidecar.inbound.idle();
    assert.deepEqual(ids(h), ['3EB0SELF000000000001']);
  });

  test('"append" upserts are offline deliveries; other upsert types are ignored', async () => {
    const h = inProcessSidecar({ settings: { allowedUsers: ['*'] } });
    const sock = await openSocket(h);
    sock.deliver([fixture('dm_text')], 'append');
    sock.deliver([fixture('image')], 'some-future-type');
    await waitFor(() => h.events().length === 1, 2000, 'an event');
    await h.sidecar.inbound.idle();
    assert.equal(h.events().length, 1);
    assert.equal(h.events()[0].origin, 'offline');
  });

  test('a LID sender whose phone number is not allowed is dropped from the spool again', async () => {
    const h = inProcessSidecar({ settings: { mode: 'bot', allowedUsers: ['447700900123'] } });
    const sock = await openSocket(h);
    h.world.lidToPn.set('987654321098765@lid', '447700900123@s.whatsapp.net');
    const allowed = fixture('group_lid_participant');
    delete allowed.key.participantAlt;
    const other = fixture('dm_text_lid');
    delete other.key.remoteJidAlt;
    sock.deliver([other, allowed]);
    await waitFor(() => h.events().length === 1, 2000, 'an event');
    await h.sidecar.inbound.idle();
    assert.deepEqual(ids(h), ['3EB0C431D2A8F00D0004']);
    assert.deepEqual(h.sidecar.spool.pending().map((p) => p.uid), [h.events()[0].uid]);
  });

  test('messages Baileys holds back are released when the connection closes', async () => {
    const h = inProcessSidecar({ settings: { allowedUsers: ['*'] } });
    const sock = await openSocket(h);
    sock.hold([fixture('dm_text'), fixture('poll')]);
    sock.close(428, 'Connection Closed');
    await waitFor(() => h.events().length === 2, 2000, '2 events');
    assert.deepEqual(h.events().map((e) => e.origin), ['offline', 'offline']);
  });

  test('the same message delivered twice while unconfirmed is emitted once', async () => {
    const h = inProcessSidecar({ settings: { allowedUsers: ['*'] } });
    const sock = await openSocket(h);
    sock.deliver([fixture('dm_text')]);
    sock.deliver([fixture('dm_text')]);
    await waitFor(() => h.events().length === 1, 2000, 'an event');
    await h.sidecar.inbound.idle();
    assert.equal(h.events().length, 1);
  });
});
