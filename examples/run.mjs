#!/usr/bin/env node
// `npm start`: runs a tiny echo backend on 127.0.0.1:10001 and Courier on
// examples/tcp-proxy.yaml (listener 127.0.0.1:10000 → backend), sends one message through
// the proxy so you see bytes flow, then keeps serving until Ctrl-C.
import net from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const backend = net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
await new Promise((resolve) => backend.listen(10001, '127.0.0.1', resolve));
console.log('echo backend listening on 127.0.0.1:10001');

const courier = spawn(process.execPath, [path.join(root, 'bin/courier.js'), '-c', path.join(root, 'examples/tcp-proxy.yaml'), '--concurrency', '2', '--drain-time-s', '2'], {
  stdio: ['ignore', 'inherit', 'pipe'],
});
courier.stderr.pipe(process.stderr);
await new Promise((resolve) => courier.stderr.on('data', (d) => String(d).includes('courier started') && resolve()));

const reply = await new Promise((resolve, reject) => {
  const c = net.connect(10000, '127.0.0.1', () => c.end('hello through Courier\n'));
  let got = '';
  c.on('data', (d) => (got += d));
  c.on('end', () => resolve(got));
  c.on('error', reject);
});
console.log(`sent "hello through Courier", the backend echoed back: ${JSON.stringify(reply)}`);
console.log('Courier is serving: try `curl -s localhost:9901/stats | grep ^tcp` or connect to 127.0.0.1:10000. Ctrl-C stops.');

const stop = () => courier.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
courier.on('exit', (code) => {
  backend.close();
  process.exit(code ?? 0);
});
