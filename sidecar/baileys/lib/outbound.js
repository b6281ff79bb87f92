// Outbound commands (`send` lines) → Baileys socket calls (docs/sidecar.md,
// "Outbound"). The ops and their args are those of outbound/outbound_request.cpp.
//
// Everything that creates a WhatsApp message (send, edit, send-media,
// send-poll, send-location, react) goes through one queue, one at a time:
// overlapping sendMessage calls on one socket can misdeliver across chats.
// typing, read and chat do not create messages and run at once.
import { promises as fsp } from 'node:fs';
import path from 'node:path';

import { isGroupJid, normalizeJid, userOf } from './jid.js';
import { SerialQueue, withTimeout } from './serial_queue.js';

export const MESSAGE_OPS = new Set(['send', 'edit', 'send-media', 'send-poll', 'send-location', 'react']);
export const DIRECT_OPS = new Set(['typing', 'read', 'chat']);

const IMAGE = ['jpg', 'jpeg', 'png', 'webp', 'gif'];
const VIDEO = ['mp4', 'mov', 'avi', 'mkv', '3gp'];
const AUDIO = ['ogg', 'opus', 'mp3', 'wav', 'm4a', 'aac'];

/** The media type for a file extension (as the worker's infer_media_type). */
export function inferMediaType(ext) {
  const e = String(ext || '').toLowerCase();
  if (IMAGE.includes(e)) return 'image';
  if (VIDEO.includes(e)) return 'video';
  if (AUDIO.includes(e)) return 'audio';
  return 'document';
}

const MIME = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  avi: 'video/x-msvideo',
  mkv: 'video/x-matroska',
  '3gp': 'video/3gpp',
  ogg: 'audio/ogg; codecs=opus',
  opus: 'audio/ogg; codecs=opus',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  pdf: 'application/pdf',
  txt: 'text/plain',
  csv: 'text/csv',
  json: 'application/json',
  zip: 'application/zip',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
};

/** The Baileys message content for a send-media command (the file must exist). */
export async function mediaContent(args) {
  const filePath = String(args.filePath || '');
  if (!filePath) throw new Error('filePath is required');
  let st;
  try {
    st = await fsp.stat(filePath);
  } catch {
    throw new Error(`file not found: ${filePath}`);
  }
  if (!st.isFile()) throw new Error(`not a regular file: ${filePath}`);
  const ext = path.extname(filePath).slice(1).toLowerCase();
  const type = args.mediaType || inferMediaType(ext);
  const caption = args.caption ? String(args.caption) : undefined;
  const media = { url: filePath }; // Baileys streams a local path from disk
  switch (type) {
    case 'image':
      return { image: media, caption, mimetype: MIME[ext] && IMAGE.includes(ext) ? MIME[ext] : 'image/jpeg' };
    case 'video':
      return { video: media, caption, mimetype: MIME[ext] && VIDEO.includes(ext) ? MIME[ext] : 'video/mp4' };
    case 'audio': {
      const voice = ext === 'ogg' || ext === 'opus';
      return { audio: media, mimetype: MIME[ext] && AUDIO.includes(ext) ? MIME[ext] : 'audio/mpeg', ptt: voice };
    }
    case 'sticker':
      return { sticker: media, mimetype: 'image/webp' };
    case 'document':
      return {
        document: media,
        mimetype: MIME[ext] || 'application/octet-stream',
        fileName: args.fileName ? String(args.fileName) : path.basename(filePath),
        caption,
      };
    default:
      throw new Error(`unknown mediaType "${type}"`);
  }
}

function requireString(args, name) {
  const v = args[name];
  if (typeof v !== 'string' || v === '') throw new Error(`${name} is required and must be a non-empty string`);
  return v;
}

export class Outbound {
  /**
   * opts: {
   *   getSocket() → the Baileys socket or null,
   *   isConnected() → bool, stateText() → e.g. "disconnected",
   *   messages: Map id → { key, message } of recent messages (for replies and reactions),
   *   names: Map jid → push name,
   *   onSent(fullMessage) — called for every message that went out,
   *   log, timeoutMs (per Baileys call), chatTimeoutMs }
   */
  constructor(opts) {
    this.opts = opts;
    this.queue = new SerialQueue();
    this.timeoutMs = opts.timeoutMs ?? 60000;
    this.chatTimeoutMs = opts.chatTimeoutMs ?? 15000;
  }

  /** Runs one `send` line's command; resolves to { ok, messageIds?, error?, data? }. Never rejects. */
  run(cmd) {
    if (!MESSAGE_OPS.has(cmd.op) && !DIRECT_OPS.has(cmd.op)) return Promise.resolve({ ok: false, error: 'unsupported op' });
    const task = () => this.exec(cmd).catch((err) => ({ ok: false, error: errorText(err) }));
    return MESSAGE_OPS.has(cmd.op) ? this.queue.push(task) : task();
  }

  async exec(cmd) {
    const sock = this.opts.getSocket();
    if (!sock || !this.opts.isConnected()) {
      return { ok: false, error: `not connected to WhatsApp (state: ${this.opts.stateText?.() || 'disconnected'})` };
    }
    const args = cmd.args || {};
    const options = cmd.messageId ? { messageId: cmd.messageId } : {};
    switch (cmd.op) {
      case 'send': {
        const chatId = requireString(args, 'chatId');
        const text = requireString(args, 'message');
        if (args.replyTo) options.quoted = this.quotedFor(chatId, String(args.replyTo));
        return this.sendMessage(sock, chatId, { text }, options, cmd);
      }
      case 'edit': {
        const chatId = requireString(args, 'chatId');
        const target = requireString(args, 'messageId');
        const text = requireString(args, 'message');
        return this.sendMessage(sock, chatId, { text, edit: { remoteJid: chatId, id: target, fromMe: true } }, options, cmd);
      }
      case 'send-media': {
        const chatId = requireString(args, 'chatId');
        return this.sendMessage(sock, chatId, await mediaContent(args), options, cmd);
      }
      case 'send-poll': {
        const chatId = requireString(args, 'chatId');
        const name = requireString(args, 'question');
        const values = Array.isArray(args.options) ? args.options.map(String) : [];
        if (values.length < 2) throw new Error('options must hold at least 2 strings');
        const selectableCount = Number.isInteger(args.selectableCount) ? args.selectableCount : 0;
        return this.sendMessage(sock, chatId, { poll: { name, values, selectableCount } }, options, cmd);
      }
      case 'send-location': {
        const chatId = requireString(args, 'chatId');
        const lat = Number(args.latitude);
        const lng = Number(args.longitude);
        if (!Number.isFinite(lat) || !Number.isFinite(lng)) throw new Error('latitude and longitude must be numbers');
        const location = { degreesLatitude: lat, degreesLongitude: lng };
        if (args.name) location.name = String(args.name);
        if (args.address) location.address = String(args.address);
        return this.sendMessage(sock, chatId, { location }, options, cmd);
      }
      case 'react': {
        const chatId = requireString(args, 'chatId');
        const target = requireString(args, 'messageId');
        if (typeof args.emoji !== 'string') throw new Error('emoji must be a string ("" removes the reaction)');
        const known = this.opts.messages?.get(target);
        const key = { remoteJid: chatId, id: target, fromMe: Boolean(args.fromMe ?? known?.key?.fromMe) };
        const participant = args.participant || known?.key?.participant;
        if (participant && isGroupJid(chatId)) key.participant = String(participant);
        return this.sendMessage(sock, chatId, { react: { text: args.emoji, key } }, options, cmd);
      }
      case 'typing': {
        const chatId = requireString(args, 'chatId');
        const presence = typeof args.presence === 'string' && args.presence ? args.presence : 'composing';
        await withTimeout(sock.sendPresenceUpdate(presence, chatId), this.timeoutMs, 'presence update timed out');
        return { ok: true };
      }
      case 'read': {
        const k = args.key && typeof args.key === 'object' ? args.key : null;
        if (!k || !k.remoteJid || !k.id) throw new Error('key.remoteJid and key.id are required');
        const key = { remoteJid: String(k.remoteJid), id: String(k.id), fromMe: Boolean(k.fromMe) };
        if (k.participant) key.participant = String(k.participant);
        await withTimeout(sock.readMessages([key]), this.timeoutMs, 'read receipt timed out');
        return { ok: true, data: { marked: true } };
      }
      case 'chat':
        return this.chatInfo(sock, requireString(args, 'chatId'));
      default:
        return { ok: false, error: 'unsupported op' };
    }
  }

  async sendMessage(sock, chatId, content, options, cmd) {
    const sent = await withTimeout(
      sock.sendMessage(chatId, content, options),
      this.timeoutMs,
      `sendMessage timed out after ${Math.round(this.timeoutMs / 1000)} s; the message may or may not have gone out`,
    );
    const id = sent?.key?.id || cmd.messageId || '';
    if (sent) this.opts.onSent?.(sent);
    return { ok: true, messageIds: id ? [id] : [] };
  }

  // The message a reply quotes: the real one when this sidecar saw it, else
  // a stand-in with its key (WhatsApp then shows the quote without text).
  quotedFor(chatId, id) {
    const known = this.opts.messages?.get(id);
    if (known?.key && known?.message) return known;
    return { key: { remoteJid: chatId, id, fromMe: false }, message: { conversation: '' } };
  }

  async chatInfo(sock, chatId) {
    if (isGroupJid(chatId)) {
      const meta = await withTimeout(sock.groupMetadata(chatId), this.chatTimeoutMs, 'group metadata timed out');
      return {
        ok: true,
        data: {
          name: String(meta?.subject || userOf(chatId)),
          isGroup: true,
          participants: (meta?.participants || []).map((p) => String(p.id || p.jid || '')).filter(Boolean),
        },
      };
    }
    const name = this.opts.names?.get(normalizeJid(chatId)) || userOf(chatId);
    return { ok: true, data: { name, isGroup: false, participants: [] } };
  }
}

function errorText(err) {
  const status = err?.output?.statusCode;
  const msg = err?.message || String(err);
  return status ? `${msg} (${status})` : msg;
}
