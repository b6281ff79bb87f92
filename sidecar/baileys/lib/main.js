// Process wiring: arguments, backend choice, stdin/stdout, signals, exit.
import fs from 'node:fs';

import { parseArgs } from './args.js';
import { createLogger } from './log.js';
import { LineReader, MAX_WORKER_LINE, ProtocolWriter } from './protocol.js';
import { Sidecar } from './sidecar.js';

export const SIDECAR_VERSION = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

export async function main(argv) {
  const debug = /^(1|true|yes|on)$/i.test(process.env.WABRIDGE_SIDECAR_DEBUG || '');
  let sidecar = null;
  let early = null; // exit before the sidecar exists
  const writer = new ProtocolWriter(process.stdout, {
    onGone: () => (sidecar ? sidecar.shutdown('the worker closed our stdout') : process.exit(0)),
  });

  let args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    writer.hello(SIDECAR_VERSION);
    writer.state('disconnected', { reason: `sidecar: bad arguments: ${err.message}` });
    process.stderr.write(`wabridge-sidecar: bad arguments: ${err.message}\n`);
    await writer.close(1000);
    process.exit(2);
  }
  const log = createLogger({ account: args.account, debug });

  // stdin EOF means the worker is gone or has dismissed us (protocol §2).
  const pendingLines = [];
  new LineReader(process.stdin, {
    maxLineBytes: MAX_WORKER_LINE,
    onLine: (line) => (sidecar ? sidecar.onLine(line) : pendingLines.push(line)),
    onEnd: () => (sidecar ? sidecar.shutdown('stdin closed') : (early = 'stdin closed')),
    onOversize: (n) => log.warn(`worker line longer than ${MAX_WORKER_LINE} bytes discarded (${n} bytes so far)`),
  });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(signal, () => (sidecar ? sidecar.shutdown(signal) : process.exit(0)));
  }
  process.on('uncaughtException', (err) => {
    log.stderr('error', `uncaught exception: ${err?.stack || err}`);
    if (sidecar) sidecar.shutdown('uncaught exception', 1);
    else process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    // Baileys lets some background promises fail (a lost query after a
    // disconnect); they are logged, not fatal.
    log.warn(`unhandled rejection: ${err?.message || err}`);
  });

  let backend;
  const fake = process.env.WABRIDGE_SIDECAR_FAKE_SOCKET || '';
  try {
    if (fake) {
      const { loadFakeBackend } = await import('./fake_socket.js');
      backend = await loadFakeBackend(fake, { log });
    } else {
      const { loadBaileysBackend } = await import('./backend_baileys.js');
      backend = await loadBaileysBackend({ log, logLevel: process.env.WABRIDGE_SIDECAR_BAILEYS_LOG || 'warn' });
    }
  } catch (err) {
    writer.hello(SIDECAR_VERSION);
    writer.state('disconnected', { reason: `sidecar: cannot load ${fake ? `the fake socket ${fake}` : 'Baileys'}: ${err?.message || err}` });
    log.stderr('error', `cannot load the backend: ${err?.stack || err}`);
    await writer.close(1000);
    process.exit(1);
  }

  const version = `${SIDECAR_VERSION} (${backend.name === 'fake' ? 'fake socket' : `baileys ${backend.version}`})`;
  sidecar = new Sidecar({ ...args, backend, writer, log, version });
  try {
    sidecar.start();
  } catch (err) {
    // The spool cannot be opened (I/O error, unknown format): never run
    // without it, it is where unconfirmed messages live.
    writer.hello(version);
    writer.state('disconnected', { reason: `sidecar: cannot start: ${err?.message || err}` });
    log.stderr('error', `cannot start: ${err?.stack || err}`);
    await writer.close(1000);
    process.exit(1);
  }
  for (const line of pendingLines.splice(0)) sidecar.onLine(line);
  if (early) sidecar.shutdown(early);
}
