// The sidecar: connects the WhatsApp connection, the spool, the outbound
// commands and the protocol channel (docs/sidecar.md).
//
// Inbound path, one message at a time and in order:
//   messages.upsert ─▶ filters ─▶ spool "raw" (fsync) ─▶ event (media download,
//   group name) ─▶ spool "event" ─▶ stdout.
// Confirms remove events from the spool. At start the spool is replayed
// (origin "offline") before the socket is opened.
import fs from 'node:fs';
import path from 'node:path';

import { Connection } from './connection.js';
import { mapMessage, storableMessage, uidOf } from './event_mapper.js';
import { decide, decideSync, parseAllowlist } from './filters.js';
import { isGroupJid, normalizeJid } from './jid.js';
import { Outbound } from './outbound.js';
import { Spool } from './pending_store.js';
import { parseWorkerLine } from './protocol.js';
import { BoundedMap, SerialQueue, withTimeout } from './serial_queue.js';

const GROUP_NAME_TTL_MS = 10 * 60 * 1000;
const GROUP_NAME_RETRY_MS = 60 * 1000;

/** The account's own ids from Baileys' saved credentials (before a connection opens). */
export function savedMe(authDir) {
  try {
    const creds = JSON.parse(fs.readFileSync(path.join(authDir, 'creds.json'), 'utf8'));
    const me = creds?.me;
    return me && typeof me.id === 'string' ? { id: me.id, lid: me.lid || '', name: me.name || '' } : null;
  } catch {
    return null;
  }
}

export class Sidecar {
  /**
   * opts: { account, stateDir, mediaDir, settings, backend, writer (ProtocolWriter),
   *         log, version, exit(code), sendTimeoutMs }
   */
  constructor(opts) {
    this.opts = opts;
    this.settings = opts.settings;
    this.backend = opts.backend;
    this.writer = opts.writer;
    this.log = opts.log;
    this.exit = opts.exit || ((code) => process.exit(code));
    this.authDir = path.join(opts.stateDir, 'auth');
    this.allow = parseAllowlist(this.settings.allowedUsers);
    this.inbound = new SerialQueue();
    this.sentIds = new BoundedMap(2000); // ids this sidecar sent (echo filter)
    this.messages = new BoundedMap(2000); // id -> { key, message } for replies and reactions
    this.names = new BoundedMap(5000); // jid -> push name
    this.groupNames = new Map(); // jid -> { name, at }
    this.sock = null;
    this.me = null;
    this.state = 'starting';
    this.intakeOpen = true; // events go to stdout
    this.stopRequested = false;
    this.exiting = false;
    this.counters = { taken: 0, skipped: 0, emitted: 0, replayed: 0, confirmed: 0 };
  }

  /** Opens the spool, says hello, replays the spool, starts connecting. */
  start() {
    const { stateDir, mediaDir, account } = this.opts;
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(this.authDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(mediaDir, { recursive: true });
    this.spool = Spool.open(stateDir, { log: this.log });
    this.me = savedMe(this.authDir);

    this.writer.hello(this.opts.version, { backend: this.backend.name });
    this.log.setSink((level, msg) => !this.stopRequested && this.writer.log(level, msg));
    this.warnAboutSettings();
    this.replay();

    this.connection = new Connection({
      backend: this.backend,
      account,
      authDir: this.authDir,
      pairPhone: this.settings.pairPhone,
      reconnectInitialMs: this.settings.reconnectInitialMs,
      reconnectMaxMs: this.settings.reconnectMaxMs,
      log: this.log,
      socketOptions: {
        getMessage: async (key) => this.messages.get(key?.id)?.message,
        ...(this.settings.receiptAfterSpool ? { beforeReceipt: (msg, type, clean) => this.beforeReceipt(msg, type, clean) } : {}),
      },
    });
    this.connection.on('state', (s) => this.onState(s));
    this.connection.on('socket', (sock) => this.onSocket(sock));
    this.connection.on('open', (sock) => {
      if (sock.user?.id) this.me = { id: sock.user.id, lid: sock.user.lid || '', name: sock.user.name || '' };
      this.log.info(`connected as ${this.me ? normalizeJid(this.me.id) : '?'}${this.spool.size ? `; ${this.spool.size} event(s) wait for the worker's confirm` : ''}`);
    });
    this.outbound = new Outbound({
      getSocket: () => this.sock,
      isConnected: () => Boolean(this.sock) && this.connection.connected,
      stateText: () => this.state,
      messages: this.messages,
      names: this.names,
      log: this.log,
      timeoutMs: this.opts.sendTimeoutMs,
      onSent: (sent) => {
        if (sent?.key?.id) {
          this.sentIds.set(sent.key.id, true);
          if (sent.message) this.messages.set(sent.key.id, { key: sent.key, message: sent.message });
        }
      },
    });
    this.connection.start();
  }

  warnAboutSettings() {
    const s = this.settings;
    if (s.mode === 'bot' && !this.allow.all && this.allow.numbers.size + this.allow.jids.size === 0)
      this.log.warn('bot mode with an empty allowed_users takes nobody\'s messages; set allowed_users = ["*"] to take everybody\'s');
    if (s.receiptAfterSpool && this.backend.receiptHook === false)
      this.log.error('receipt_after_spool is on but the installed Baileys is not patched (run npm ci in sidecar/baileys): delivery receipts go out before messages reach the spool');
    if (this.allow.invalid.length)
      this.log.warn(`allowed_users entries ignored (not "*", digits or a JID): ${this.allow.invalid.join(', ')}`);
  }

  // Everything the worker has not confirmed goes out again first, as "offline".
  replay() {
    const pending = this.spool.pending();
    if (pending.length === 0) return;
    this.log.info(`replaying ${pending.length} unconfirmed event(s) from the spool`);
    for (const entry of pending) {
      this.inbound.push(async () => {
        this.counters.replayed++;
        if (entry.event) {
          if (this.intakeOpen) this.writer.event(entry.uid, 'offline', entry.event);
          return;
        }
        // Only the raw message was kept (a crash before its event was made): make it now.
        let msg;
        try {
          msg = this.backend.reviveMessage(entry.raw);
        } catch (err) {
          this.log.error(`spooled message ${entry.uid} cannot be read back (${err?.message || err}); it stays in the spool`);
          return;
        }
        try {
          await this.emit(null, msg, entry.uid, 'offline');
        } catch (err) {
          this.log.error(`no event could be made of spooled ${entry.uid} (${err?.message || err}); it stays in the spool`);
        }
      });
    }
  }

  onState(s) {
    this.state = s.state;
    if (!this.stopRequested) this.writer.state(s.state, s);
  }

  onSocket(sock) {
    this.sock = sock;
    if (!sock) return;
    sock.ev.on('messages.upsert', (upsert) => this.onUpsert(sock, upsert));
  }

  // Called by the patched Baileys (scripts/patch-baileys.js) for each
  // incoming message before it sends WhatsApp the delivery receipt, and
  // awaited: the message goes through the filters and, when taken, into the
  // spool (fsync'd) exactly as messages.upsert would take it. When Baileys
  // emits the upsert later, the uid is already pending and is not taken
  // twice. Throwing withholds the receipt (Baileys then NACKs the message,
  // and WhatsApp keeps it for a later delivery): done when the spool cannot
  // be written, so a receipt never goes out for a message we could lose.
  // `clean` is Baileys' cleanMessage (JID normalisation) for our own copy:
  // the original must stay as Baileys has it until after the receipt.
  beforeReceipt(msg, type, clean) {
    let copy;
    try {
      copy = this.backend.reviveMessage(storableMessage(msg));
      clean?.(copy);
    } catch (err) {
      // Cannot make a copy to spool: let the ordinary upsert path take it.
      this.log.warn(`${msg?.key?.remoteJid}/${msg?.key?.id}: not spooled before its receipt (${err?.message || err})`);
      return;
    }
    const durable = this.onUpsert(this.sock, { type, messages: [copy] });
    if (!durable) throw new Error('the spool cannot be written; delivery receipt withheld');
  }

  // Runs inside Baileys' event emit. Everything up to the spool is
  // synchronous: when this returns, the messages taken are on disk (fsync'd),
  // whatever happens to this process next. Returns false only when messages
  // were taken but the spool could not be written.
  onUpsert(sock, upsert) {
    const type = upsert?.type;
    if (type !== 'notify' && type !== 'append') {
      this.log.debug(`messages.upsert of type ${type} ignored`);
      return true;
    }
    // notify: delivered now; append: the server held it while we were away.
    const origin = type === 'notify' ? 'live' : 'offline';
    const messages = Array.isArray(upsert.messages) ? upsert.messages : [];
    const ctx = this.filterContext(sock);
    const accepted = [];
    for (const msg of messages) {
      let verdict;
      try {
        verdict = decideSync(msg, ctx);
      } catch (err) {
        verdict = { take: false, reason: `filter failed: ${err?.message || err}` };
      }
      if (verdict.take === false) {
        this.counters.skipped++;
        this.log.debug(`skipped ${msg?.key?.remoteJid}/${msg?.key?.id}: ${verdict.reason}`);
        continue;
      }
      let stored;
      try {
        stored = storableMessage(msg);
      } catch (err) {
        stored = { key: msg.key, messageTimestamp: msg.messageTimestamp, pushName: msg.pushName, unstorable: String(err?.message || err) };
      }
      accepted.push({ uid: uidOf(msg), origin, msg: stored, live: msg, check: verdict.take === 'check' });
    }
    if (accepted.length === 0) return true;
    const fresh = new Set(this.spool.addRaw(accepted).map((it) => it.uid));
    const durable = fresh.size === 0 || !this.spool.failed;
    const items = accepted.filter((it) => {
      if (fresh.has(it.uid)) return true;
      this.log.debug(`${it.uid} is already waiting for a confirm; not taken twice`);
      return false;
    });
    if (items.length === 0) return durable;
    this.inbound
      .push(() => this.take(sock, items, ctx))
      .catch((err) => this.log.error(`taking ${items.length} message(s) failed: ${err?.stack || err}`));
    return durable;
  }

  filterContext(sock) {
    return {
      mode: this.settings.mode,
      allow: this.allow,
      me: this.currentMe(sock),
      sentIds: this.sentIds,
      resolvePn: (lid) => this.backend.resolvePn(sock, lid),
    };
  }

  currentMe(sock) {
    const u = sock?.user;
    return u?.id ? { id: u.id, lid: u.lid || '', name: u.name || '' } : this.me || {};
  }

  // The slow part, one batch after the other: the LID lookups the filter
  // could not do at once, media downloads, group names.
  async take(sock, items, ctx) {
    for (const item of items) {
      if (item.check) {
        let verdict;
        try {
          verdict = await decide(item.live, ctx);
        } catch (err) {
          verdict = { take: false, reason: `filter failed: ${err?.message || err}` };
        }
        if (!verdict.take) {
          this.counters.skipped++;
          this.log.debug(`skipped ${item.uid}: ${verdict.reason}`);
          this.spool.drop(item.uid);
          continue;
        }
      }
      this.counters.taken++;
      try {
        await this.emit(sock, item.live, item.uid, item.origin);
      } catch (err) {
        // Kept in the spool: the next start tries again.
        this.log.error(`no event could be made of ${item.uid} (${err?.message || err}); it stays in the spool`);
      }
    }
  }

  // Makes the event of a spooled message and sends it to the worker.
  async emit(sock, msg, uid, lineOrigin) {
    this.remember(msg);
    const live = sock || this.sock;
    const event = await mapMessage(msg, {
      me: this.currentMe(live),
      mediaDir: this.opts.mediaDir,
      downloadMedia: (m) => this.backend.downloadMedia(m, live),
      chatName: (jid) => this.groupName(jid),
      log: this.log,
    });
    if (!event.body && !event.hasMedia) {
      this.log.debug(`${uid} has no text and no media; dropped`);
      this.spool.drop(uid);
      return;
    }
    this.spool.setEvent(uid, lineOrigin, event);
    if (this.intakeOpen) {
      this.writer.event(uid, lineOrigin, event);
      this.counters.emitted++;
    }
  }

  remember(msg) {
    const key = msg?.key;
    if (!key?.id) return;
    if (msg.message) this.messages.set(key.id, { key, message: msg.message });
    if (msg.pushName && !key.fromMe) {
      const sender = isGroupJid(key.remoteJid) ? key.participant : key.remoteJid;
      if (sender) this.names.set(normalizeJid(sender), String(msg.pushName));
    }
  }

  // A group's subject, cached; "" when it cannot be had now.
  async groupName(jid) {
    const cached = this.groupNames.get(jid);
    const now = Date.now();
    if (cached && now - cached.at < (cached.name ? GROUP_NAME_TTL_MS : GROUP_NAME_RETRY_MS)) return cached.name;
    const sock = this.sock;
    if (!sock || !this.connection?.connected || typeof sock.groupMetadata !== 'function') return cached?.name || '';
    try {
      const meta = await withTimeout(sock.groupMetadata(jid), 5000, 'group metadata timed out');
      const name = String(meta?.subject || '');
      this.groupNames.set(jid, { name, at: now });
      return name;
    } catch (err) {
      this.log.debug(`group metadata of ${jid} failed: ${err?.message || err}`);
      this.groupNames.set(jid, { name: cached?.name || '', at: now });
      return cached?.name || '';
    }
  }

  /** One line from the worker. */
  onLine(line) {
    const msg = parseWorkerLine(line);
    if (msg.error) {
      this.log.warn(`worker line skipped: ${msg.error}`);
      if (msg.id) this.writer.sendResult(msg.id, { ok: false, error: msg.error });
      return;
    }
    switch (msg.type) {
      case 'confirm': {
        const n = this.spool.confirm(msg.uids);
        this.counters.confirmed += n;
        if (n < msg.uids.length) this.log.debug(`confirm named ${msg.uids.length - n} uid(s) not waiting here (ignored)`);
        break;
      }
      case 'send':
        this.outbound.run(msg).then(
          (result) => this.writer.sendResult(msg.id, result),
          (err) => this.writer.sendResult(msg.id, { ok: false, error: String(err?.message || err) }),
        );
        break;
      case 'stop':
        this.stop();
        break;
      default:
        break;
    }
  }

  /**
   * The worker's drain: no new events, the socket is ended, what was written
   * is flushed, state "stopped", stdout closed. stdin is still read (the last
   * confirms) until EOF.
   */
  async stop() {
    if (this.stopRequested || this.exiting) return;
    this.intakeOpen = false;
    this.connection?.stop();
    this.writer.state('stopped');
    this.stopRequested = true;
    this.log.stderr('info', `stop: intake stopped; ${this.spool?.size ?? 0} event(s) not confirmed yet`);
    await this.writer.close(5000);
  }

  /**
   * stdin EOF, a signal, or the worker gone: keep what is unconfirmed and
   * exit, well within the 2 s the worker waits before it kills.
   */
  async shutdown(why, code = 0) {
    if (this.exiting) return;
    this.exiting = true;
    this.intakeOpen = false;
    try {
      // Ending the socket releases what Baileys still holds back; it is
      // spooled (synchronously) before the spool is closed below.
      this.connection?.stop();
      this.backend.close?.();
    } catch {
      // exiting anyway
    }
    const kept = this.spool?.size ?? 0;
    try {
      this.spool?.close();
    } catch (err) {
      this.log.stderr('error', `closing the spool failed: ${err?.message || err}`);
      code = code || 1;
    }
    this.log.stderr(
      'info',
      `exiting (${why}): ${kept} unconfirmed event(s) kept in the spool; taken=${this.counters.taken} skipped=${this.counters.skipped} confirmed=${this.counters.confirmed}`,
    );
    // Let a credentials write under way finish (a torn creds.json would unlink the account).
    await this.backend.settle?.(1000).catch?.(() => {});
    this.exit(code);
  }
}
