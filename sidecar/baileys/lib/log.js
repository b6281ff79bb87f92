// Logging: structured {"type":"log"} lines to the worker while the protocol
// channel is open, stderr otherwise (docs/upstream-protocol.md §1). debug
// goes to stderr only, and only with WABRIDGE_SIDECAR_DEBUG=1.
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

export function createLogger({ account = '', debug = false } = {}) {
  let sink = null; // (level, msg) => bool: true when the worker got it
  const toStderr = (level, msg) => {
    process.stderr.write(`wabridge-sidecar account=${account} level=${level} ${msg}\n`);
  };
  const emit = (level, msg) => {
    const text = String(msg);
    if (level === 'debug' || level === 'trace') {
      if (debug) toStderr(level, text);
      return;
    }
    if (sink && sink(level, text)) return;
    toStderr(level, text);
  };
  const log = {};
  for (const level of LEVELS) log[level] = (msg) => emit(level, msg);
  log.setSink = (fn) => {
    sink = fn;
  };
  log.stderr = toStderr;
  return log;
}
