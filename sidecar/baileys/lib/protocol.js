// The worker ⇄ upstream protocol (docs/upstream-protocol.md): one JSON object
// per line over stdin/stdout.
//
// Reading and writing are independent: stdin is read as it comes (confirms
// keep arriving while the worker is not reading our stdout), and writes to
// stdout never block the event loop: on a pipe Node writes asynchronously and
// queues what the pipe does not take.
import fs from 'node:fs';

export const PROTOCOL_VERSION = 1;
/** The worker discards upstream lines longer than this (docs/upstream-protocol.md §1). */
export const MAX_UPSTREAM_LINE = 16 * 1024 * 1024;
/** Worker lines longer than this are discarded here. */
export const MAX_WORKER_LINE = 64 * 1024 * 1024;

// JSON.stringify replacer: strings with lone surrogates become well-formed
// (the worker's parsers reject escaped lone surrogates, so such a line would
// never be committed and never confirmed).
function wellFormed(_key, value) {
  if (typeof value === 'string' && typeof value.toWellFormed === 'function') return value.toWellFormed();
  return value;
}

/** One protocol line (with its newline) for an object. */
export function encodeLine(obj) {
  return `${JSON.stringify(obj, wellFormed)}\n`;
}

/**
 * Splits a byte stream into lines. Calls onLine(text) for every complete,
 * non-empty line (a trailing "\r" is dropped), onEnd() at EOF. An
 * unterminated last line at EOF is discarded, as the protocol says. A line
 * longer than maxLineBytes is dropped up to its newline and reported through
 * onOversize.
 */
export class LineReader {
  constructor(stream, { onLine, onEnd, onOversize, maxLineBytes = MAX_WORKER_LINE } = {}) {
    this.onLine = onLine;
    this.onEnd = onEnd;
    this.onOversize = onOversize;
    this.max = maxLineBytes;
    this.chunks = [];
    this.size = 0;
    this.discarding = false;
    this.ended = false;
    stream.on('data', (chunk) => this.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
    stream.on('end', () => this.end());
    stream.on('error', () => this.end());
    stream.on('close', () => this.end());
  }

  push(chunk) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.discarding) {
        this.discarding = false;
        this.chunks = [];
        this.size = 0;
        continue;
      }
      let line = this.size ? Buffer.concat([...this.chunks, piece]) : piece;
      this.chunks = [];
      this.size = 0;
      if (line.length && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
      if (line.length) this.onLine?.(line.toString('utf8'));
    }
    if (start < chunk.length && !this.discarding) {
      const rest = chunk.subarray(start);
      this.chunks.push(rest);
      this.size += rest.length;
      if (this.size > this.max) {
        this.onOversize?.(this.size);
        this.chunks = [];
        this.size = 0;
        this.discarding = true;
      }
    }
  }

  end() {
    if (this.ended) return;
    this.ended = true;
    this.chunks = [];
    this.size = 0;
    this.onEnd?.();
  }
}

/**
 * A parsed worker line: { type: 'confirm', uids } | { type: 'send', id, op,
 * args, messageId } | { type: 'stop' } | { error } for a line to log and skip.
 */
export function parseWorkerLine(line) {
  let obj;
  try {
    obj = JSON.parse(line);
  } catch {
    return { error: 'not valid JSON' };
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return { error: 'not a JSON object' };
  switch (obj.type) {
    case 'confirm':
      if (!Array.isArray(obj.uids) || !obj.uids.every((u) => typeof u === 'string'))
        return { error: '"uids" must be an array of strings' };
      return { type: 'confirm', uids: obj.uids };
    case 'send': {
      if (typeof obj.id !== 'string' || obj.id === '') return { error: 'send without a string "id"' };
      if (typeof obj.op !== 'string') return { error: 'send without a string "op"', id: obj.id };
      const args = obj.args == null ? {} : obj.args;
      if (typeof args !== 'object' || Array.isArray(args)) return { error: '"args" must be an object', id: obj.id };
      const messageId = typeof obj.messageId === 'string' ? obj.messageId : '';
      return { type: 'send', id: obj.id, op: obj.op, args, messageId };
    }
    case 'stop':
      return { type: 'stop' };
    default:
      return { error: typeof obj.type === 'string' ? `unknown type "${obj.type}"` : 'missing "type"' };
  }
}

/**
 * Writes protocol lines to a writable stream (process.stdout by default)
 * without ever waiting for it. close() ends the stream after everything queued
 * is written; for process.stdout that closes fd 1, which is what the worker
 * waits for after `stop`.
 */
export class ProtocolWriter {
  constructor(stream = process.stdout, { onGone } = {}) {
    this.stream = stream;
    this.onGone = onGone;
    this.open = true;
    this.gone = false;
    stream.on('error', (err) => {
      // EPIPE and friends: the worker is gone.
      this.open = false;
      if (!this.gone) {
        this.gone = true;
        this.onGone?.(err);
      }
    });
  }

  /** Queues one object as a line; false when the channel is closed. */
  send(obj) {
    if (!this.open) return false;
    const line = encodeLine(obj);
    if (line.length > MAX_UPSTREAM_LINE) {
      // The worker would discard it; say so instead of sending it.
      this.stream.write(encodeLine({ type: 'log', level: 'error', msg: `dropped a ${obj.type} line of ${line.length} bytes (over the 16 MiB limit)` }));
      return false;
    }
    this.stream.write(line);
    return true;
  }

  hello(version, extra = {}) {
    return this.send({ type: 'hello', protocol: PROTOCOL_VERSION, upstream: 'baileys', version, ...extra });
  }

  state(state, { qr, reason, pairingCode } = {}) {
    const msg = { type: 'state', state };
    if (qr) msg.qr = qr;
    if (pairingCode) msg.pairingCode = pairingCode;
    if (reason) msg.reason = reason;
    return this.send(msg);
  }

  event(uid, origin, event) {
    return this.send({ type: 'event', uid, origin, event });
  }

  sendResult(id, result) {
    const msg = { type: 'send_result', id, ok: Boolean(result.ok) };
    msg.messageIds = Array.isArray(result.messageIds) ? result.messageIds.filter((x) => typeof x === 'string') : [];
    if (result.error) msg.error = String(result.error);
    if (result.data !== undefined && result.data !== null) msg.data = result.data;
    return this.send(msg);
  }

  log(level, msg) {
    return this.send({ type: 'log', level, msg });
  }

  /** Bytes queued but not yet taken by the pipe. */
  get backlog() {
    return this.stream.writableLength || 0;
  }

  /**
   * Stops writing and closes the stream once what is queued is written (or
   * after timeoutMs, whichever comes first). Resolves true when all was written.
   */
  close(timeoutMs = 5000) {
    if (!this.open) return Promise.resolve(false);
    this.open = false;
    const stream = this.stream;
    return new Promise((resolve) => {
      let done = false;
      const finish = (flushed) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (stream !== process.stdout) stream.end();
        // Closing fd 1 under a write still queued in libuv is unsafe; when
        // the worker did not take everything, leave it open (stdin EOF ends
        // the process soon anyway).
        else if (flushed) closeStdoutFd();
        resolve(flushed);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      if (stream === process.stdout) {
        // process.stdout cannot be ended; wait for its queue to drain, then close fd 1.
        // writableLength counts bytes not yet taken by the kernel.
        const check = () => {
          if (done) return;
          if ((stream.writableLength || 0) === 0) finish(true);
          else setTimeout(check, 10);
        };
        check();
      } else {
        stream.end(() => finish(true));
      }
    });
  }
}

// Closes fd 1 so the worker sees EOF on our stdout, and puts /dev/null in
// its place: the lowest free descriptor is 1 again, so nothing this process
// opens later (the spool, a media file) can become "stdout" by accident.
function closeStdoutFd() {
  try {
    fs.closeSync(1);
  } catch {
    return;
  }
  try {
    const fd = fs.openSync('/dev/null', 'w');
    if (fd !== 1) fs.closeSync(fd);
  } catch {
    // nothing sensible to do
  }
}
