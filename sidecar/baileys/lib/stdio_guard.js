// stdout is the protocol channel (docs/upstream-protocol.md §1). This module
// is imported first by index.js: from here on console.log/info/debug (used
// by some dependencies) write to stderr, never into the protocol stream.
import { Console } from 'node:console';

const toStderr = new Console({ stdout: process.stderr, stderr: process.stderr });
for (const name of ['log', 'info', 'debug', 'warn', 'error', 'trace', 'dir', 'table', 'group', 'groupEnd']) {
  if (typeof toStderr[name] === 'function') console[name] = toStderr[name].bind(toStderr);
}
