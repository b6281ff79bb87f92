// The spool: every event this sidecar has taken from WhatsApp and the worker
// has not confirmed yet, in <state-dir>/spool.jsonl (docs/sidecar.md, "The spool").
//
// It is a write-ahead log, one JSON record per line:
//   {"v":1}                                          format version (first line)
//   {"t":"raw","uid":U,"origin":O,"msg":{...}}       a message as Baileys gave it,
//                                                    written (fsync'd) before anything else
//   {"t":"event","uid":U,"origin":O,"event":{...}}   its SPEC §4 event, written before
//                                                    the event goes to stdout
//   {"t":"confirm","uids":[...]}                     the worker committed these
//
// A uid is pending from its first record until a confirm names it. On open the
// file is compacted: rewritten (temp file, fsync, rename, fsync of the
// directory) with one record per pending uid, its latest (event if there is
// one, else raw). An unterminated last line (a crash in the middle of an
// append) and lines that do not parse are skipped.
//
// All I/O is synchronous: records hit the file in the order the code writes
// them, and nothing else runs in between.
import fs from 'node:fs';
import path from 'node:path';

const FORMAT = 1;
const COMPACT_MIN_BYTES = 4 * 1024 * 1024;

function fsyncDir(dir) {
  let fd;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // some file systems cannot fsync a directory; the rename is still atomic
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export class Spool {
  /**
   * Opens (creating if needed) and compacts the spool in `dir`.
   * Throws on I/O errors and on an unknown format version.
   */
  static open(dir, { log, fileName = 'spool.jsonl' } = {}) {
    const spool = new Spool(dir, fileName, log);
    spool.load();
    spool.compact();
    return spool;
  }

  constructor(dir, fileName, log) {
    this.dir = dir;
    this.file = path.join(dir, fileName);
    this.log = log;
    this.entries = new Map(); // uid -> { origin, raw?, event? } in arrival order
    this.fd = null;
    this.bytes = 0; // size of the file
    this.skipped = 0; // damaged lines found on open
    this.failed = false; // the last append failed (disk full?)
  }

  load() {
    fs.mkdirSync(this.dir, { recursive: true });
    let text = '';
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
      return;
    }
    const lines = text.split('\n');
    lines.pop(); // "" after the last newline, or an unterminated (torn) last line
    for (const line of lines) {
      if (line.trim() === '') continue;
      let rec;
      try {
        rec = JSON.parse(line);
      } catch {
        this.skipped++;
        continue;
      }
      if (rec && rec.v !== undefined && rec.t === undefined) {
        if (rec.v !== FORMAT) throw new Error(`${this.file} has format version ${rec.v}; this sidecar reads version ${FORMAT}`);
        continue;
      }
      if (!this.apply(rec)) this.skipped++;
    }
    if (this.skipped) this.log?.warn?.(`spool ${this.file}: skipped ${this.skipped} damaged line(s)`);
  }

  // Applies one record to the in-memory state; false when it is not one.
  apply(rec) {
    if (!rec || typeof rec !== 'object') return false;
    if (rec.t === 'confirm' && Array.isArray(rec.uids)) {
      for (const uid of rec.uids) this.entries.delete(uid);
      return true;
    }
    if (typeof rec.uid !== 'string' || rec.uid === '') return false;
    const origin = typeof rec.origin === 'string' ? rec.origin : 'live';
    if (rec.t === 'raw' && rec.msg && typeof rec.msg === 'object') {
      const entry = this.entries.get(rec.uid);
      if (!entry) this.entries.set(rec.uid, { origin, raw: rec.msg });
      else if (!entry.event) entry.raw = rec.msg;
      return true;
    }
    if (rec.t === 'event' && rec.event && typeof rec.event === 'object') {
      const entry = this.entries.get(rec.uid);
      if (entry) {
        entry.event = rec.event;
        delete entry.raw;
      } else {
        this.entries.set(rec.uid, { origin, event: rec.event });
      }
      return true;
    }
    return false;
  }

  static recordOf(uid, entry) {
    return entry.event
      ? { t: 'event', uid, origin: entry.origin, event: entry.event }
      : { t: 'raw', uid, origin: entry.origin, msg: entry.raw };
  }

  /** Rewrites the file with only what is pending (tmp, fsync, rename, fsync dir). */
  compact() {
    const tmp = `${this.file}.tmp`;
    let text = `${JSON.stringify({ v: FORMAT })}\n`;
    for (const [uid, entry] of this.entries) text += `${JSON.stringify(Spool.recordOf(uid, entry))}\n`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
    fs.renameSync(tmp, this.file);
    fsyncDir(this.dir);
    this.fd = fs.openSync(this.file, 'a', 0o600);
    this.bytes = Buffer.byteLength(text);
  }

  // Appends records; with sync, fsyncs them. Never throws: a failed append
  // is logged (the event still goes to the worker, which is durable on its own).
  append(records, sync) {
    if (this.fd === null || records.length === 0) return false;
    const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
    try {
      fs.writeSync(this.fd, text);
      if (sync) fs.fsyncSync(this.fd);
      this.bytes += Buffer.byteLength(text);
      if (this.failed) this.log?.info?.(`spool ${this.file}: writing again`);
      this.failed = false;
      return true;
    } catch (err) {
      if (!this.failed) this.log?.error?.(`spool ${this.file}: cannot append (${err.message}); events are not kept across a crash until it works again`);
      this.failed = true;
      return false;
    }
  }

  /** True while uid is taken and not confirmed. */
  has(uid) {
    return this.entries.has(uid);
  }

  get size() {
    return this.entries.size;
  }

  /** [{ uid, origin, event?, raw? }] in arrival order. */
  pending() {
    return [...this.entries].map(([uid, e]) => ({ uid, ...e }));
  }

  /**
   * Takes messages: [{ uid, origin, msg }] (storable). Writes them with one
   * fsync. Returns the ones that were not pending already.
   */
  addRaw(items) {
    const fresh = items.filter((it) => !this.entries.has(it.uid));
    for (const it of fresh) this.entries.set(it.uid, { origin: it.origin, raw: it.msg });
    this.append(fresh.map((it) => ({ t: 'raw', uid: it.uid, origin: it.origin, msg: it.msg })), true);
    return fresh;
  }

  /**
   * Records the event of a pending uid. Not fsync'd: the raw record already
   * is, and the page cache outlives a crash of this process; after a power
   * loss the event is made again from the raw record.
   */
  setEvent(uid, origin, event) {
    const entry = this.entries.get(uid);
    if (!entry) return;
    entry.event = event;
    delete entry.raw;
    this.append([{ t: 'event', uid, origin: entry.origin || origin, event }], false);
  }

  /** Forgets a pending uid that turned out to make no event (nothing to deliver). */
  drop(uid) {
    if (this.entries.delete(uid)) this.append([{ t: 'confirm', uids: [uid] }], false);
  }

  /** Forgets confirmed uids; returns how many were pending. Unknown uids are ignored. */
  confirm(uids) {
    const known = uids.filter((uid) => this.entries.delete(uid));
    if (known.length === 0) return 0;
    this.append([{ t: 'confirm', uids: known }], false);
    this.maybeCompact();
    return known.length;
  }

  // Keeps the file small: rewrite when it is large and mostly confirmed.
  maybeCompact() {
    if (this.bytes < COMPACT_MIN_BYTES && this.entries.size > 0) return;
    if (this.entries.size === 0 && this.bytes < 64 * 1024) return;
    try {
      if (this.entries.size > 0) {
        let live = 0;
        for (const [uid, entry] of this.entries) live += JSON.stringify(Spool.recordOf(uid, entry)).length;
        if (live * 4 > this.bytes) return;
      }
      this.compact();
    } catch (err) {
      this.log?.warn?.(`spool ${this.file}: compaction failed (${err.message}); kept as it is`);
      if (this.fd === null) {
        try {
          this.fd = fs.openSync(this.file, 'a', 0o600);
        } catch {
          // append() reports it
        }
      }
    }
  }

  /** fsyncs and closes the file. */
  close() {
    if (this.fd === null) return;
    try {
      fs.fsyncSync(this.fd);
    } catch (err) {
      this.log?.warn?.(`spool ${this.file}: fsync at close failed (${err.message})`);
    }
    fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** Reads a spool file without changing it (for tests and inspection): the pending entries. */
export function readSpool(dir, fileName = 'spool.jsonl') {
  const spool = new Spool(dir, fileName, null);
  spool.load();
  return spool.pending();
}
