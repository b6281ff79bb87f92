// Which WhatsApp messages become events (docs/sidecar.md, "Filters").
//
//   bot mode:       messages other people send to this number, from senders in
//                   allowedUsers ([] takes nobody, ["*"] everybody); your own
//                   messages (fromMe) are ignored.
//   self-chat mode: only the messages you write in your own chat ("Message
//                   yourself"); nothing from anybody else.
// In both, WhatsApp's own signalling (protocol messages, key distribution,
// encrypted poll votes), status updates, broadcast lists, channels and
// messages without content are skipped.
import { classifyContent, unwrapContent } from './event_mapper.js';
import {
  isBroadcastJid,
  isGroupJid,
  isLidJid,
  isNewsletterJid,
  isPnJid,
  normalizeJid,
  sameUser,
  userOf,
} from './jid.js';

/**
 * The allowlist from settings.allowedUsers: "*" takes everybody, a string of
 * digits is a phone number, anything with "@" a JID (phone or LID). Other
 * entries are kept in `invalid` (and match nothing).
 */
export function parseAllowlist(entries) {
  const list = { all: false, numbers: new Set(), jids: new Set(), invalid: [] };
  for (const raw of Array.isArray(entries) ? entries : []) {
    const entry = typeof raw === 'string' ? raw.trim() : '';
    if (entry === '*') list.all = true;
    else if (/^\d+$/.test(entry)) list.numbers.add(entry);
    else if (entry.includes('@') && userOf(entry)) list.jids.add(normalizeJid(entry));
    else list.invalid.push(String(raw));
  }
  return list;
}

/** True when any of the sender's JIDs (phone and/or LID) is on the list. */
export function allowlistMatches(list, candidates) {
  if (list.all) return true;
  for (const jid of candidates) {
    if (!jid) continue;
    const n = normalizeJid(jid);
    if (list.jids.has(n)) return true;
    if (isPnJid(n) && list.numbers.has(userOf(n))) return true;
  }
  return false;
}

/**
 * The sender's JIDs: the one in the key, its alternative address (Baileys 7
 * gives the phone JID next to a LID and the other way round), and the phone
 * JID that resolvePn finds for a LID.
 */
export async function senderCandidates(msg, resolvePn) {
  const key = msg.key || {};
  const chat = key.remoteJid || '';
  const sender = isGroupJid(chat) ? key.participant || msg.participant || '' : chat;
  const alt = isGroupJid(chat) ? key.participantAlt : key.remoteJidAlt;
  const out = [];
  const add = (jid) => {
    const n = jid ? normalizeJid(jid) : '';
    if (n && !out.includes(n)) out.push(n);
  };
  add(sender);
  add(alt);
  if (resolvePn) {
    for (const jid of [...out]) {
      if (!isLidJid(jid)) continue;
      try {
        add(await resolvePn(jid));
      } catch {
        // no mapping known: the LID alone decides
      }
    }
  }
  return out;
}

/** True when `chat` is this account's own chat ("Message yourself"). */
export function isSelfChat(msg, me) {
  const key = msg.key || {};
  const mine = [me?.id, me?.lid].filter(Boolean);
  for (const chat of [key.remoteJid, key.remoteJidAlt]) {
    if (!chat || isGroupJid(chat)) continue;
    if (mine.some((m) => sameUser(m, chat))) return true;
  }
  return false;
}

/** The sender's JIDs known without a lookup: its key and its alternative address. */
function knownSenderJids(msg) {
  const key = msg.key || {};
  const chat = key.remoteJid || '';
  const group = isGroupJid(chat);
  return [group ? key.participant || msg.participant : chat, group ? key.participantAlt : key.remoteJidAlt]
    .filter(Boolean)
    .map(normalizeJid);
}

/**
 * Decides at once, without I/O, whether a message becomes an event:
 * { take: true }, { take: false, reason }, or { take: 'check' } when only a
 * LID→phone lookup (decide()) can tell, because allowed_users names phone
 * numbers and the sender came with its LID alone.
 *
 * ctx: { mode: 'bot'|'self-chat', allow: parseAllowlist(...), me: {id, lid},
 *        sentIds: { has(id) } (ids this sidecar sent), resolvePn(lid) }
 */
export function decideSync(msg, ctx) {
  const key = msg?.key;
  if (!key || !key.remoteJid || !key.id) return { take: false, reason: 'no message key' };
  const chat = key.remoteJid;
  if (isBroadcastJid(chat)) return { take: false, reason: 'status or broadcast list' };
  if (isNewsletterJid(chat)) return { take: false, reason: 'channel' };
  if (!msg.message) return { take: false, reason: 'no content (a stub or a message that could not be decrypted)' };
  const { kind, key: contentKey } = classifyContent(unwrapContent(msg.message));
  if (kind === 'signalling') return { take: false, reason: `signalling (${contentKey})` };
  if (kind === 'unknown') return { take: false, reason: `unsupported content (${contentKey || 'empty'})` };
  if (ctx.sentIds?.has(key.id)) return { take: false, reason: 'echo of a message this sidecar sent' };

  if (ctx.mode === 'self-chat') {
    if (!key.fromMe) return { take: false, reason: 'self-chat mode takes only your own messages' };
    if (!isSelfChat(msg, ctx.me)) return { take: false, reason: 'self-chat mode: not your own chat' };
    return { take: true };
  }
  // bot mode
  if (key.fromMe) return { take: false, reason: 'bot mode ignores your own messages' };
  const allow = ctx.allow || parseAllowlist([]);
  if (allow.all) return { take: true };
  const known = knownSenderJids(msg);
  if (allowlistMatches(allow, known)) return { take: true };
  if (ctx.resolvePn && allow.numbers.size > 0 && known.some(isLidJid) && !known.some(isPnJid)) return { take: 'check' };
  return { take: false, reason: `sender ${known.join(' / ') || '?'} is not in allowed_users` };
}

/** decideSync, finishing a { take: 'check' } with the LID→phone lookup. */
export async function decide(msg, ctx) {
  const first = decideSync(msg, ctx);
  if (first.take !== 'check') return first;
  const candidates = await senderCandidates(msg, ctx.resolvePn);
  if (allowlistMatches(ctx.allow, candidates)) return { take: true };
  return { take: false, reason: `sender ${candidates.join(' / ') || '?'} is not in allowed_users` };
}
