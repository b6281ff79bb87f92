// The real backend: Baileys (@whiskeysockets/baileys, pinned in package.json).
// Imported only when no fake socket is selected, so the rest of the sidecar
// and its tests do not load it.
import pino from 'pino';

/**
 * The backend interface (lib/fake_socket.js implements the same):
 *   name, version
 *   createSocket({ authDir, getMessage, beforeReceipt? }) → a Baileys socket;
 *     beforeReceipt(msg, type, clean) is awaited before each delivery receipt
 *   receiptHook: true when beforeReceipt takes effect (Baileys is patched)
 *   downloadMedia(msg, sock) → Buffer | readable stream
 *   reviveMessage(storable) → a message Baileys can work with again
 *   resolvePn(sock, lid) → the phone JID of a LID, or null
 */
export async function loadBaileysBackend({ log, logLevel = 'warn' } = {}) {
  const baileys = await import('@whiskeysockets/baileys');
  const makeWASocket = baileys.makeWASocket || baileys.default;
  const { useMultiFileAuthState, downloadMediaMessage, fetchLatestWaWebVersion, proto } = baileys;

  // Baileys' default logger writes to stdout, which is the protocol channel.
  // The sidecar passes its own logger everywhere it can; silence the default
  // for the few places that use it directly.
  try {
    const fallback = (await import('@whiskeysockets/baileys/lib/Utils/logger.js')).default;
    if (fallback) fallback.level = 'silent';
  } catch {
    // layout changed: nothing to silence
  }
  const logger = pino({ level: logLevel, base: { lib: 'baileys' } }, pino.destination({ fd: 2, sync: true }));

  const receiptHook = await isReceiptHookInstalled();

  let packageVersion = '';
  try {
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    packageVersion = require('@whiskeysockets/baileys/package.json').version;
  } catch {
    packageVersion = 'unknown';
  }

  let waVersion = null; // WhatsApp Web's current version, once fetched
  async function currentWaVersion() {
    if (waVersion || typeof fetchLatestWaWebVersion !== 'function') return waVersion;
    try {
      const res = await fetchLatestWaWebVersion({ signal: AbortSignal.timeout(5000) });
      if (res?.isLatest && Array.isArray(res.version)) waVersion = res.version;
    } catch {
      // offline: Baileys' bundled version
    }
    return waVersion;
  }

  // Credential and key writes still running: useMultiFileAuthState writes
  // files in place, so exiting in the middle of one can damage the login.
  const writes = new Set();
  const track = (promise) => {
    const p = Promise.resolve(promise).finally(() => writes.delete(p));
    writes.add(p);
    return p;
  };

  return {
    name: 'baileys',
    version: packageVersion,
    logger,

    receiptHook,

    async createSocket({ authDir, getMessage, beforeReceipt }) {
      const { state, saveCreds } = await useMultiFileAuthState(authDir);
      const setKeys = state.keys.set.bind(state.keys);
      state.keys.set = (data) => track(setKeys(data));
      const version = await currentWaVersion();
      const sock = makeWASocket({
        ...(version ? { version } : {}),
        auth: state,
        logger,
        markOnlineOnConnect: false, // the phone keeps getting notifications
        syncFullHistory: false,
        emitOwnEvents: false, // our own sends are not echoed back as messages.upsert
        getMessage: async (key) => getMessage?.(key),
        // Read by the patched messages-recv.js (scripts/patch-baileys.js).
        ...(beforeReceipt ? { wabridgeBeforeReceipt: beforeReceipt } : {}),
      });
      sock.ev.on('creds.update', () => {
        track(saveCreds()).catch((err) => log?.error?.(`saving credentials failed: ${err?.message || err}`));
      });
      return sock;
    },

    downloadMedia(msg, sock) {
      return downloadMediaMessage(msg, 'stream', {}, { logger, reuploadRequest: sock?.updateMediaMessage });
    },

    reviveMessage(stored) {
      if (!stored || !stored.message) return stored;
      return { ...stored, message: proto.Message.fromObject(stored.message) };
    },

    /** Waits (at most ms) for credential and key writes under way. */
    async settle(ms) {
      if (writes.size === 0) return;
      let timer;
      await Promise.race([
        Promise.allSettled([...writes]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, ms);
        }),
      ]);
      clearTimeout(timer);
    },

    async resolvePn(sock, lid) {
      const mapping = sock?.signalRepository?.lidMapping;
      if (!mapping || typeof mapping.getPNForLID !== 'function') return null;
      return mapping.getPNForLID(lid);
    },
  };
}

/** Whether scripts/patch-baileys.js has patched the installed Baileys. */
async function isReceiptHookInstalled() {
  try {
    const { createRequire } = await import('node:module');
    const { readFileSync } = await import('node:fs');
    const require = createRequire(import.meta.url);
    const file = require.resolve('@whiskeysockets/baileys/lib/Socket/messages-recv.js');
    return readFileSync(file, 'utf8').includes('wabridge:beforeReceipt');
  } catch {
    return false;
  }
}
