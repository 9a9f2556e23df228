#!/usr/bin/env node
// Turns the raw outputs of bench/http/run.sh into results JSON and a markdown table.
//
//   report.mjs --raw DIR --out FILE.json
//       DIR holds <path>.wrk.txt (wrk --latency output), <path>.probe (HTTP status of one curl
//       request before the load) and, for a path that could not be measured, <path>.skipped.
//       Environment BENCH_* variables (set by run.sh) describe the machine and versions.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({ options: { raw: { type: 'string' }, out: { type: 'string' } } });

const PATHS = ['direct', 'courier10', 'courier10k', 'nginx', 'haproxy', 'httpproxy'];
const LABEL = {
  direct: 'direct (nginx backend, no proxy)',
  courier10: 'Courier HCM, 10 routes (--concurrency 2)',
  courier10k: 'Courier HCM, 10,000 routes (--concurrency 2)',
  nginx: 'nginx proxy_pass, upstream keepalive 64 (2 workers)',
  haproxy: 'HAProxy mode http, http-reuse always (nbthread 2)',
  httpproxy: 'node http-proxy, keep-alive agent (1 process)',
};

const read = (f) => {
  try {
    return fs.readFileSync(path.join(opts.raw, f), 'utf8');
  } catch {
    return null;
  }
};

/** wrk duration string ("1.23ms", "850.00us", "1.02s") to milliseconds. */
function ms(s) {
  const m = s?.match(/^([\d.]+)(us|ms|s|m)$/);
  if (!m) return null;
  return Number(m[1]) * { us: 1e-3, ms: 1, s: 1e3, m: 60e3 }[m[2]];
}

function wrk(name) {
  const text = read(`${name}.wrk.txt`);
  if (text == null || text === '') return { error: 'not run or no output' };
  const rps = text.match(/Requests\/sec:\s+([\d.]+)/);
  if (!rps) return { error: 'no Requests/sec in wrk output' };
  const out = { rps: Number(rps[1]) };
  const total = text.match(/(\d+) requests in/);
  if (total) out.requests = Number(total[1]);
  const lat = text.match(/Latency\s+(\S+)\s+(\S+)\s+(\S+)/);
  if (lat) out.latency_avg_ms = ms(lat[1]);
  for (const q of ['50', '99']) {
    const m = text.match(new RegExp(`^\\s+${q}%\\s+(\\S+)`, 'm'));
    if (m) out[`latency_p${q}_ms`] = ms(m[1]);
  }
  const sock = text.match(/Socket errors:.*/);
  const non2xx = text.match(/Non-2xx or 3xx responses:\s+(\d+)/);
  if (sock) out.socket_errors = sock[0];
  if (non2xx) out.non_2xx = Number(non2xx[1]);
  return out;
}

const rows = {};
const ran = PATHS.filter((p) => ['skipped', 'wrk.txt'].some((f) => read(`${p}.${f}`) != null));
for (const p of ran) {
  const skipped = read(`${p}.skipped`);
  // Load average (1, 5, 15 min) just before and just after the measured wrk run.
  const load = read(`${p}.load`)?.trim().split('\n') ?? [];
  rows[p] = skipped != null
    ? { skipped: skipped.trim() }
    : { probe_status: read(`${p}.probe`)?.trim() || null, load_before: load[0] ?? null, load_after: load[1] ?? null, wrk: wrk(p) };
}

const env = process.env;
const result = {
  kind: 'http-proxy-benchmark',
  timestamp: env.BENCH_TIMESTAMP,
  machine: { cores: Number(env.BENCH_CORES), cpu: env.BENCH_CPU, kernel: env.BENCH_KERNEL, note: 'one run on a shared box; load generator, backend and proxy share the cores' },
  versions: { node: env.BENCH_NODE, courier: env.BENCH_COURIER, courier_build_ok: env.BENCH_COURIER_BUILD_OK === 'true', wrk: env.BENCH_WRK, haproxy: env.BENCH_HAPROXY, nginx: env.BENCH_NGINX, http_proxy: env.BENCH_HTTP_PROXY },
  method: {
    wrk: 'wrk -t1 -c50 -d5s --latency http://127.0.0.1:<port>/bench/hello (keep-alive) against nginx `return 200 "hello world\\n"` (1 worker, keepalive_requests 1000000)',
    warmup_s: env.BENCH_WARMUP_S === undefined ? null : Number(env.BENCH_WARMUP_S),
    courier_routes: 'N prefix routes /r0/ … /r<N-1>/ then `prefix: /bench/` last (the one matched), N = 10 and 10000',
  },
  results: rows,
};
fs.writeFileSync(opts.out, JSON.stringify(result, null, 2) + '\n');

const v = (p) => rows[p]?.wrk?.rps ?? null;
const fmt = (x, d) => (x == null ? 'n/a' : x.toFixed(d));
const ratio = (x, base) => (x == null || base == null || base === 0 ? 'n/a' : `${(x / base).toFixed(2)}×`);
const lines = [
  `HTTP proxy benchmark, ${env.BENCH_TIMESTAMP}, Courier ${env.BENCH_COURIER}, ${env.BENCH_CORES} cores (${env.BENCH_CPU}), one run. Ratios are against nginx proxy_pass and node http-proxy from the same run.`,
  '',
  `Each path: ${env.BENCH_WARMUP_S ?? '?'} s of warm-up load, then the measured 5 s; "load" is the 1-minute load average just before and just after it.`,
  '',
  '| path | req/s | ×nginx proxy_pass | ×http-proxy | avg ms | p50 ms | p99 ms | load |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
];
const load1 = (l) => (l == null ? '?' : l.split(' ')[0]);
for (const p of ran) {
  const r = rows[p];
  if (r.skipped) { lines.push(`| ${LABEL[p]} | skipped: ${r.skipped} |||||||`); continue; }
  const w = r.wrk;
  lines.push(`| ${LABEL[p]} | ${fmt(w.rps ?? null, 0)} | ${ratio(v(p), v('nginx'))} | ${ratio(v(p), v('httpproxy'))} | ${fmt(w.latency_avg_ms ?? null, 2)} | ${fmt(w.latency_p50_ms ?? null, 2)} | ${fmt(w.latency_p99_ms ?? null, 2)} | ${load1(r.load_before)} → ${load1(r.load_after)} |`);
}
const problems = [];
for (const p of ran) {
  const r = rows[p];
  if (r.skipped) continue;
  if (r.probe_status !== '200') problems.push(`${p}: probe request answered ${r.probe_status ?? 'nothing'}, not 200`);
  if (r.wrk.error) problems.push(`${p}: ${r.wrk.error}`);
  if (r.wrk.socket_errors) problems.push(`${p}: ${r.wrk.socket_errors}`);
  if (r.wrk.non_2xx) problems.push(`${p}: ${r.wrk.non_2xx} non-2xx responses`);
}
if (problems.length) lines.push('', 'Problems seen:', ...problems.map((s) => `- ${s}`));
lines.push('', `Versions: node ${env.BENCH_NODE}, ${env.BENCH_HAPROXY}, ${env.BENCH_NGINX}, http-proxy ${env.BENCH_HTTP_PROXY}, ${env.BENCH_WRK}; kernel ${env.BENCH_KERNEL}.`);
console.log(lines.join('\n'));
