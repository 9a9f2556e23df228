#!/usr/bin/env node
// `npm start`: runs a tiny echo backend on 127.0.0.1:10001 and Courier on
// examples/tcp-proxy.yaml (listener 127.0.0.1:10000 → backend, admin 127.0.0.1:9901), sends
// one message through the proxy so you see bytes flow, then keeps serving until Ctrl-C or
// SIGTERM.
//
// A port that is taken ends it at once with exit code 1 and one line saying which port, whose
// it is and what to do (Courier says so itself for its listener and admin). Nothing is left
// running: Courier is stopped with this script, and under npm both stop when npm does (npm
// forwards SIGTERM only to the shell it runs this script through, see
// src/server/npm-launcher-watch.ts).
import net from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { bindFailureReason } from '../dist/src/common/network/bind-failure.js';
import { watchNpmLauncher } from '../dist/src/server/npm-launcher-watch.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BACKEND = { host: '127.0.0.1', port: 10001 };

const backend = net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
try {
  await new Promise((resolve, reject) => {
    backend.once('error', reject);
    backend.listen(BACKEND.port, BACKEND.host, resolve);
  });
} catch (err) {
  console.error(`npm start: the example's echo backend cannot listen on ${BACKEND.host}:${BACKEND.port}: ${bindFailureReason(err, BACKEND.host, BACKEND.port)}`);
  process.exit(1);
}
console.log(`echo backend listening on ${BACKEND.host}:${BACKEND.port}`);

const courier = spawn(process.execPath, [path.join(root, 'bin/courier.js'), '-c', path.join(root, 'examples/tcp-proxy.yaml'), '--concurrency', '2', '--drain-time-s', '2'], {
  stdio: ['ignore', 'inherit', 'pipe'],
});
courier.stderr.pipe(process.stderr);
const stop = () => {
  if (courier.exitCode === null && courier.signalCode === null) courier.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
watchNpmLauncher(stop);
let started = false;
courier.once('exit', (code, signal) => {
  // Courier's own message (stderr, above) says what went wrong; the exit code is its own.
  if (!started) console.error('npm start: Courier did not start (see the line above); nothing is left running.');
  backend.close();
  process.exit(code ?? (signal ? 1 : 0));
});

started = await new Promise((resolve) => {
  let seen = '';
  const onData = (d) => {
    seen += d;
    if (!seen.includes('courier started')) return;
    courier.stderr.off('data', onData);
    resolve(true);
  };
  courier.stderr.on('data', onData);
});
if (started) {
  const reply = await new Promise((resolve, reject) => {
    const c = net.connect(10000, '127.0.0.1', () => c.end('hello through Courier\n'));
    let got = '';
    c.on('data', (d) => (got += d));
    c.on('end', () => resolve(got));
    c.on('error', reject);
  }).catch((err) => `(no reply: ${err.message})`);
  console.log(`sent "hello through Courier", the backend echoed back: ${JSON.stringify(reply)}`);
  console.log('Courier is serving: try `curl -s localhost:9901/stats | grep ^tcp` or connect to 127.0.0.1:10000. Ctrl-C stops.');
}
