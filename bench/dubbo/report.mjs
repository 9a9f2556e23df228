#!/usr/bin/env node
// Turns the raw outputs of bench/dubbo/run.sh into results JSON and a markdown table.
//
//   report.mjs --raw DIR --out FILE.json
//       DIR holds <path>.<provider>.json (one loadgen.mjs JSON line; provider fast|real),
//       consumer.<path>.fast.json (consumer-load.mjs), <path>.skipped (why a path could
//       not be measured) and <path>.courier-log (Courier's warnings, if any).
//       Environment BENCH_* variables (set by run.sh) describe the machine and versions.
// Ratios are against direct with the same provider in the same run: the mean of the
// `direct` and `direct-again` rows when both ran (the box drifts; both are shown).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({ options: { raw: { type: 'string' }, out: { type: 'string' } } });

const PATHS = ['direct', 'exclusive-c1', 'exclusive-c2', 'multiplexed1-c1', 'multiplexed1-c2', 'multiplexed2-c1', 'multiplexed2-c2', 'direct-again'];
const LABEL = {
  direct: 'direct (no proxy)',
  'direct-again': 'direct, again at the end',
  'exclusive-c1': 'Courier EXCLUSIVE, --concurrency 1',
  'exclusive-c2': 'Courier EXCLUSIVE, --concurrency 2',
  'multiplexed1-c1': 'Courier MULTIPLEXED ×1 conn, --concurrency 1',
  'multiplexed1-c2': 'Courier MULTIPLEXED ×1 conn, --concurrency 2',
  'multiplexed2-c1': 'Courier MULTIPLEXED ×2 conns, --concurrency 1',
  'multiplexed2-c2': 'Courier MULTIPLEXED ×2 conns, --concurrency 2',
};
const PROVIDERS = { fast: 'fast echo (fast-provider.mjs)', real: 'real npm provider (apache-dubbo-service)' };
const TARGET = 0.8;
/** Rows during which other work kept more than this % of a core busy are flagged (run.sh retries them). */
const NOISY_PCT = 20;

const read = (f) => {
  try {
    return fs.readFileSync(path.join(opts.raw, f), 'utf8');
  } catch {
    return null;
  }
};

/** One client run: its JSON line, or {error}. */
function run(file) {
  const text = read(file);
  if (text == null) return { error: 'not run' };
  if (!text.trim()) return { error: 'no output (crashed or timed out; see the run log)' };
  try {
    return JSON.parse(text.trim().split('\n').pop());
  } catch (e) {
    return { error: `bad JSON: ${e.message}` };
  }
}

const isDirect = (p) => p === 'direct' || p === 'direct-again';
const ran = PATHS.filter((p) => ['skipped', 'fast.json', 'real.json'].some((f) => read(`${p}.${f}`) != null));

const results = {};
for (const p of ran) {
  const skipped = read(`${p}.skipped`);
  if (skipped != null) {
    results[p] = { skipped: skipped.trim() };
    continue;
  }
  results[p] = { fast: run(`${p}.fast.json`), real: run(`${p}.real.json`) };
  for (const prov of ['fast', 'real']) {
    const attempts = Number(read(`${p}.${prov}.attempts`) ?? 1);
    if (results[p][prov] && !results[p][prov].error) results[p][prov].attempts = attempts;
  }
  const log = read(`${p}.courier-log`);
  if (log?.trim()) results[p].courier_log = log.trim();
}
const consumer = {};
for (const p of PATHS) {
  if (read(`consumer.${p}.fast.json`) == null) continue;
  consumer[p] = run(`consumer.${p}.fast.json`);
  if (!consumer[p].error) consumer[p].attempts = Number(read(`consumer.${p}.fast.attempts`) ?? 1);
}

/** The direct baseline per provider: mean of the direct runs that worked. */
function baseline(prov, table) {
  const vals = ['direct', 'direct-again'].map((p) => table[p]?.[prov]?.calls_per_s ?? table[p]?.calls_per_s).filter((v) => typeof v === 'number');
  return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
}
const base = { fast: baseline('fast', results), real: baseline('real', results) };
const consumerBase = (() => {
  const v = consumer.direct?.calls_per_s;
  return typeof v === 'number' ? v : null;
})();

const fmt = (v, d) => (v == null ? 'n/a' : v.toFixed(d));
const ratioOf = (v, b) => (v == null || b == null || b === 0 ? null : v / b);
const fmtRatio = (r) => (r == null ? 'n/a' : `${r.toFixed(2)}×`);

/** CPU % of one core over the measured window: Courier (main + workers), provider, load generator. */
function cpu(r) {
  const c = r.cpu_pct ?? {};
  let courier = null;
  for (const [k, v] of Object.entries(c)) if (k.startsWith('courier') && typeof v === 'number') courier = (courier ?? 0) + v;
  return { courier, provider: c.provider ?? null, loadgen: c.loadgen ?? null, other: c.other ?? null, steal: c.steal ?? null };
}

const env = process.env;
for (const p of ran) {
  if (results[p].skipped) continue;
  for (const prov of ['fast', 'real']) {
    const r = results[p][prov];
    if (r && !r.error && !isDirect(p)) r.ratio_to_direct = round(ratioOf(r.calls_per_s, base[prov]), 3);
  }
}
for (const [p, r] of Object.entries(consumer)) {
  if (!r.error && p !== 'direct') r.ratio_to_direct = round(ratioOf(r.calls_per_s, consumerBase), 3);
}
function round(v, d) {
  return v == null ? null : Math.round(v * 10 ** d) / 10 ** d;
}

const out = {
  kind: 'dubbo-proxy-benchmark',
  timestamp: env.BENCH_TIMESTAMP,
  machine: { cores: Number(env.BENCH_CORES), cpu: env.BENCH_CPU, kernel: env.BENCH_KERNEL, note: 'one run on a shared 2-core box; load generator, provider and proxy share the cores' },
  versions: { node: env.BENCH_NODE, courier: env.BENCH_COURIER, courier_build_ok: env.BENCH_COURIER_BUILD_OK === 'true' },
  method: {
    load: env.BENCH_LOAD,
    loadgen: 'bench/dubbo/loadgen.mjs: pre-encoded DemoService.echo(1 KiB java.lang.String) frames on raw sockets, connections × depth requests in flight, only the 8-byte id rewritten per send, responses parsed header only; calls/s = OK responses in the measured window / window',
    consumer: 'bench/dubbo/consumer-load.mjs: apache-dubbo-consumer DubboDirectlyInvoker (one connection), 64 echo calls in flight, fast provider',
    ratio: 'calls/s over direct with the same provider, direct = mean of the direct and direct-again rows of this run',
    cpu_pct: '% of one core over the measured window, from /proc/<pid>/stat (utime+stime); Courier = main + workers; other = machine busy (/proc/stat) minus the processes listed; steal from /proc/stat',
  },
  direct_baseline_calls_per_s: { fast: round(base.fast, 0), real: round(base.real, 0), consumer: consumerBase },
  results,
  consumer,
};
fs.writeFileSync(opts.out, JSON.stringify(out, null, 2) + '\n');

// --- markdown -------------------------------------------------------------------------
const lines = [
  `Dubbo proxy benchmark, ${env.BENCH_TIMESTAMP}, Courier ${env.BENCH_COURIER}, ${env.BENCH_CORES} cores (${env.BENCH_CPU}), one run.`,
  `Load: ${env.BENCH_LOAD}. ×direct is against direct with the same provider, same run (mean of the two direct rows). CPU is % of one core over the measured window (the box has ${env.BENCH_CORES} cores: ${Number(env.BENCH_CORES) * 100}% in all); "other" is everything else the machine was busy with, a noise indicator.`,
  '',
  '| provider | path | calls/s | ×direct | p50 ms | p99 ms | errors | CPU Courier | CPU provider | CPU loadgen | CPU other | steal |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
];
const problems = [];
const noisyRows = [];
const courierRatios = { fast: [], real: [] };
for (const prov of ['fast', 'real']) {
  for (const p of ran) {
    const row = results[p];
    if (row.skipped) {
      lines.push(`| ${PROVIDERS[prov]} | ${LABEL[p]} | skipped: ${row.skipped} ||||||||||`);
      continue;
    }
    const r = row[prov];
    if (!r || r.error) {
      lines.push(`| ${PROVIDERS[prov]} | ${LABEL[p]} | failed: ${r?.error ?? 'not run'} ||||||||||`);
      continue;
    }
    const c = cpu(r);
    const ratio = isDirect(p) ? '' : fmtRatio(r.ratio_to_direct);
    if (!isDirect(p) && r.ratio_to_direct != null) courierRatios[prov].push([p, r.ratio_to_direct]);
    const noisy = c.other != null && c.other > NOISY_PCT;
    if (noisy) noisyRows.push(`${p} (${prov})`);
    if (r.attempts > 1) problems.push(`${p} (${prov}): measured ${r.attempts} times because the box was busy; the quietest attempt is shown`);
    lines.push(
      `| ${PROVIDERS[prov]} | ${LABEL[p]}${noisy ? ' †' : ''} | ${fmt(r.calls_per_s, 0)} | ${ratio} | ${fmt(r.p50_ms, 2)} | ${fmt(r.p99_ms, 2)} | ${r.errors} | ${c.courier == null ? '' : `${c.courier.toFixed(0)}%`} | ${fmt(c.provider, 0)}% | ${fmt(c.loadgen, 0)}% | ${fmt(c.other, 0)}% | ${fmt(c.steal, 0)}% |`,
    );
    if (r.errors) problems.push(`${p} (${prov}): ${r.errors} errors ${JSON.stringify(r.error_detail)}`);
    if (r.first_response && r.first_response !== 'ok') problems.push(`${p} (${prov}): first response check: ${r.first_response}`);
  }
}
if (Object.keys(consumer).length) {
  lines.push(
    '',
    'Real JS consumer (apache-dubbo-consumer, one connection, 64 calls in flight, 1 KiB echo) against the fast provider:',
    '',
    '| client | path | calls/s | ×direct | p50 ms | p99 ms | errors | CPU Courier | CPU provider | CPU consumer | CPU other | steal |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const [p, r] of Object.entries(consumer)) {
    if (r.error) {
      lines.push(`| apache-dubbo-consumer | ${LABEL[p]} | failed: ${r.error} ||||||||||`);
      continue;
    }
    const c = cpu(r);
    const attempts = r.attempts ?? 1;
    if (attempts > 1) problems.push(`consumer ${p}: measured ${attempts} times because the box was busy; the quietest attempt is shown`);
    const noisy = c.other != null && c.other > NOISY_PCT;
    if (noisy) noisyRows.push(`consumer ${p}`);
    lines.push(
      `| apache-dubbo-consumer | ${LABEL[p]}${noisy ? ' †' : ''} | ${fmt(r.calls_per_s, 0)} | ${p === 'direct' ? '' : fmtRatio(r.ratio_to_direct)} | ${fmt(r.p50_ms, 2)} | ${fmt(r.p99_ms, 2)} | ${r.errors} | ${c.courier == null ? '' : `${c.courier.toFixed(0)}%`} | ${fmt(c.provider, 0)}% | ${fmt(c.loadgen, 0)}% | ${fmt(c.other, 0)}% | ${fmt(c.steal, 0)}% |`,
    );
    if (r.errors) problems.push(`consumer ${p}: ${r.errors} errors (first: ${r.first_error})`);
  }
}
if (noisyRows.length) lines.push('', `† other work kept more than ${NOISY_PCT}% of a core busy during this row's window in every attempt: treat it as noisy.`);
lines.push('');
for (const prov of ['fast', 'real']) {
  const rs = courierRatios[prov];
  if (!rs.length) continue;
  const best = rs.reduce((a, b) => (b[1] > a[1] ? b : a));
  const met = rs.filter(([, r]) => r >= TARGET).length;
  lines.push(
    `Target ${TARGET}× direct, ${PROVIDERS[prov]}: ${met === 0 ? 'not met' : 'met'} (${met} of ${rs.length} Courier paths at or above it); best ${best[1].toFixed(2)}× (${LABEL[best[0]]}).`,
  );
}
for (const p of ran) if (results[p].courier_log) problems.push(`${p}: Courier logged: ${results[p].courier_log.split('\n').slice(-3).join(' | ')}`);
if (problems.length) lines.push('', 'Problems seen:', ...problems.map((s) => `- ${s}`));
lines.push('', `Versions: node ${env.BENCH_NODE}, Courier ${env.BENCH_COURIER}${env.BENCH_COURIER_BUILD_OK === 'true' ? '' : ' (npm run build reported errors)'}; kernel ${env.BENCH_KERNEL}.`);
console.log(lines.join('\n'));
