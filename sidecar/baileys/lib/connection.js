// The WhatsApp connection's lifecycle (docs/sidecar.md, "Lifecycle"):
//
//   connecting ─┬─▶ qr (pairing payload, maybe a pairing code) ─▶ …
//               ├─▶ connected ──▶ disconnected (reason) ──▶ connecting (after the backoff)
//               └─▶ disconnected (reason) ──▶ connecting (after the backoff)
//   any ─▶ logged_out (WhatsApp revoked this device: no more retries)
//
// One socket at a time. Reconnects use capped exponential backoff:
// reconnectInitialMs, doubled per failed attempt, at most reconnectMaxMs, and
// back to the start once a connection opens. WhatsApp's "restart required"
// (515, normal right after pairing) reconnects at once.
import { EventEmitter } from 'node:events';

export const LOGGED_OUT = 401;
export const RESTART_REQUIRED = 515;

const REASONS = {
  401: 'logged out',
  403: 'forbidden',
  408: 'timed out or connection lost',
  411: 'multi-device mismatch',
  428: 'connection closed',
  440: 'replaced by another connection of this account',
  500: 'bad session',
  503: 'service unavailable',
  515: 'restart required',
};

/** Delay before reconnect attempt n (1-based): initial·2^(n-1), capped at max. */
export function backoffDelay(attempt, initialMs, maxMs) {
  const n = Math.max(1, attempt);
  const delay = initialMs * 2 ** Math.min(n - 1, 40);
  return Math.min(delay, maxMs);
}

/** { status, message } of a Baileys lastDisconnect error (a Boom, an Error, or nothing). */
export function disconnectInfo(error) {
  const status = error?.output?.statusCode ?? error?.statusCode ?? error?.data?.statusCode;
  const message = error?.output?.payload?.message || error?.message || '';
  return { status: typeof status === 'number' ? status : undefined, message: String(message) };
}

function describeClose({ status, message }) {
  const what = status !== undefined ? `${status}${REASONS[status] ? ` ${REASONS[status]}` : ''}` : 'no status';
  return message ? `${what}: ${message}` : what;
}

/**
 * Emits:
 *   'state' ({ state, qr?, pairingCode?, reason? })  — a line for the worker
 *   'socket' (sock | null)                           — the current socket changed
 *   'open' (sock)                                    — connected
 */
export class Connection extends EventEmitter {
  /**
   * opts: { backend, account, authDir, pairPhone, reconnectInitialMs,
   *         reconnectMaxMs, log, socketOptions, setTimer, clearTimer }
   */
  constructor(opts) {
    super();
    this.opts = opts;
    this.backend = opts.backend;
    this.log = opts.log;
    this.initialMs = opts.reconnectInitialMs ?? 1000;
    this.maxMs = Math.max(opts.reconnectMaxMs ?? 60000, this.initialMs);
    this.setTimer = opts.setTimer || ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = opts.clearTimer || ((t) => clearTimeout(t));
    this.generation = 0;
    this.attempts = 0; // failed attempts since the last open
    this.sock = null;
    this.timer = null;
    this.stopped = false;
    this.loggedOut = false;
    this.connected = false;
    this.state = 'starting';
    this.qr = '';
    this.pairingCode = '';
  }

  start() {
    this.connect();
  }

  setState(state, extra = {}) {
    this.state = state;
    this.emit('state', { state, ...extra });
  }

  async connect() {
    if (this.stopped || this.loggedOut) return;
    const gen = ++this.generation;
    this.timer = null;
    this.connected = false;
    this.qr = '';
    this.pairingCode = '';
    this.setState('connecting');
    let sock;
    try {
      sock = await this.backend.createSocket({ ...(this.opts.socketOptions || {}), authDir: this.opts.authDir });
    } catch (err) {
      if (gen !== this.generation || this.stopped) return;
      this.onClose(gen, { status: undefined, message: `cannot start the socket: ${err?.message || err}` });
      return;
    }
    if (gen !== this.generation || this.stopped) {
      endQuietly(sock);
      return;
    }
    this.sock = sock;
    this.codeRequested = false;
    sock.ev.on('connection.update', (update) => this.onUpdate(gen, sock, update));
    this.emit('socket', sock);
  }

  onUpdate(gen, sock, update) {
    if (gen !== this.generation || this.stopped || !update) return;
    if (update.qr) {
      this.qr = String(update.qr);
      this.setState('qr', { qr: this.qr, pairingCode: this.pairingCode || undefined });
      this.maybeRequestCode(gen, sock);
    }
    if (update.connection === 'open') {
      this.attempts = 0;
      this.connected = true;
      this.qr = '';
      this.pairingCode = '';
      this.setState('connected');
      this.emit('open', sock);
    } else if (update.connection === 'close') {
      // Baileys destroys its event buffer right after this update, with any
      // messages it holds back during a sync (and has already acknowledged
      // to WhatsApp). Release them now.
      flushEvents(sock);
      this.onClose(gen, disconnectInfo(update.lastDisconnect?.error));
    }
  }

  // Pairing by phone number: once per socket, as soon as it can pair (it
  // shows a QR), and only while the account is not linked yet.
  maybeRequestCode(gen, sock) {
    const phone = this.opts.pairPhone;
    if (!phone || this.codeRequested || sock.authState?.creds?.registered) return;
    if (typeof sock.requestPairingCode !== 'function') return;
    this.codeRequested = true;
    Promise.resolve()
      .then(() => sock.requestPairingCode(phone))
      .then((code) => {
        if (gen !== this.generation || this.stopped || this.connected || !code) return;
        this.pairingCode = String(code);
        this.log?.info?.(`pairing code for ${phone} ready: enter it on the phone (Linked devices > Link with phone number)`);
        this.setState('qr', { qr: this.qr || undefined, pairingCode: this.pairingCode });
      })
      .catch((err) => {
        this.log?.warn?.(`requesting a pairing code for ${phone} failed: ${err?.message || err}`);
      });
  }

  onClose(gen, info) {
    if (gen !== this.generation || this.stopped) return;
    const sock = this.sock;
    this.sock = null;
    this.connected = false;
    if (sock) {
      sock.ev.removeAllListeners?.('connection.update');
      this.emit('socket', null);
    }
    if (info.status === LOGGED_OUT) {
      this.loggedOut = true;
      const name = this.opts.account || 'NAME';
      this.setState('logged_out', {
        reason: `logged out by WhatsApp (${describeClose(info)}); this device was unlinked: pair again with \`wabridge pair --account ${name}\``,
      });
      this.log?.error?.(`account logged out; not reconnecting. Run: wabridge pair --account ${name}`);
      endQuietly(sock);
      return;
    }
    if (info.status === RESTART_REQUIRED) {
      this.log?.info?.('WhatsApp asked for a restart of the connection (515); reconnecting now');
      this.connect();
      return;
    }
    this.attempts++;
    const delay = backoffDelay(this.attempts, this.initialMs, this.maxMs);
    const reason = `${describeClose(info)}; reconnecting in ${formatMs(delay)} (attempt ${this.attempts})`;
    this.setState('disconnected', { reason });
    this.emit('retry', { delay, attempt: this.attempts });
    this.timer = this.setTimer(() => this.connect(), delay);
  }

  /** No more reconnects; ends the socket. */
  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.generation++;
    if (this.timer) this.clearTimer(this.timer);
    this.timer = null;
    const sock = this.sock;
    this.sock = null;
    this.connected = false;
    if (sock) {
      flushEvents(sock);
      sock.ev.removeAllListeners?.('connection.update');
      endQuietly(sock);
    }
  }
}

// Emits what Baileys' event buffer holds (messages.upsert included) now.
function flushEvents(sock) {
  try {
    sock?.ev?.flush?.();
  } catch {
    // nothing buffered, or the buffer is gone
  }
}

function endQuietly(sock) {
  if (!sock || typeof sock.end !== 'function') return;
  try {
    Promise.resolve(sock.end(undefined)).catch(() => {});
  } catch {
    // already closed
  }
}

function formatMs(ms) {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
