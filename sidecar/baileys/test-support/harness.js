// Test helpers (kept outside test/, where node --test would run them as tests).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';

import { createLogger } from '../lib/log.js';
import { FakeSocket, FakeWorld, fakeBackend } from '../lib/fake_socket.js';
import { LineReader, ProtocolWriter } from '../lib/protocol.js';
import { Sidecar } from '../lib/sidecar.js';
import { DEFAULT_SETTINGS } from '../lib/args.js';

export const SIDECAR_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const INDEX_JS = path.join(SIDECAR_DIR, 'index.js');
export const FIXTURES = JSON.parse(fs.readFileSync(path.join(SIDECAR_DIR, 'test/fixtures/messages.json'), 'utf8'));

export const ME = Object.freeze({ id: '15550000001:7@s.whatsapp.net', lid: '100000000000001:7@lid', name: 'Bridge Owner' });

/** A fresh fixture message (deep copy). */
export function fixture(name) {
  if (!FIXTURES[name]) throw new Error(`no fixture ${name}`);
  return structuredClone(FIXTURES[name]);
}

const tempDirs = [];

/** A fresh directory under the system's temp dir, removed when the test process exits. */
export function tempDir(prefix = 'wabridge-sidecar-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves null after ms without keeping the process alive (for races). */
export const deadline = (ms) => new Promise((r) => setTimeout(() => r(null), ms).unref());

/** Polls pred() until it is truthy (returns its value) or throws after timeoutMs. */
export async function waitFor(pred, timeoutMs = 5000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await pred();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A logger that keeps what it is told (and never writes anywhere). */
export function memoryLog() {
  const lines = [];
  const log = {};
  for (const level of ['trace', 'debug', 'info', 'warn', 'error']) log[level] = (msg) => lines.push({ level, msg: String(msg) });
  log.stderr = (level, msg) => lines.push({ level, msg: String(msg), stderr: true });
  log.setSink = () => {};
  log.lines = lines;
  return log;
}

/**
 * A Sidecar in this process over fake sockets, its protocol output parsed
 * into `out`. Returns { sidecar, out, sockets, world, socket(), line(obj), exited }.
 */
export function inProcessSidecar({ settings = {}, stateDir = tempDir(), mediaDir, world = new FakeWorld(), sendTimeoutMs } = {}) {
  const stream = new PassThrough();
  const out = [];
  new LineReader(stream, { onLine: (l) => out.push(JSON.parse(l)) });
  const writer = new ProtocolWriter(stream);
  const sockets = [];
  const backend = fakeBackend({ world, onSocket: (s) => sockets.push(s) });
  const log = createLogger({ account: 'test' });
  const silent = memoryLog();
  Object.assign(log, { debug: silent.debug, stderr: silent.stderr });
  let resolveExit;
  const exited = new Promise((r) => (resolveExit = r));
  const sidecar = new Sidecar({
    account: 'test',
    stateDir,
    mediaDir: mediaDir || path.join(stateDir, 'media'),
    settings: { ...DEFAULT_SETTINGS, reconnectInitialMs: 20, reconnectMaxMs: 80, ...settings },
    backend,
    writer,
    log,
    version: 'test',
    exit: (code) => resolveExit(code),
    sendTimeoutMs,
  });
  sidecar.start();
  return {
    sidecar,
    out,
    sockets,
    world,
    stateDir,
    stream,
    socket: () => sockets[sockets.length - 1],
    line: (obj) => sidecar.onLine(JSON.stringify(obj)),
    events: () => out.filter((m) => m.type === 'event'),
    states: () => out.filter((m) => m.type === 'state').map((m) => m.state),
    exited,
  };
}

/** Waits until the in-process sidecar has a socket, then opens it. */
export async function openSocket(h, user = ME) {
  const sock = await waitFor(() => h.socket(), 2000, 'a socket');
  sock.open(user);
  await waitFor(() => h.states().includes('connected'), 2000, 'connected');
  return sock;
}

const children = new Set();

/** Kills every sidecar child still running (use in after()). */
export function killAll() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
}
process.on('exit', () => {
  killAll();
  if (process.env.WABRIDGE_SIDECAR_KEEP_TEST_DIRS) return;
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * index.js as a child process. Returns { child, out (parsed lines), stderr(),
 * write(obj), end(), exit (promise of { code, signal }), stdoutEnded }.
 */
export function spawnSidecar({ stateDir, mediaDir, settings = {}, env = {}, account = 'main' }) {
  const allSettings = { ...DEFAULT_SETTINGS, ...settings };
  const child = spawn(
    process.execPath,
    [INDEX_JS, '--account', account, '--state-dir', stateDir, '--media-dir', mediaDir || path.join(stateDir, '..', 'media'), '--settings', JSON.stringify(allSettings)],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  children.add(child);
  child.on('exit', () => children.delete(child));
  const out = [];
  const bad = [];
  let stderr = '';
  let stdoutEnded = false;
  new LineReader(child.stdout, {
    onLine: (l) => {
      try {
        out.push(JSON.parse(l));
      } catch {
        bad.push(l);
      }
    },
    onEnd: () => {
      stdoutEnded = true;
    },
  });
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.on('error', () => {});
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    out,
    bad,
    stderr: () => stderr,
    stdoutEnded: () => stdoutEnded,
    write: (obj) => child.stdin.write(`${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n`),
    end: () => child.stdin.end(),
    events: () => out.filter((m) => m.type === 'event'),
    states: () => out.filter((m) => m.type === 'state'),
    exit,
  };
}

export function writeCues(file, cues) {
  fs.writeFileSync(file, cues.map((c) => JSON.stringify(c)).join('\n') + '\n');
}

export function appendCues(file, cues) {
  fs.appendFileSync(file, cues.map((c) => JSON.stringify(c)).join('\n') + '\n');
}

export function readJsonLines(file) {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

export { FakeSocket, FakeWorld };
