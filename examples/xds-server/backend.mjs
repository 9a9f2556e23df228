#!/usr/bin/env node
// A tiny HTTP backend for the walkthroughs: `node examples/xds-server/backend.mjs NAME PORT`
// answers every request with "hello from NAME" on 127.0.0.1:PORT until Ctrl-C or SIGTERM.
import http from 'node:http';

const [name, port] = process.argv.slice(2);
if (!name || !/^\d+$/.test(port ?? '')) {
  console.error('usage: node examples/xds-server/backend.mjs NAME PORT');
  process.exit(2);
}
const server = http.createServer((req, res) => {
  req.resume();
  res.end(`hello from ${name}\n`);
});
server.on('error', (err) => {
  console.error(`backend ${name}: cannot listen on 127.0.0.1:${port}: ${err.message}`);
  process.exit(1);
});
server.listen(Number(port), '127.0.0.1', () => console.log(`backend ${name} listening on 127.0.0.1:${port}`));
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
