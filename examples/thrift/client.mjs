#!/usr/bin/env node
// A Thrift client for the walkthrough: `node examples/thrift/client.mjs PORT METHOD [ARG...]`
// calls the Echo service (test/fixtures/thrift/echo.thrift) on 127.0.0.1:PORT with the client
// Apache Thrift's compiler generated, framed transport and binary protocol, and prints the
// result. Numbers are passed as numbers (add 2 3). A Thrift exception prints its type and
// message on stderr, exit code 1.
import { createThriftClient } from '../../dist/test/support/thrift-peers.js';

const [port, method, ...rawArgs] = process.argv.slice(2);
if (!/^\d+$/.test(port ?? '') || !method) {
  console.error('usage: node examples/thrift/client.mjs PORT METHOD [ARG...]   (echo MSG, whoami, add A B, fail MSG CODE, ...)');
  process.exit(2);
}
const args = rawArgs.map((a) => (/^-?\d+$/.test(a) ? Number(a) : a));
const client = await createThriftClient(Number(port), { transport: 'framed', protocol: 'binary' });
if (typeof client[method] !== 'function') {
  console.error(`unknown method ${method}`);
  process.exit(2);
}
try {
  const result = await client[method](...args);
  console.log(typeof result === 'string' ? result : JSON.stringify(result ?? null));
  client.close();
  process.exit(0);
} catch (err) {
  console.error(`${method} failed: ${err.name ?? 'Error'}${err.code !== undefined ? ` code ${err.code}` : ''}: ${err.message}`);
  client.close();
  process.exit(1);
}
