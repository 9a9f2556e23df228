#!/usr/bin/env node
// The real npm `thrift` server (framed transport, binary protocol) serving the tests' Echo
// service, for bench/meta/run.sh: startThriftServer() from test/support/thrift-peers.ts, as
// compiled by `npm run build` to dist/test/support/thrift-peers.js.
//
//   node bench/meta/thrift-real-server.mjs --port P [--courier-dir DIR] [--name real]
//
// --courier-dir: the built tree whose dist/ to load (default: this repository).
// Prints `READY <port>` once listening. SIGTERM/SIGINT: stop the server, exit 0.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    name: { type: 'string', default: 'real' },
    'courier-dir': { type: 'string', default: REPO },
  },
});

const peers = path.join(opts['courier-dir'], 'dist', 'test', 'support', 'thrift-peers.js');
const { startThriftServer } = await import(pathToFileURL(peers).href);
const server = await startThriftServer({ name: opts.name, transport: 'framed', protocol: 'binary', port: Number(opts.port) });
process.stdout.write(`READY ${server.port}\n`);

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 1000).unref();
  await server.stop();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
