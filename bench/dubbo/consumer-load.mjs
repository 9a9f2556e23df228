#!/usr/bin/env node
// The real JS consumer as a second client: apache-dubbo-consumer's DubboDirectlyInvoker (one
// connection), through test/support/dubbo-peers.ts's createConsumer (compiled to dist/ by
// `npm run build`), calling DemoService.echo(java.lang.String of --size characters) with
// --inflight calls in flight, for --duration seconds after --warmup seconds.
//
//   node bench/dubbo/consumer-load.mjs --port P [--inflight 64] [--warmup 1] [--duration 5] [--size 1024]
//        [--courier-dir DIR]   (the built copy whose dist/test/support/ to use; default this repo)
//        [--watch name:pid,...] (CPU use of these processes and of the machine; see cpu.mjs)
//
// Prints one JSON line in loadgen.mjs's shape: {calls_per_s, p50_ms, p99_ms, errors, ...}.
// Here latency includes the consumer's own hessian encoding and decoding.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuWatcher } from './cpu.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: opts } = parseArgs({
  options: {
    'courier-dir': { type: 'string', default: REPO },
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    inflight: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '1' },
    duration: { type: 'string', default: '5' },
    size: { type: 'string', default: '1024' },
    watch: { type: 'string', default: '' },
  },
});
if (!opts.port) {
  console.error('usage: consumer-load.mjs --port P [--inflight N] [--warmup S] [--duration S] [--size N]');
  process.exit(2);
}
const { createConsumer, java } = await import(pathToFileURL(path.join(opts['courier-dir'], 'dist', 'test', 'support', 'dubbo-peers.js')).href);
const INFLIGHT = Number(opts.inflight);
const WARMUP_MS = Number(opts.warmup) * 1000;
const DURATION_MS = Number(opts.duration) * 1000;
const SIZE = Number(opts.size);

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const args = [];
for (let i = 0; i < 256; i++) {
  let s = '';
  for (let j = 0; j < SIZE; j++) s += ALPHABET[(Math.random() * ALPHABET.length) | 0];
  args.push(s);
}

const client = createConsumer(`${opts.host}:${opts.port}`, { timeoutMs: 5000 });
const latencies = new Float64Array(Math.max(1, Math.ceil((DURATION_MS / 1000) * 200_000)));
let recorded = 0;
let calls = 0;
let errors = 0;
let firstError = null;
let phase = 'warmup';
let windowStart = 0;
let windowEnd = 0;

async function loop(k) {
  let i = k;
  while (phase === 'warmup' || phase === 'measure') {
    const t0 = performance.now();
    const { res, err } = await client.echo(java.String(args[i++ % args.length]));
    const t1 = performance.now();
    const ok = !err && typeof res === 'string' && res.length === SIZE;
    if (!ok) {
      errors++;
      firstError ??= err ? String(err.message ?? err) : `unexpected result ${typeof res}`;
      // A failing connection fails fast; do not spin.
      await new Promise((r) => setTimeout(r, 10));
    }
    if (phase === 'measure' && ok) {
      calls++;
      if (recorded < latencies.length) latencies[recorded++] = t1 - t0;
    }
  }
}

// The library connects lazily and queues calls until connected.
const loops = [];
for (let k = 0; k < INFLIGHT; k++) loops.push(loop(k));

const watcher = cpuWatcher(opts.watch);
await new Promise((r) => setTimeout(r, WARMUP_MS));
phase = 'measure';
windowStart = performance.now();
const cpuA = watcher.snapshot();
await new Promise((r) => setTimeout(r, DURATION_MS));
windowEnd = performance.now();
const cpu = watcher.report(cpuA, watcher.snapshot());
phase = 'drain';
// Let the calls in flight finish (bounded by the consumer's own 5 s timeout).
await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 6000))]);
client.close();

const round = (v, d) => Math.round(v * 10 ** d) / 10 ** d;
const lat = latencies.subarray(0, recorded).sort();
const pct = (p) => (recorded === 0 ? null : round(lat[Math.min(recorded - 1, Math.floor((p / 100) * recorded))], 3));
const secs = (windowEnd - windowStart) / 1000;
process.stdout.write(
  JSON.stringify({
    calls_per_s: round(calls / secs, 0),
    p50_ms: pct(50),
    p99_ms: pct(99),
    errors,
    calls,
    window_s: round(secs, 3),
    in_flight: INFLIGHT,
    connections: 1,
    client: 'apache-dubbo-consumer DubboDirectlyInvoker',
    first_error: firstError,
    cpu_pct: cpu,
  }) + '\n',
);
process.exit(0);
