// The command line (docs/sidecar.md, "Command line"), as upstream/baileys_launch.cpp builds it:
//   node index.js --account A --state-dir DIR --media-dir DIR --settings JSON
// settings: {"mode":"bot"|"self-chat","allowedUsers":[...],"pairPhone":"...",
//            "reconnectInitialMs":N,"reconnectMaxMs":N,"receiptAfterSpool":bool}

export const DEFAULT_SETTINGS = Object.freeze({
  mode: 'bot',
  allowedUsers: [],
  pairPhone: '',
  reconnectInitialMs: 1000,
  reconnectMaxMs: 60000,
  // Delivery receipts wait until the message is in the spool (fsync'd):
  // needs Baileys patched by scripts/patch-baileys.js (docs/sidecar.md).
  receiptAfterSpool: true,
});

/** Throws an Error naming the first problem; returns { account, stateDir, mediaDir, settings }. */
export function parseArgs(argv) {
  const values = {};
  const known = new Set(['--account', '--state-dir', '--media-dir', '--settings']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!known.has(arg)) throw new Error(`unknown argument "${arg}"`);
    if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
    values[arg] = argv[++i];
  }
  const account = values['--account'] || '';
  const stateDir = values['--state-dir'] || '';
  if (!account) throw new Error('--account is required');
  if (!stateDir) throw new Error('--state-dir is required');
  const mediaDir = values['--media-dir'] || `${stateDir}/../media`;
  return { account, stateDir, mediaDir, settings: parseSettings(values['--settings'] ?? '{}') };
}

export function parseSettings(text) {
  let raw;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('--settings is not valid JSON');
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('--settings must be a JSON object');
  const s = { ...DEFAULT_SETTINGS, ...raw };
  if (s.mode !== 'bot' && s.mode !== 'self-chat') throw new Error(`settings.mode must be "bot" or "self-chat", not ${JSON.stringify(s.mode)}`);
  if (!Array.isArray(s.allowedUsers) || !s.allowedUsers.every((u) => typeof u === 'string'))
    throw new Error('settings.allowedUsers must be an array of strings');
  if (typeof s.pairPhone !== 'string' || !/^\d*$/.test(s.pairPhone))
    throw new Error('settings.pairPhone must be a string of digits (or "")');
  for (const key of ['reconnectInitialMs', 'reconnectMaxMs']) {
    if (typeof s[key] !== 'number' || !Number.isFinite(s[key]) || s[key] <= 0)
      throw new Error(`settings.${key} must be a positive number of milliseconds`);
  }
  if (typeof s.receiptAfterSpool !== 'boolean') throw new Error('settings.receiptAfterSpool must be true or false');
  if (s.reconnectMaxMs < s.reconnectInitialMs) throw new Error('settings.reconnectMaxMs must be >= reconnectInitialMs');
  return s;
}
