// Patches the installed Baileys so that its delivery receipt can wait for
// the sidecar's spool (docs/sidecar.md, "The delivery receipt"). Run by npm
// as this package's postinstall script, so `npm ci` installs Baileys and
// patches it in one step; idempotent.
//
// Baileys 7.0.0-rc14's handleMessage (lib/Socket/messages-recv.js) sends
// the receipt and only then emits messages.upsert. The patch inserts one
// awaited call before the receipt: config.wabridgeBeforeReceipt(msg, type,
// clean), a socket option only the sidecar sets, so Baileys behaves as
// before when it is absent. If the hook throws, Baileys' own error path
// NACKs the message instead of acknowledging it.
//
// The patch is pinned to the exact version in package.json: on any other
// version, or when the code it anchors on is not there, it fails the
// install rather than guess.
import fs from 'node:fs';
import { createRequire } from 'node:module';

const PINNED = '7.0.0-rc14';
const MARKER = 'wabridge:beforeReceipt';
const ANCHOR = `                        acked = true;
                        await sendReceipt(msg.key.remoteJid, participant, [msg.key.id], type);`;
const PATCHED = `                        // ${MARKER} (sidecar/baileys/scripts/patch-baileys.js)
                        if (typeof config.wabridgeBeforeReceipt === 'function') {
                            await config.wabridgeBeforeReceipt(msg, node.attrs.offline ? 'append' : 'notify', (m) => cleanMessage(m, authState.creds.me.id, authState.creds.me.lid));
                        }
${ANCHOR}`;

/** Patches `source` (the text of messages-recv.js); returns { text, changed }. Throws when it cannot. */
export function patchSource(source) {
  if (source.includes(MARKER)) return { text: source, changed: false };
  const at = source.indexOf(ANCHOR);
  if (at < 0) throw new Error('the receipt call this patch anchors on is not in messages-recv.js');
  if (source.indexOf(ANCHOR, at + 1) >= 0) throw new Error('the receipt call occurs more than once in messages-recv.js');
  if (!/\bcleanMessage\b/.test(source.slice(0, at))) throw new Error('messages-recv.js does not import cleanMessage');
  return { text: source.slice(0, at) + PATCHED + source.slice(at + ANCHOR.length), changed: true };
}

export function patchInstalled() {
  const require = createRequire(import.meta.url);
  const version = require('@whiskeysockets/baileys/package.json').version;
  if (version !== PINNED) throw new Error(`Baileys ${version} is installed; this patch is for ${PINNED} only`);
  const file = require.resolve('@whiskeysockets/baileys/lib/Socket/messages-recv.js');
  const { text, changed } = patchSource(fs.readFileSync(file, 'utf8'));
  if (changed) {
    const tmp = `${file}.wabridge-tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  }
  return { file, changed };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const { file, changed } = patchInstalled();
    console.error(`patch-baileys: ${changed ? 'patched' : 'already patched'} ${file}`);
  } catch (err) {
    console.error(`patch-baileys: ${err.message}`);
    process.exit(1);
  }
}
