// A fake Baileys socket for tests (docs/sidecar.md, "The fake socket").
//
// FakeSocket has what the sidecar uses of a Baileys socket: `ev` (an
// EventEmitter with 'connection.update', 'creds.update', 'messages.upsert'),
// `user`, `authState.creds.registered`, and sendMessage, sendPresenceUpdate,
// readMessages, groupMetadata, requestPairingCode, end, logout. Tests drive it
// with qr(), open(), close(), loggedOut(), deliver() and incoming() (the
// receipt-then-upsert order of Baileys' handleMessage, with the
// wabridgeBeforeReceipt hook of the patched Baileys).
//
// FakeWorld is what outlives one socket: groups, media, the pairing code,
// armed failures and delays, and the record of every call.
//
// With WABRIDGE_SIDECAR_FAKE_SOCKET set, index.js uses loadFakeBackend(): a
// path ending in .js/.mjs/.cjs is a module whose createSocket(ctx) makes the
// sockets; any other path is a cue file (JSON lines) that CueDriver plays
// against the successive sockets, following the file as it grows.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { normalizeJid } from './jid.js';

export const DEFAULT_USER = Object.freeze({
  id: '15550000001:7@s.whatsapp.net',
  lid: '100000000000001:7@lid',
  name: 'wabridge fake',
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** An Error shaped like Baileys' Boom errors (output.statusCode). */
export function fakeBoom(status, message) {
  const err = new Error(message || `fake error ${status ?? ''}`.trim());
  if (status !== undefined) err.output = { statusCode: status, payload: { message: err.message } };
  return err;
}

// Bytes inside recorded arguments are shown as their length, not their content.
function recordable(value) {
  return JSON.parse(
    JSON.stringify(value ?? null, (_k, v) => {
      if (v && v.type === 'Buffer' && Array.isArray(v.data)) return `<${v.data.length} bytes>`;
      if (v instanceof Uint8Array) return `<${v.length} bytes>`;
      return v;
    }),
  );
}

export class FakeWorld {
  constructor({ logFile, registered = false, pairingCode = 'WABRIDGE' } = {}) {
    this.registered = registered;
    this.pairingCode = pairingCode;
    this.groups = new Map(); // jid -> { id, subject, participants: [{ id }] }
    this.media = new Map(); // message id -> Buffer
    this.lidToPn = new Map(); // lid jid -> phone jid
    this.failures = new Map(); // method -> [error message, ...] (one per call)
    this.delays = new Map(); // method -> ms
    this.calls = []; // { seq, method, args, start, end, ok, error }
    this.logFile = logFile || '';
    this.seq = 0;
    this.ids = 0;
  }

  /** Records a call, waits its armed delay, throws an armed failure. Returns the record. */
  async begin(method, args) {
    const call = { seq: ++this.seq, method, args: recordable(args), start: Date.now(), end: 0, ok: true };
    this.calls.push(call);
    const ms = this.delays.get(method);
    if (ms) await sleep(ms);
    const queue = this.failures.get(method);
    if (queue && queue.length) {
      const message = queue.shift();
      this.finish(call, message);
      throw new Error(message);
    }
    return call;
  }

  finish(call, error) {
    call.end = Date.now();
    if (error) {
      call.ok = false;
      call.error = error;
    }
    if (this.logFile) {
      try {
        fs.appendFileSync(this.logFile, `${JSON.stringify(call)}\n`);
      } catch {
        // a test's log; nothing to do
      }
    }
  }

  nextId() {
    this.ids++;
    return `FAKE${String(this.ids).padStart(8, '0')}`;
  }

  download(msg) {
    const id = msg?.key?.id;
    const data = this.media.get(id);
    if (!data) throw new Error(`fake: no media for message ${id}`);
    return Buffer.from(data);
  }
}

export class FakeSocket {
  constructor(world = new FakeWorld(), options = {}) {
    this.world = world;
    // Like the config of a patched Baileys socket (scripts/patch-baileys.js).
    this.beforeReceipt = options.beforeReceipt || null;
    this.ev = new EventEmitter();
    this.ev.setMaxListeners(50);
    this.user = undefined;
    this.authState = { creds: { registered: world.registered } };
    this.closed = false;
    // Like Baileys' event buffer: upserts held back (hold()) until flush().
    this.held = [];
    this.ev.flush = () => {
      const held = this.held.splice(0);
      for (const upsert of held) this.ev.emit('messages.upsert', upsert);
      return held.length > 0;
    };
    this.signalRepository = {
      lidMapping: { getPNForLID: async (lid) => world.lidToPn.get(normalizeJid(lid)) ?? null },
    };
  }

  async call(method, args, fn) {
    const call = await this.world.begin(method, args);
    try {
      const result = await fn();
      this.world.finish(call);
      return result;
    } catch (err) {
      this.world.finish(call, err?.message || String(err));
      throw err;
    }
  }

  // ---- Baileys methods ----

  sendMessage(jid, content, options = {}) {
    return this.call('sendMessage', [jid, content, options], async () => {
      if (this.closed) throw fakeBoom(428, 'Connection Closed');
      const id = options.messageId || this.world.nextId();
      return {
        key: { remoteJid: jid, fromMe: true, id },
        message: content.text !== undefined ? { extendedTextMessage: { text: content.text } } : { fake: recordable(content) },
        messageTimestamp: Math.floor(Date.now() / 1000),
      };
    });
  }

  sendPresenceUpdate(type, jid) {
    return this.call('sendPresenceUpdate', [type, jid], async () => undefined);
  }

  readMessages(keys) {
    return this.call('readMessages', [keys], async () => undefined);
  }

  groupMetadata(jid) {
    return this.call('groupMetadata', [jid], async () => {
      const meta = this.world.groups.get(jid);
      if (!meta) throw fakeBoom(404, 'item-not-found');
      return meta;
    });
  }

  requestPairingCode(phone) {
    return this.call('requestPairingCode', [phone], async () => this.world.pairingCode);
  }

  async end(error) {
    if (this.closed) return;
    this.closed = true;
    this.ev.emit('connection.update', { connection: 'close', lastDisconnect: { error, date: new Date() } });
  }

  logout() {
    return this.call('logout', [], async () => this.close(401, 'Intentional Logout'));
  }

  // ---- driving it ----

  qr(payload) {
    this.ev.emit('connection.update', { qr: payload });
  }

  open(user = DEFAULT_USER) {
    this.user = { ...user };
    this.world.registered = true;
    this.authState.creds.registered = true;
    this.ev.emit('creds.update', { me: this.user });
    this.ev.emit('connection.update', { connection: 'open' });
  }

  close(status = 428, message = 'Connection Closed') {
    if (this.closed) return;
    this.closed = true;
    this.ev.emit('connection.update', {
      connection: 'close',
      lastDisconnect: { error: fakeBoom(status, message), date: new Date() },
    });
  }

  loggedOut() {
    this.close(401, 'Connection Failure');
  }

  deliver(messages, type = 'notify') {
    this.ev.emit('messages.upsert', { messages, type });
  }

  /**
   * One incoming message the way Baileys 7.0.0-rc14 patched handles it: the
   * beforeReceipt hook (awaited), then the delivery receipt (recorded as a
   * `sendReceipt` call), then messages.upsert. A hook that throws means a
   * NACK (recorded as `sendNack`) and no upsert, as in Baileys' error path.
   * `dieAfterReceipt` kills this process with SIGKILL right after the
   * receipt: the window in which an unpatched Baileys loses the message.
   */
  async incoming(msg, type = 'notify', { dieAfterReceipt = false } = {}) {
    const jid = msg?.key?.remoteJid;
    const id = msg?.key?.id;
    if (this.beforeReceipt) {
      try {
        await this.beforeReceipt(msg, type, (m) => {
          m.key.remoteJid = normalizeJid(m.key.remoteJid);
          if (m.key.participant) m.key.participant = normalizeJid(m.key.participant);
        });
      } catch (err) {
        await this.call('sendNack', [jid, id, err?.message || String(err)], async () => undefined);
        return;
      }
    }
    await this.call('sendReceipt', [jid, id], async () => undefined);
    if (dieAfterReceipt) process.kill(process.pid, 'SIGKILL');
    this.ev.emit('messages.upsert', { messages: [msg], type });
  }

  /** Holds an upsert back, as Baileys does while it syncs, until ev.flush(). */
  hold(messages, type = 'append') {
    this.held.push({ messages, type });
  }
}

const SOCKET_CUES = new Set(['qr', 'open', 'close', 'logged_out', 'messages', 'message', 'incoming', 'hold', 'flush']);

/**
 * Plays a cue file against the sockets the sidecar creates, one after the
 * other. Cues are JSON objects, one per line, run in order; each may wait
 * "delayMs" first. Lines appended to the file later are played too.
 * docs/sidecar.md lists the cues.
 */
export class CueDriver {
  constructor(file, world, { log, pollMs = 50 } = {}) {
    this.file = file;
    this.world = world;
    this.log = log;
    this.pollMs = pollMs;
    this.offset = 0;
    this.partial = '';
    this.lines = [];
    this.sock = null;
    this.waiters = [];
    this.stopped = false;
    this.running = null;
  }

  attach(sock) {
    this.sock = sock;
    for (const wake of this.waiters.splice(0)) wake();
  }

  start() {
    if (!this.running) this.running = this.loop().catch((err) => this.log?.error?.(`fake cues stopped: ${err?.message || err}`));
    return this.running;
  }

  stop() {
    this.stopped = true;
    for (const wake of this.waiters.splice(0)) wake();
  }

  readMore() {
    let fd;
    try {
      if (fs.statSync(this.file).size <= this.offset) return; // nothing new
      fd = fs.openSync(this.file, 'r');
    } catch {
      return;
    }
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        this.partial += buf.subarray(0, n).toString('utf8');
      }
    } finally {
      fs.closeSync(fd);
    }
    const parts = this.partial.split('\n');
    this.partial = parts.pop();
    for (const line of parts) if (line.trim()) this.lines.push(line);
  }

  async nextCue() {
    while (!this.stopped) {
      if (this.lines.length === 0) this.readMore();
      if (this.lines.length) {
        const line = this.lines.shift();
        try {
          return JSON.parse(line);
        } catch {
          this.log?.warn?.(`fake cue is not JSON, skipped: ${line.slice(0, 200)}`);
          continue;
        }
      }
      await sleep(this.pollMs);
    }
    return null;
  }

  async liveSocket() {
    while (!this.stopped && (!this.sock || this.sock.closed)) {
      await new Promise((resolve) => this.waiters.push(resolve));
    }
    return this.stopped ? null : this.sock;
  }

  async loop() {
    for (;;) {
      const cue = await this.nextCue();
      if (!cue) return;
      if (cue.delayMs) await sleep(Number(cue.delayMs));
      let sock = null;
      if (SOCKET_CUES.has(cue.cue)) {
        sock = await this.liveSocket();
        if (!sock) return;
      }
      await this.play(cue, sock);
    }
  }

  play(cue, sock) {
    const w = this.world;
    switch (cue.cue) {
      case 'qr':
        sock.qr(String(cue.qr ?? 'FAKE-QR'));
        break;
      case 'open':
        sock.open(cue.user || DEFAULT_USER);
        break;
      case 'close':
        sock.close(cue.status ?? 428, cue.message ?? 'Connection Closed');
        break;
      case 'logged_out':
        sock.loggedOut();
        break;
      case 'messages':
        sock.deliver(cue.messages || [], cue.type || 'notify');
        break;
      case 'message':
        sock.deliver([cue.msg], cue.type || 'notify');
        break;
      case 'incoming':
        return sock.incoming(cue.msg, cue.type || 'notify', { dieAfterReceipt: Boolean(cue.dieAfterReceipt) });
      case 'hold':
        sock.hold(cue.messages || [cue.msg], cue.type || 'append');
        break;
      case 'flush':
        sock.ev.flush();
        break;
      case 'group':
        w.groups.set(cue.id, {
          id: cue.id,
          subject: cue.subject ?? '',
          participants: (cue.participants || []).map((p) => (typeof p === 'string' ? { id: p } : p)),
        });
        break;
      case 'media':
        w.media.set(cue.messageId, cue.base64 !== undefined ? Buffer.from(cue.base64, 'base64') : Buffer.from(String(cue.text ?? '')));
        break;
      case 'lid':
        w.lidToPn.set(normalizeJid(cue.lid), normalizeJid(cue.pn));
        break;
      case 'pairing_code':
        w.pairingCode = String(cue.code ?? '');
        break;
      case 'fail':
        for (let i = 0; i < (cue.times ?? 1); i++) {
          if (!w.failures.has(cue.method)) w.failures.set(cue.method, []);
          w.failures.get(cue.method).push(String(cue.error ?? 'fake failure'));
        }
        break;
      case 'delay':
        w.delays.set(cue.method, Number(cue.ms) || 0);
        break;
      default:
        this.log?.warn?.(`unknown fake cue ${JSON.stringify(cue.cue)}, skipped`);
    }
  }
}

/**
 * A backend (the interface of lib/backend_baileys.js) over fake sockets.
 * factory(opts) makes each socket (default: a FakeSocket on `world`);
 * onSocket(sock) sees every socket made.
 */
export function fakeBackend({ world = new FakeWorld(), factory = null, driver = null, onSocket = null } = {}) {
  return {
    name: 'fake',
    version: 'fake',
    receiptHook: true, // FakeSocket.incoming() calls it
    world,
    driver,
    async createSocket(opts = {}) {
      const sock = factory ? await factory({ ...opts, world, FakeSocket, FakeWorld, fakeBoom }) : new FakeSocket(world, opts);
      driver?.attach(sock);
      onSocket?.(sock);
      return sock;
    },
    downloadMedia(msg, sock) {
      if (sock && typeof sock.downloadMedia === 'function') return sock.downloadMedia(msg);
      return world.download(msg);
    },
    reviveMessage: (stored) => stored,
    async resolvePn(sock, lid) {
      const mapping = sock?.signalRepository?.lidMapping;
      return mapping?.getPNForLID ? mapping.getPNForLID(lid) : null;
    },
    close() {
      driver?.stop();
    },
  };
}

/**
 * The fake backend for WABRIDGE_SIDECAR_FAKE_SOCKET=spec (see the top of
 * this file). WABRIDGE_SIDECAR_FAKE_LOG=path appends every socket call as a
 * JSON line there.
 */
export async function loadFakeBackend(spec, { log, logFile = process.env.WABRIDGE_SIDECAR_FAKE_LOG } = {}) {
  const world = new FakeWorld({ logFile });
  if (/\.(c|m)?js$/.test(spec)) {
    const mod = await import(pathToFileURL(path.resolve(spec)).href);
    const factory = mod.createSocket || mod.default;
    if (typeof factory !== 'function') throw new Error(`${spec} exports no createSocket function`);
    return fakeBackend({ world, factory });
  }
  const driver = new CueDriver(spec, world, { log });
  driver.start();
  return fakeBackend({ world, driver });
}
