#!/usr/bin/env node
// Idle-connection memory probe for bench/tcp/memory.sh. Two modes:
//
//   --serve PORT
//       Echo server on 127.0.0.1:PORT (the proxies' upstream). Prints "ready" once listening.
//
//   --connect PORT --count N --rss-pid PID[,PID...] [--batch 500] [--settle-ms 3000]
//       Reads the RSS of the given processes, opens N connections to 127.0.0.1:PORT in
//       batches, checks each one end to end (one byte out, the same byte echoed back, so the
//       proxy really holds an upstream connection), lets them sit idle, reads RSS again,
//       closes everything and prints one JSON object on stdout.
//
// RSS is read with `ps -o rss=` (KiB), the same number memory.sh prints for the baseline.
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    serve: { type: 'string' },
    connect: { type: 'string' },
    count: { type: 'string', default: '10000' },
    batch: { type: 'string', default: '500' },
    'rss-pid': { type: 'string', default: '' },
    'settle-ms': { type: 'string', default: '3000' },
    'batch-timeout-ms': { type: 'string', default: '15000' },
  },
});

if (opts.serve) serve(Number(opts.serve));
else if (opts.connect) await connect(Number(opts.connect));
else {
  console.error('usage: idle-connections.mjs --serve PORT | --connect PORT --count N --rss-pid PID[,PID]');
  process.exit(2);
}

function serve(port) {
  const server = net.createServer((s) => {
    s.on('error', () => {}); // resets at teardown are expected
    s.on('data', (d) => s.write(d));
  });
  // A deep backlog: clients arrive in batches of hundreds.
  server.listen({ host: '127.0.0.1', port, backlog: 4096 }, () => console.log('ready'));
  process.on('SIGTERM', () => process.exit(0));
}

function rssKiB(pid) {
  try {
    return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim());
  } catch {
    return null; // process gone
  }
}

function readRss(pids) {
  return Object.fromEntries(pids.map((p) => [p, rssKiB(p)]));
}

/** Open one connection and resolve once a byte has made the round trip through the proxy. */
function openChecked(port, sockets) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      if (!ok) s.destroy();
      resolve(ok);
    };
    s.setNoDelay(true);
    s.on('connect', () => s.write('p'));
    s.once('data', () => {
      sockets.add(s);
      finish(true);
    });
    s.on('error', () => finish(false));
    s.on('close', () => {
      sockets.delete(s);
      finish(false);
    });
  });
}

async function connect(port) {
  const count = Number(opts.count);
  const batch = Number(opts.batch);
  const settleMs = Number(opts['settle-ms']);
  const batchTimeoutMs = Number(opts['batch-timeout-ms']);
  const pids = opts['rss-pid'].split(',').filter(Boolean).map(Number);
  const sockets = new Set();

  // Warm-up: a few connections that are closed again, so code paths loaded on the first
  // connection (and the proxy's first upstream connect) are not charged to idle connections.
  const warm = new Set();
  await Promise.all(Array.from({ length: 10 }, () => openChecked(port, warm)));
  for (const s of warm) s.destroy();
  await sleep(1000);

  const before = readRss(pids);
  const t0 = Date.now();
  let ok = 0;
  let failed = 0;
  for (let opened = 0; opened < count; opened += batch) {
    const n = Math.min(batch, count - opened);
    const timeout = sleep(batchTimeoutMs).then(() => 'timeout');
    const results = await Promise.race([
      Promise.all(Array.from({ length: n }, () => openChecked(port, sockets))),
      timeout,
    ]);
    if (results === 'timeout') {
      failed += n;
      console.error(`batch at ${opened} timed out after ${batchTimeoutMs} ms; stopping`);
      break;
    }
    for (const r of results) r ? ok++ : failed++;
    if (failed > 0 && ok === 0) break; // the proxy is refusing everything; no point going on
  }
  const openMs = Date.now() - t0;

  // Let the proxy settle (allocator, lazy frees, GC after the burst), sampling as we go.
  const samples = [];
  for (let waited = 0; waited < settleMs; waited += 500) {
    await sleep(500);
    samples.push(readRss(pids));
  }
  const after = samples.at(-1) ?? readRss(pids);
  const stillOpen = sockets.size;

  const perPid = pids.map((p) => ({
    pid: p,
    rss_before_kib: before[p],
    rss_after_kib: after[p],
    kib_per_conn: before[p] != null && after[p] != null && stillOpen > 0 ? (after[p] - before[p]) / stillOpen : null,
  }));
  console.log(JSON.stringify({ requested: count, opened_ok: ok, failed, still_open: stillOpen, open_ms: openMs, settle_ms: settleMs, processes: perPid }));

  for (const s of sockets) s.destroy();
  await sleep(200);
  process.exit(0);
}
