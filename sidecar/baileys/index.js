#!/usr/bin/env node
// wabridge's Baileys sidecar: the upstream process for accounts with
// upstream = "baileys" (docs/sidecar.md, docs/upstream-protocol.md).
//   node index.js --account A --state-dir DIR --media-dir DIR --settings JSON
import './lib/stdio_guard.js'; // first: nothing may print into the protocol stream
import { main } from './lib/main.js';

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`wabridge-sidecar: fatal: ${err?.stack || err}\n`);
  process.exit(1);
});
