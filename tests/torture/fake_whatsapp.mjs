// The torture run's stand-in for WhatsApp behind the real Baileys sidecar
// (loaded by sidecar/baileys through WABRIDGE_SIDECAR_FAKE_SOCKET; see
// docs/sidecar.md, "The fake socket", and docs/testing.md, "Fault torture").
//
// It plays WhatsApp's side of delivery, with WhatsApp's durable memory kept
// in WABRIDGE_TORTURE_WA_DIR (it outlives every sidecar, worker and
// supervisor the torture kills):
//   generated      how many messages exist (message i has id TORT<i, 8 digits>)
//   receipts.log   one line per delivery receipt received, fsync'd: from
//                  then on WhatsApp never delivers that message again
//   stop           when present, no new messages are generated
// Each connection first delivers every generated message without a receipt
// (WhatsApp's offline queue, type "append"), then new ones at
// WABRIDGE_TORTURE_WA_RATE per second (type "notify"). Each delivery is the
// patched Baileys' order: the sidecar's beforeReceipt hook (awaited; a throw
// means no receipt), the receipt, then messages.upsert.
//
// The invariant the torture checks: every message in receipts.log is in the
// journal or in the sidecar's spool, exactly once in the journal.
import fs from 'node:fs';
import path from 'node:path';

const dir = process.env.WABRIDGE_TORTURE_WA_DIR;
const rate = Number(process.env.WABRIDGE_TORTURE_WA_RATE || 100);
const CHAT = '4915100000001@s.whatsapp.net';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const idOf = (i) => `TORT${String(i).padStart(8, '0')}`;

function readGenerated() {
  try {
    return Number.parseInt(fs.readFileSync(path.join(dir, 'generated'), 'utf8'), 10) || 0;
  } catch {
    return 0;
  }
}

function writeGenerated(n) {
  const tmp = path.join(dir, 'generated.tmp');
  const fd = fs.openSync(tmp, 'w');
  fs.writeSync(fd, String(n));
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, path.join(dir, 'generated'));
}

function readReceipts() {
  const receipted = new Set();
  let text = '';
  try {
    text = fs.readFileSync(path.join(dir, 'receipts.log'), 'utf8');
  } catch {
    return receipted;
  }
  for (const line of text.split('\n')) {
    if (/^\d+$/.test(line)) receipted.add(Number(line));
  }
  return receipted;
}

let receiptFd = null;
function recordReceipt(i) {
  if (receiptFd === null) receiptFd = fs.openSync(path.join(dir, 'receipts.log'), 'a');
  fs.writeSync(receiptFd, `${i}\n`);
  fs.fsyncSync(receiptFd);
}

const message = (i) => ({
  key: { remoteJid: CHAT, id: idOf(i), fromMe: false },
  messageTimestamp: Math.floor(Date.now() / 1000),
  pushName: 'Torture',
  message: { conversation: `torture ${i}` },
});

async function hand(ctx, sock, i, type) {
  const msg = message(i);
  if (typeof ctx.beforeReceipt === 'function') {
    try {
      await ctx.beforeReceipt(msg, type, () => {});
    } catch {
      return; // NACK: redelivered on a later connection
    }
  }
  if (sock.closed) return;
  recordReceipt(i);
  // Baileys awaits the receipt's send before it emits the upsert: a few
  // milliseconds in which a plain Baileys holds the only copy in memory.
  await sleep(3);
  sock.ev.emit('messages.upsert', { messages: [msg], type });
}

async function run(ctx, sock) {
  fs.mkdirSync(dir, { recursive: true });
  sock.open();
  const receipted = readReceipts();
  let generated = readGenerated();
  for (let i = 1; i <= generated && !sock.closed; i++) {
    if (!receipted.has(i)) await hand(ctx, sock, i, 'append');
  }
  const pause = 1000 / rate;
  while (!sock.closed) {
    if (fs.existsSync(path.join(dir, 'stop'))) {
      await sleep(50);
      continue;
    }
    generated += 1;
    writeGenerated(generated); // WhatsApp knows the message before it sends it
    await hand(ctx, sock, generated, 'notify');
    await sleep(pause);
  }
}

export function createSocket(ctx) {
  if (!dir) throw new Error('WABRIDGE_TORTURE_WA_DIR is not set');
  const sock = new ctx.FakeSocket(ctx.world, ctx);
  setTimeout(() => {
    run(ctx, sock).catch((err) => process.stderr.write(`fake whatsapp: ${err?.stack || err}\n`));
  }, 20);
  return sock;
}
