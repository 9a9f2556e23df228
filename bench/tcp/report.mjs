#!/usr/bin/env node
// Turns the raw outputs of bench/tcp/run.sh and memory.sh into results JSON and markdown.
// Parsing lives here rather than in bash so the scripts need no jq and stay readable.
//
//   report.mjs throughput --raw DIR --out FILE.json [--memory MEMORY.json]
//       DIR holds <proxy>.iperf-p1.json, <proxy>.iperf-p4.json, <proxy>.wrk.txt and,
//       for a proxy that could not be measured, <proxy>.skipped (the reason).
//       Environment BENCH_* variables (set by run.sh) describe the machine and versions.
//   report.mjs memory --raw DIR --out FILE.json
//       DIR holds <proxy>.idle.json (idle-connections.mjs output) and <proxy>.roles
//       (comma-separated role names for the measured PIDs, e.g. "worker,main"),
//       or <proxy>.skipped.
// Both print a markdown table on stdout.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { positionals, values: opts } = parseArgs({
  allowPositionals: true,
  options: { raw: { type: 'string' }, out: { type: 'string' }, memory: { type: 'string' } },
});
const mode = positionals[0];

const PROXIES = ['direct', 'courier', 'haproxy', 'nginx'];
const LABEL = {
  direct: 'direct (no proxy)',
  courier: 'Courier (--concurrency 2)',
  haproxy: 'HAProxy mode tcp (nbthread 2)',
  nginx: 'nginx stream (2 workers)',
};
const MEM_LABEL = { courier: 'Courier (--concurrency 1)', haproxy: 'HAProxy (nbthread 1)', nginx: 'nginx stream (1 worker)' };

const read = (f) => {
  try {
    return fs.readFileSync(path.join(opts.raw, f), 'utf8');
  } catch {
    return null;
  }
};

/** Gbps received by the iperf3 server (end.sum_received), or an error string. */
function iperfGbps(file) {
  const text = read(file);
  if (text == null) return { error: 'not run' };
  try {
    const j = JSON.parse(text);
    if (j.error) return { error: j.error };
    const bps = j.end?.sum_received?.bits_per_second;
    return typeof bps === 'number' ? { value: bps / 1e9 } : { error: 'no end.sum_received in iperf3 output' };
  } catch (e) {
    return { error: `bad iperf3 JSON: ${e.message}` };
  }
}

/** Requests/sec from wrk's text output, plus its error counters (a proxy dropping requests shows here). */
function wrkRps(file) {
  const text = read(file);
  if (text == null) return { error: 'not run' };
  const m = text.match(/Requests\/sec:\s+([\d.]+)/);
  if (!m) return { error: 'no Requests/sec in wrk output' };
  const out = { value: Number(m[1]) };
  const sock = text.match(/Socket errors:.*/);
  const non2xx = text.match(/Non-2xx or 3xx responses:\s+(\d+)/);
  if (sock) out.socket_errors = sock[0];
  if (non2xx) out.non_2xx = Number(non2xx[1]);
  return out;
}

const fmt = (v, digits) => (v == null ? 'n/a' : v.toFixed(digits));
const ratio = (v, base) => (v == null || base == null || base === 0 ? 'n/a' : `${(v / base).toFixed(2)}×`);

function throughput() {
  const rows = {};
  // Paths left out with run.sh --proxies have no raw files at all; they get no row.
  const ran = PROXIES.filter((p) => ['skipped', 'iperf-p1.json', 'iperf-p4.json', 'wrk.txt'].some((f) => read(`${p}.${f}`) != null));
  for (const p of ran) {
    const skipped = read(`${p}.skipped`);
    rows[p] = skipped != null
      ? { skipped: skipped.trim() }
      : { iperf_p1_gbps: iperfGbps(`${p}.iperf-p1.json`), iperf_p4_gbps: iperfGbps(`${p}.iperf-p4.json`), wrk_rps: wrkRps(`${p}.wrk.txt`) };
  }
  const env = process.env;
  const result = {
    kind: 'tcp-proxy-benchmark',
    timestamp: env.BENCH_TIMESTAMP,
    machine: { cores: Number(env.BENCH_CORES), cpu: env.BENCH_CPU, kernel: env.BENCH_KERNEL, note: 'one run on a shared 2-core box; load generator, backend and proxy share the cores' },
    versions: { node: env.BENCH_NODE, courier: env.BENCH_COURIER, courier_build_ok: env.BENCH_COURIER_BUILD_OK === 'true', iperf3: env.BENCH_IPERF3, wrk: env.BENCH_WRK, haproxy: env.BENCH_HAPROXY, nginx: env.BENCH_NGINX },
    method: {
      iperf3: 'iperf3 -c 127.0.0.1 -p <port> -t 5 -P 1|4 -J; Gbps = end.sum_received.bits_per_second / 1e9',
      wrk: 'wrk -t1 -c50 -d5s http://127.0.0.1:<port>/ against nginx `return 200 "hello world\\n"` (1 worker)',
    },
    results: rows,
  };
  if (opts.memory && fs.existsSync(opts.memory)) result.idle_memory = JSON.parse(fs.readFileSync(opts.memory, 'utf8'));
  fs.writeFileSync(opts.out, JSON.stringify(result, null, 2) + '\n');

  const v = (p, k) => rows[p]?.[k]?.value ?? null;
  const lines = [
    `TCP proxy benchmark, ${env.BENCH_TIMESTAMP}, ${env.BENCH_CORES} cores (${env.BENCH_CPU}), one run. Ratios are against HAProxy and against direct from the same run.`,
    '',
    '| path | iperf3 -P1 Gbps | ×HAProxy | ×direct | iperf3 -P4 Gbps | ×HAProxy | ×direct | wrk c50 req/s | ×HAProxy | ×direct |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const p of ran) {
    if (rows[p].skipped) {
      lines.push(`| ${LABEL[p]} | skipped: ${rows[p].skipped} |||||||||`);
      continue;
    }
    const cells = [];
    for (const [k, d] of [['iperf_p1_gbps', 2], ['iperf_p4_gbps', 2], ['wrk_rps', 0]]) {
      cells.push(fmt(v(p, k), d), ratio(v(p, k), v('haproxy', k)), ratio(v(p, k), v('direct', k)));
    }
    lines.push(`| ${LABEL[p]} | ${cells.join(' | ')} |`);
  }
  const problems = [];
  for (const p of ran) {
    for (const [k, r] of Object.entries(rows[p])) {
      if (r?.error) problems.push(`${p} ${k}: ${r.error}`);
      if (r?.socket_errors) problems.push(`${p} ${k}: ${r.socket_errors}`);
      if (r?.non_2xx) problems.push(`${p} ${k}: ${r.non_2xx} non-2xx responses`);
    }
  }
  if (problems.length) lines.push('', 'Problems seen:', ...problems.map((s) => `- ${s}`));
  if (result.idle_memory) lines.push('', memoryTable(result.idle_memory));
  lines.push('', `Versions: node ${env.BENCH_NODE}, Courier ${env.BENCH_COURIER}, ${env.BENCH_HAPROXY}, ${env.BENCH_NGINX}, ${env.BENCH_IPERF3}, ${env.BENCH_WRK}; kernel ${env.BENCH_KERNEL}.`);
  console.log(lines.join('\n'));
}

function memoryTable(mem) {
  const lines = [
    `Idle connections: ${mem.connections} idle proxied connections (fd limit ${mem.fd_limit}), one worker per proxy; RSS from \`ps -o rss=\`.`,
    '',
    '| proxy | connections held | worker RSS idle (MiB) | worker RSS holding them (MiB) | KiB per idle connection |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const [p, r] of Object.entries(mem.results)) {
    if (r.skipped) {
      lines.push(`| ${MEM_LABEL[p] ?? p} | skipped: ${r.skipped} ||||`);
      continue;
    }
    const w = r.processes.find((x) => x.role === 'worker') ?? r.processes[0];
    const mib = (k) => (k == null ? 'n/a' : (k / 1024).toFixed(1));
    lines.push(`| ${MEM_LABEL[p] ?? p} | ${r.still_open} of ${r.requested} | ${mib(w.rss_before_kib)} | ${mib(w.rss_after_kib)} | ${fmt(w.kib_per_conn, 1)} |`);
  }
  const notes = [];
  for (const [p, r] of Object.entries(mem.results)) {
    for (const x of r.processes ?? []) {
      if (x.role !== 'worker') notes.push(`${p} ${x.role} process: ${fmt(x.rss_before_kib / 1024, 1)} → ${fmt(x.rss_after_kib / 1024, 1)} MiB`);
    }
    if (r.failed) notes.push(`${p}: ${r.failed} connections failed to open or echo`);
  }
  if (notes.length) lines.push('', ...notes.map((s) => `- ${s}`));
  return lines.join('\n');
}

function memory() {
  const results = {};
  for (const p of ['courier', 'haproxy', 'nginx']) {
    const skipped = read(`${p}.skipped`);
    const idle = read(`${p}.idle.json`);
    if (skipped == null && idle == null && read(`${p}.roles`) == null) continue; // not requested (--proxies)
    if (skipped != null) results[p] = { skipped: skipped.trim() };
    else if (!idle?.trim()) results[p] = { skipped: 'no output from idle-connections.mjs' };
    else {
      const r = JSON.parse(idle);
      const roles = (read(`${p}.roles`) ?? '').trim().split(',');
      r.processes.forEach((x, i) => (x.role = roles[i] ?? `pid${i}`));
      results[p] = r;
    }
  }
  const mem = {
    kind: 'tcp-idle-connection-memory',
    timestamp: process.env.BENCH_TIMESTAMP,
    connections: Number(process.env.BENCH_IDLE_COUNT),
    fd_limit: Number(process.env.BENCH_FD_LIMIT),
    method: 'warm up with 10 connections, read RSS, open N connections in batches of 500 (each checked with a 1-byte echo through the proxy), idle 3 s, read RSS; KiB/conn = (after - before) / connections still open',
    results,
  };
  fs.writeFileSync(opts.out, JSON.stringify(mem, null, 2) + '\n');
  console.log(memoryTable(mem));
}

if (mode === 'throughput') throughput();
else if (mode === 'memory') memory();
else {
  console.error('usage: report.mjs throughput|memory --raw DIR --out FILE');
  process.exit(2);
}
