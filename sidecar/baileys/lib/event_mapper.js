// Baileys WAMessage → the SPEC §4 event, its uid and the body text
// (docs/sidecar.md, "Event mapping"). Everything here is pure except the media
// download, which goes through ctx.downloadMedia and writes into ctx.mediaDir.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';

import { isGroupJid, isLidJid, normalizeJid, userOf } from './jid.js';
import { withTimeout } from './serial_queue.js';

// Wrappers that only carry another message inside (disappearing, view once,
// document with caption, edited). Baileys' normalizeMessageContent unwraps the same.
const WRAPPERS = [
  'ephemeralMessage',
  'viewOnceMessage',
  'viewOnceMessageV2',
  'viewOnceMessageV2Extension',
  'documentWithCaptionMessage',
  'editedMessage',
  'associatedChildMessage',
  'deviceSentMessage',
];

/** The message content with every wrapper removed (at most 5 levels). */
export function unwrapContent(message) {
  let content = message || null;
  for (let i = 0; i < 5 && content; i++) {
    const wrapper = WRAPPERS.find((k) => content[k] && content[k].message);
    if (!wrapper) break;
    content = content[wrapper].message;
  }
  return content;
}

// Content keys that never make an event: WhatsApp's own signalling.
const SIGNALLING = new Set([
  'protocolMessage', // revoke, edit, ephemeral setting, history sync notice, app state keys
  'senderKeyDistributionMessage',
  'messageContextInfo',
  'pollUpdateMessage', // an encrypted vote; needs the poll's secret to read
  'keepInChatMessage',
  'encReactionMessage',
  'encEventResponseMessage',
  'pinInChatMessage',
  'callLogMesssage',
  'bcallMessage',
]);

const MEDIA_KINDS = {
  imageMessage: 'image',
  videoMessage: 'video',
  audioMessage: 'audio',
  pttMessage: 'ptt',
  documentMessage: 'document',
  stickerMessage: 'sticker',
};

/**
 * What a content holds: { kind, key } where kind is text | image | video |
 * audio | ptt | document | sticker | location | contact | contacts | reaction |
 * poll | response | invite | signalling | unknown, and key its content key.
 */
export function classifyContent(content) {
  if (!content || typeof content !== 'object') return { kind: 'unknown', key: '' };
  if (typeof content.conversation === 'string' && content.conversation !== '')
    return { kind: 'text', key: 'conversation' };
  if (content.extendedTextMessage) return { kind: 'text', key: 'extendedTextMessage' };
  for (const [key, kind] of Object.entries(MEDIA_KINDS)) {
    if (content[key]) {
      if (key === 'audioMessage' && content[key].ptt) return { kind: 'ptt', key };
      return { kind, key };
    }
  }
  if (content.locationMessage) return { kind: 'location', key: 'locationMessage' };
  if (content.liveLocationMessage) return { kind: 'location', key: 'liveLocationMessage' };
  if (content.contactMessage) return { kind: 'contact', key: 'contactMessage' };
  if (content.contactsArrayMessage) return { kind: 'contacts', key: 'contactsArrayMessage' };
  if (content.reactionMessage) return { kind: 'reaction', key: 'reactionMessage' };
  for (const key of ['pollCreationMessage', 'pollCreationMessageV2', 'pollCreationMessageV3']) {
    if (content[key]) return { kind: 'poll', key };
  }
  for (const key of [
    'buttonsResponseMessage',
    'listResponseMessage',
    'templateButtonReplyMessage',
    'interactiveResponseMessage',
  ]) {
    if (content[key]) return { kind: 'response', key };
  }
  if (content.groupInviteMessage) return { kind: 'invite', key: 'groupInviteMessage' };
  const keys = Object.keys(content).filter((k) => content[k] != null);
  if (keys.length > 0 && keys.every((k) => SIGNALLING.has(k)))
    return { kind: 'signalling', key: keys[0] };
  const signalling = keys.find((k) => SIGNALLING.has(k) && k !== 'messageContextInfo' && k !== 'senderKeyDistributionMessage');
  if (signalling) return { kind: 'signalling', key: signalling };
  return { kind: 'unknown', key: keys.find((k) => k !== 'messageContextInfo') || '' };
}

/** The contextInfo of a content (quote, mentions), or {}. */
export function contextInfoOf(content) {
  if (!content || typeof content !== 'object') return {};
  for (const [key, value] of Object.entries(content)) {
    if (key === 'messageContextInfo') continue;
    if (value && typeof value === 'object' && value.contextInfo) return value.contextInfo;
  }
  return {};
}

/** Seconds since the epoch from a number, a Long ({low, high}), a string or a bigint. */
export function toSeconds(ts) {
  let n = NaN;
  if (typeof ts === 'number') n = ts;
  else if (typeof ts === 'bigint') n = Number(ts);
  else if (typeof ts === 'string') n = Number(ts);
  else if (ts && typeof ts.toNumber === 'function') n = ts.toNumber();
  else if (ts && typeof ts.low === 'number') n = (ts.high >>> 0) * 4294967296 + (ts.low >>> 0);
  if (!Number.isFinite(n) || n <= 0) return 0;
  // Milliseconds by mistake (13 digits): bring it back to seconds.
  if (n > 1e12) n = Math.floor(n / 1000);
  return Math.floor(n);
}

const str = (v) => (typeof v === 'string' ? v : v == null ? '' : String(v));

function formatLocation(loc, live) {
  const name = [str(loc.name), str(loc.address)].filter(Boolean).join(', ');
  const lat = loc.degreesLatitude;
  const lng = loc.degreesLongitude;
  const coords = lat != null && lng != null ? `${lat},${lng}` : '';
  return `[${live ? 'Live location' : 'Location'}: ${[name, coords].filter(Boolean).join(' ')}]`;
}

function vcardField(vcard, field) {
  const m = str(vcard).match(new RegExp(`^${field}[^:\\n]*:(.*)$`, 'm'));
  return m ? m[1].trim() : '';
}

function formatContact(c) {
  const name = str(c.displayName) || vcardField(c.vcard, 'FN') || 'unknown';
  const phone = vcardField(c.vcard, 'TEL');
  return `[Contact: ${[name, phone].filter(Boolean).join(' ')}]`;
}

function pollOptions(poll) {
  return (poll.options || []).map((o) => str(o.optionName)).filter(Boolean);
}

/**
 * The text an agent reads for a content: the text, a caption, or a short
 * bracketed description ("[Location: …]", "[Poll: …]"). "" when there is none.
 */
export function bodyOf(content) {
  const { kind, key } = classifyContent(content);
  const item = key ? content[key] : null;
  switch (kind) {
    case 'text':
      return key === 'conversation' ? str(content.conversation) : str(item.text);
    case 'image':
    case 'video':
    case 'document':
      return str(item.caption);
    case 'audio':
    case 'ptt':
    case 'sticker':
      return '';
    case 'location':
      return formatLocation(item, key === 'liveLocationMessage');
    case 'contact':
      return formatContact(item);
    case 'contacts': {
      const contacts = item.contacts || [];
      const names = contacts.map((c) => str(c.displayName) || vcardField(c.vcard, 'FN')).filter(Boolean);
      return `[Contacts: ${names.length ? names.join(', ') : contacts.length}]`;
    }
    case 'reaction': {
      const target = str(item.key?.id);
      return item.text
        ? `[Reaction: ${str(item.text)}${target ? ` to ${target}` : ''}]`
        : `[Reaction removed${target ? ` from ${target}` : ''}]`;
    }
    case 'poll': {
      const options = pollOptions(item);
      return `[Poll: ${str(item.name)}${options.length ? ` Options: ${options.join(', ')}` : ''}]`;
    }
    case 'response':
      return (
        str(item.selectedDisplayText) ||
        str(item.title) ||
        str(item.body?.text) ||
        str(item.singleSelectReply?.selectedRowId)
      );
    case 'invite':
      return `[Group invite: ${str(item.groupName)}${item.caption ? ` ${str(item.caption)}` : ''}]`;
    default:
      return '';
  }
}

/** The quoted message's text for quotedText: body, else "[image]"-style kind. */
function quotedTextOf(quoted) {
  if (!quoted) return '';
  const content = unwrapContent(quoted);
  const body = bodyOf(content);
  if (body) return body;
  const { kind, key } = classifyContent(content);
  if (kind === 'document' && content[key]?.fileName) return `[document: ${str(content[key].fileName)}]`;
  if (MEDIA_KINDS[key] || kind === 'ptt') return `[${kind}]`;
  return '';
}

// A uid is an LMDB key: at most 256 bytes (upstream::max_uid_bytes) and no
// control characters. Real ones are ~30-130 bytes; anything else is hashed.
const MAX_UID_BYTES = 256;

/** The journal's dedupe key: chatId:messageId, plus :participant in groups. */
export function uidOf(msg) {
  const key = msg?.key || {};
  const chatId = normalizeJid(str(key.remoteJid));
  const id = str(key.id);
  let uid = `${chatId}:${id}`;
  if (isGroupJid(chatId)) uid += `:${normalizeJid(str(key.participant || msg.participant))}`;
  // eslint-disable-next-line no-control-regex
  if (Buffer.byteLength(uid) > MAX_UID_BYTES || /[\u0000-\u001f\u007f]/.test(uid)) {
    uid = `${chatId.slice(0, 100).replace(/[^\x20-\x7e]/g, '?')}:sha256:${createHash('sha256').update(uid).digest('hex')}`;
  }
  return uid;
}

/** The ids of this account: its phone JID and its LID, without devices. */
export function botIdsOf(me) {
  const ids = [];
  for (const jid of [me?.id, me?.lid]) {
    const n = jid ? normalizeJid(jid) : '';
    if (n && !ids.includes(n)) ids.push(n);
  }
  return ids;
}

/** The sender of a message as a JID (without device). */
export function senderOf(msg, me) {
  const key = msg.key || {};
  const chatId = normalizeJid(str(key.remoteJid));
  if (isGroupJid(chatId)) return normalizeJid(str(key.participant || msg.participant));
  if (!key.fromMe) return chatId;
  // Our own message in a direct chat: our id in the chat's kind of address.
  const mine = isLidJid(chatId) ? me?.lid || me?.id : me?.id || me?.lid;
  return mine ? normalizeJid(mine) : chatId;
}

const EXT_BY_MIME = {
  'image/jpeg': '.jpg',
  'image/png': '.png',
  'image/webp': '.webp',
  'image/gif': '.gif',
  'video/mp4': '.mp4',
  'video/3gpp': '.3gp',
  'video/quicktime': '.mov',
  'audio/ogg': '.ogg',
  'audio/mpeg': '.mp3',
  'audio/mp4': '.m4a',
  'audio/aac': '.aac',
  'audio/wav': '.wav',
  'audio/amr': '.amr',
  'application/pdf': '.pdf',
  'text/plain': '.txt',
  'application/zip': '.zip',
};
const DEFAULT_EXT = { image: '.jpg', video: '.mp4', audio: '.ogg', ptt: '.ogg', sticker: '.webp', document: '.bin' };

/** A file name for a message's media: stable per uid, so a retry overwrites it. */
export function mediaFileName(uid, messageId, kind, mime, fileName) {
  let ext = '';
  const fromName = path.extname(str(fileName)).toLowerCase();
  if (kind === 'document' && /^\.[a-z0-9]{1,10}$/.test(fromName)) ext = fromName;
  if (!ext) ext = EXT_BY_MIME[str(mime).split(';')[0].trim().toLowerCase()] || DEFAULT_EXT[kind] || '.bin';
  const safeId = str(messageId).replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'media';
  const hash = createHash('sha256').update(uid).digest('hex').slice(0, 10);
  return `${safeId}-${hash}${ext}`;
}

// Writes data (a Buffer/Uint8Array or a readable stream) to dir/name durably:
// temp file, fsync, rename. Returns the final path.
async function writeMediaFile(dir, name, data) {
  await fsp.mkdir(dir, { recursive: true });
  const finalPath = path.join(dir, name);
  const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
  try {
    if (data instanceof Uint8Array) {
      await fsp.writeFile(tmp, data);
    } else if (data && typeof data.pipe === 'function') {
      await pipeline(data, createWriteStream(tmp));
    } else if (data && typeof data[Symbol.asyncIterator] === 'function') {
      await pipeline(Readable.from(data), createWriteStream(tmp));
    } else {
      throw new Error('the download gave no data');
    }
    const fh = await fsp.open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, finalPath);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
  return finalPath;
}

/**
 * The SPEC §4 event for a Baileys message. Never throws for a message that
 * has a key; a failed media download leaves hasMedia true and mediaUrls
 * empty, and is reported through ctx.log.
 *
 * ctx: { me: {id, lid, name}, mediaDir, downloadMedia(msg) → Buffer|stream,
 *        chatName(jid) → Promise<string>, log, downloadTimeoutMs }
 */
export async function mapMessage(msg, ctx = {}) {
  const key = msg.key || {};
  const me = ctx.me || {};
  const chatId = normalizeJid(str(key.remoteJid));
  const messageId = str(key.id);
  const isGroup = isGroupJid(chatId);
  const senderId = senderOf(msg, me);
  const uid = uidOf(msg);
  const content = unwrapContent(msg.message);
  const { kind, key: contentKey } = classifyContent(content);
  const item = contentKey && content ? content[contentKey] : null;
  const ctxInfo = contextInfoOf(content);

  const pushName = str(msg.pushName);
  const senderName = key.fromMe ? str(me.name) || pushName || userOf(senderId) : pushName || userOf(senderId);
  let chatName = '';
  if (isGroup) {
    try {
      chatName = ctx.chatName ? str(await ctx.chatName(chatId)) : '';
    } catch {
      chatName = '';
    }
    if (!chatName) chatName = userOf(chatId);
  } else {
    chatName = key.fromMe ? str(me.name) || userOf(chatId) : pushName || userOf(chatId);
  }

  const hasMedia = Boolean(MEDIA_KINDS[contentKey]);
  const mediaType = hasMedia ? kind : ['location', 'contact', 'contacts', 'reaction', 'poll'].includes(kind) ? kind : '';
  const mime = hasMedia ? str(item.mimetype) : '';
  const fileName = kind === 'document' ? str(item.fileName) : '';
  const mediaUrls = [];
  if (hasMedia) {
    if (!ctx.downloadMedia || !ctx.mediaDir) {
      ctx.log?.warn?.(`media of ${uid} not downloaded: no downloader`);
    } else {
      try {
        const ms = ctx.downloadTimeoutMs ?? 300000;
        const data = await withTimeout(
          Promise.resolve().then(() => ctx.downloadMedia(msg)),
          ms,
          `media download timed out after ${Math.round(ms / 1000)} s`,
        );
        const name = mediaFileName(uid, messageId, kind, mime, fileName);
        mediaUrls.push(await writeMediaFile(ctx.mediaDir, name, data));
      } catch (err) {
        ctx.log?.warn?.(`media download failed for ${uid} (${kind}): ${err?.message || err}; the event has no mediaUrls`);
      }
    }
  }

  let quotedMessageId = str(ctxInfo.stanzaId);
  let quotedParticipant = ctxInfo.participant ? normalizeJid(str(ctxInfo.participant)) : '';
  const quotedText = quotedTextOf(ctxInfo.quotedMessage);
  if (kind === 'reaction' && item?.key) {
    // A reaction points at the message it reacts to.
    quotedMessageId = str(item.key.id);
    quotedParticipant = item.key.participant ? normalizeJid(str(item.key.participant)) : '';
  }
  const hasQuotedMessage = Boolean(ctxInfo.quotedMessage) || quotedMessageId !== '';

  const mentionedIds = [];
  for (const jid of ctxInfo.mentionedJid || []) {
    const n = normalizeJid(str(jid));
    if (n && !mentionedIds.includes(n)) mentionedIds.push(n);
  }

  return {
    messageId,
    chatId,
    senderId,
    senderName,
    chatName,
    isGroup,
    body: bodyOf(content),
    hasMedia,
    mediaType,
    mediaUrls,
    mime,
    fileName,
    mentionedIds,
    quotedMessageId,
    quotedParticipant,
    quotedText,
    hasQuotedMessage,
    botIds: botIdsOf(me),
    readReceiptKey: {
      remoteJid: str(key.remoteJid) || chatId,
      id: messageId,
      participant: isGroup ? str(key.participant || msg.participant) : '',
      fromMe: Boolean(key.fromMe),
    },
    timestamp: toSeconds(msg.messageTimestamp) || Math.floor(Date.now() / 1000),
  };
}

/**
 * A JSON-safe copy of a message for the spool: bytes become base64 strings
 * (protobuf objects do so through their own toJSON), so proto.Message.fromObject
 * or the fake backend can bring it back.
 */
export function storableMessage(msg) {
  return JSON.parse(
    JSON.stringify(msg, (_k, value) => {
      if (value && value.type === 'Buffer' && Array.isArray(value.data)) return Buffer.from(value.data).toString('base64');
      if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
      if (typeof value === 'bigint') return value.toString();
      return value;
    }),
  );
}
