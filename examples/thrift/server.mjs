#!/usr/bin/env node
// A Thrift server for the walkthrough: `node examples/thrift/server.mjs NAME PORT` serves the
// Echo service of test/fixtures/thrift/echo.thrift (echo, whoami → NAME, add, fail, …) with
// Apache Thrift's npm library, framed transport and binary protocol, on 127.0.0.1:PORT, until
// Ctrl-C or SIGTERM. It is the server Courier's tests use (test/support/thrift-peers.ts; `npm
// run build` compiles it to dist/).
import { startThriftServer } from '../../dist/test/support/thrift-peers.js';

const [name, port] = process.argv.slice(2);
if (!name || !/^\d+$/.test(port ?? '')) {
  console.error('usage: node examples/thrift/server.mjs NAME PORT');
  process.exit(2);
}
let server;
try {
  server = await startThriftServer({ name, port: Number(port), transport: 'framed', protocol: 'binary' });
} catch (err) {
  console.error(`thrift server ${name}: cannot listen on 127.0.0.1:${port}: ${err.message}`);
  process.exit(1);
}
console.log(`thrift server ${name} listening on ${server.address}`);
const stop = () => server.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
