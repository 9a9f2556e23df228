#!/usr/bin/env node
// Turns the raw outputs of bench/meta/run.sh into results JSON and a markdown table.
//
//   report.mjs --raw DIR --out FILE.json
//   report.mjs --from FILE.json [--out FILE2.json]   (a saved run again, ratios recomputed by
//       this script's rules: the table on stdout, and with --out the updated JSON)
//       DIR holds <path>.<protocol>.<server>.json (one load generator JSON line; protocol
//       dubbo|thrift, server fast|real), <...>.attempts (how many times it was measured),
//       <path>.skipped (why a path could not be measured) and courier-*.courier-log
//       (Courier's warnings, if any). Environment BENCH_* variables (set by run.sh) describe
//       the machine and versions.
// ×direct is against direct with the same protocol and server in the same run: the mean of
// the `direct` and `direct-again` rows when both ran (the box drifts; both are shown), leaving
// out a direct row that other work made noisy (†) when the other one was quiet.
// ×dubbo_proxy compares a meta_protocol_proxy Dubbo row at --concurrency 1 with dubbo_proxy in
// the matching upstream mode (multiplexing false ↔ EXCLUSIVE, true ↔ MULTIPLEXED ×1 conn).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({ options: { raw: { type: 'string' }, out: { type: 'string' }, from: { type: 'string' } } });
const saved = opts.from ? JSON.parse(fs.readFileSync(opts.from, 'utf8')) : null;
if (!saved && !(opts.raw && opts.out)) {
  console.error('usage: report.mjs --raw DIR --out FILE.json | --from FILE.json');
  process.exit(2);
}

const PATHS = ['direct', 'meta-excl-c1', 'meta-mux-c1', 'dubbo-excl-c1', 'dubbo-mux-c1', 'meta-excl-c2', 'meta-mux-c2', 'direct-again'];
const LABEL = {
  direct: 'direct (no proxy)',
  'direct-again': 'direct, again at the end',
  'meta-excl-c1': 'meta_protocol_proxy, multiplexing false, --concurrency 1',
  'meta-mux-c1': 'meta_protocol_proxy, multiplexing true, --concurrency 1',
  'meta-excl-c2': 'meta_protocol_proxy, multiplexing false, --concurrency 2',
  'meta-mux-c2': 'meta_protocol_proxy, multiplexing true, --concurrency 2',
  'dubbo-excl-c1': 'dubbo_proxy EXCLUSIVE, --concurrency 1',
  'dubbo-mux-c1': 'dubbo_proxy MULTIPLEXED ×1 conn, --concurrency 1',
};
const DEDICATED = { 'meta-excl-c1': 'dubbo-excl-c1', 'meta-mux-c1': 'dubbo-mux-c1' };
const SERVERS = {
  'dubbo.fast': 'Dubbo, canned (bench/dubbo/fast-provider.mjs)',
  'dubbo.real': 'Dubbo, npm provider (apache-dubbo-service)',
  'thrift.fast': 'Thrift, canned (bench/meta/thrift-fast-server.mjs)',
  'thrift.real': 'Thrift, npm thrift server',
};
const TARGET = 0.8;
/** Rows during which other work kept more than this % of a core busy are flagged (run.sh retries them). */
const NOISY_PCT = 20;

const read = (f) => {
  if (saved) return null;
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
function proto(key) {
  return key.split('.')[0];
}
const round = (v, d) => (v == null ? null : Math.round(v * 10 ** d) / 10 ** d);
const isDirect = (p) => p === 'direct' || p === 'direct-again';
const env = saved
  ? {
      BENCH_TIMESTAMP: saved.timestamp,
      BENCH_CORES: String(saved.machine.cores),
      BENCH_CPU: saved.machine.cpu,
      BENCH_KERNEL: saved.machine.kernel,
      BENCH_LOADAVG: saved.machine.load_average,
      BENCH_NODE: saved.versions.node,
      BENCH_THRIFT: saved.versions.thrift,
      BENCH_COURIER: saved.versions.courier,
      BENCH_COURIER_BUILD_OK: String(saved.versions.courier_build_ok),
      BENCH_LOAD: saved.method.load,
      BENCH_PROTOCOLS: Object.keys(saved.results).map(proto).filter((v, i, a) => a.indexOf(v) === i).join(' '),
      BENCH_PATHS: PATHS.filter((p) => Object.values(saved.results).some((rows) => p in rows)).join(' '),
    }
  : process.env;
const protocols = (env.BENCH_PROTOCOLS ?? 'dubbo thrift').split(/\s+/).filter(Boolean);
const paths = (env.BENCH_PATHS ?? PATHS.join(' ')).split(/\s+/).filter(Boolean);
const files = saved ? [] : fs.readdirSync(opts.raw);

// results[key][path] = loadgen JSON | {error} | {skipped}; key = "<protocol>.<server>".
const results = {};
for (const proto of protocols) {
  for (const server of ['fast', 'real']) {
    const key = `${proto}.${server}`;
    results[key] = {};
    for (const p of paths) {
      if (p.startsWith('dubbo-') && proto !== 'dubbo') continue;
      if (saved) {
        const r = saved.results[key]?.[p];
        if (r) results[key][p] = { ...r, ratio_to_direct: undefined, ratio_to_dubbo_proxy: undefined };
        continue;
      }
      const skipped = read(`${p}.skipped`);
      if (skipped != null) {
        results[key][p] = { skipped: skipped.trim() };
        continue;
      }
      const r = run(`${p}.${key}.json`);
      if (!r.error) r.attempts = Number(read(`${p}.${key}.attempts`) ?? 1);
      results[key][p] = r;
    }
  }
}

const isNoisy = (r) => typeof r?.cpu_pct?.other === 'number' && r.cpu_pct.other > NOISY_PCT;
const baseline = {};
for (const [key, rows] of Object.entries(results)) {
  const directs = ['direct', 'direct-again'].map((p) => rows[p]).filter((r) => typeof r?.calls_per_s === 'number');
  const quiet = directs.filter((r) => !isNoisy(r));
  const vals = (quiet.length ? quiet : directs).map((r) => r.calls_per_s);
  baseline[key] = vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
  for (const [p, r] of Object.entries(rows)) {
    if (r.error || r.skipped || isDirect(p)) continue;
    if (baseline[key]) r.ratio_to_direct = round(r.calls_per_s / baseline[key], 3);
    const dedicated = rows[DEDICATED[p]];
    if (proto(key) === 'dubbo' && dedicated?.calls_per_s) r.ratio_to_dubbo_proxy = round(r.calls_per_s / dedicated.calls_per_s, 3);
  }
}

const courierLogs = saved ? { ...(saved.courier_logs ?? {}) } : {};
for (const f of files.filter((f) => f.endsWith('.courier-log'))) {
  const text = read(f).trim();
  if (text) courierLogs[f.replace(/\.courier-log$/, '')] = text;
}

const fresh = {
  kind: 'meta-protocol-proxy-benchmark',
  timestamp: env.BENCH_TIMESTAMP,
  machine: {
    cores: Number(env.BENCH_CORES),
    cpu: env.BENCH_CPU,
    kernel: env.BENCH_KERNEL,
    load_average: env.BENCH_LOADAVG,
    note: 'one run on a shared 2-core box; load generator, server and proxy share the cores',
  },
  versions: { node: env.BENCH_NODE, thrift: env.BENCH_THRIFT, courier: env.BENCH_COURIER, courier_build_ok: env.BENCH_COURIER_BUILD_OK === 'true' },
  method: {
    load: env.BENCH_LOAD,
    dubbo_loadgen: 'bench/dubbo/loadgen.mjs: pre-encoded DemoService.echo(1 KiB java.lang.String) frames on raw sockets, connections × depth in flight, only the 8-byte id rewritten per send, responses parsed header only',
    thrift_loadgen: 'bench/meta/thrift-loadgen.mjs: pre-encoded framed strict-binary CALL echo(1 KiB string) frames on raw sockets, connections × depth in flight, only the seqid rewritten per send, replies parsed by frame length (header and first field only)',
    courier: 'node bin/courier.js -c bench/meta/courier-meta.yaml (meta_protocol_proxy, one listener per protocol × server × multiplexing) or bench/dubbo/courier-{exclusive,multiplexed-1}.yaml (dubbo_proxy) --concurrency N --log-level warn',
    ratio: 'calls/s over direct with the same protocol and server, direct = mean of the direct and direct-again rows of this run (a row with other > 20% of a core left out when the other was quiet); ×dubbo_proxy = meta row over the dubbo_proxy row in the matching mode',
    cpu_pct: '% of one core over the measured window, from /proc/<pid>/stat (utime+stime); Courier = main + workers; other = machine busy (/proc/stat) minus the processes listed; steal from /proc/stat',
  },
  target: `${TARGET}× direct`,
  direct_baseline_calls_per_s: Object.fromEntries(Object.entries(baseline).map(([k, v]) => [k, round(v, 0)])),
  results,
  courier_logs: courierLogs,
};
// --from FILE --out FILE2: the saved run with ratios recomputed by this script's rules.
const out = saved
  ? { ...saved, method: { ...saved.method, ratio: fresh.method.ratio }, direct_baseline_calls_per_s: fresh.direct_baseline_calls_per_s, results }
  : fresh;
if (opts.out) fs.writeFileSync(opts.out, JSON.stringify(out, null, 2) + '\n');

// --- markdown -------------------------------------------------------------------------
const fmt = (v, d) => (v == null ? 'n/a' : v.toFixed(d));
const fmtRatio = (r) => (r == null ? '' : `${r.toFixed(2)}×`);
function cpu(r) {
  const c = r.cpu_pct ?? {};
  let courier = null;
  for (const [k, v] of Object.entries(c)) if (k.startsWith('courier') && typeof v === 'number') courier = (courier ?? 0) + v;
  return { courier, server: c.provider ?? null, loadgen: c.loadgen ?? null, other: c.other ?? null };
}
const lines = [
  `MetaProtocol benchmark, ${env.BENCH_TIMESTAMP}, Courier ${env.BENCH_COURIER}, ${env.BENCH_CORES} cores (${env.BENCH_CPU}), one run; load average ${env.BENCH_LOADAVG}.`,
  `Load: ${env.BENCH_LOAD}. ×direct: against direct with the same server, same run (mean of the direct rows, a noisy one left out if the other was quiet). ×dubbo_proxy: the meta row over dubbo_proxy in the matching mode. CPU: % of one core over the measured window; "other" is everything else the machine was busy with.`,
  '',
  '| server | path | calls/s | ×direct | ×dubbo_proxy | p50 ms | p99 ms | errors | CPU Courier | CPU server | CPU loadgen | CPU other |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
];
const problems = [];
const noisy = [];
const verdicts = [];
for (const [key, rows] of Object.entries(results)) {
  const metaRatios = [];
  for (const p of paths) {
    const r = rows[p];
    if (!r) continue;
    if (r.skipped) {
      lines.push(`| ${SERVERS[key]} | ${LABEL[p]} | skipped: ${r.skipped} |||||||||`);
      continue;
    }
    if (r.error) {
      lines.push(`| ${SERVERS[key]} | ${LABEL[p]} | failed: ${r.error} |||||||||`);
      continue;
    }
    const c = cpu(r);
    const rowNoisy = c.other != null && c.other > NOISY_PCT;
    if (rowNoisy) noisy.push(`${p} (${key})`);
    if (r.attempts > 1) problems.push(`${p} (${key}): measured ${r.attempts} times because the box was busy; the quietest attempt is shown`);
    if (r.errors) problems.push(`${p} (${key}): ${r.errors} errors ${JSON.stringify(r.error_detail)}`);
    if (r.first_response && r.first_response !== 'ok') problems.push(`${p} (${key}): first response check: ${r.first_response}`);
    if (p.startsWith('meta-') && r.ratio_to_direct != null) metaRatios.push([p, r.ratio_to_direct]);
    lines.push(
      `| ${SERVERS[key]} | ${LABEL[p]}${rowNoisy ? ' †' : ''} | ${fmt(r.calls_per_s, 0)} | ${fmtRatio(r.ratio_to_direct)} | ${fmtRatio(r.ratio_to_dubbo_proxy)} | ${fmt(r.p50_ms, 2)} | ${fmt(r.p99_ms, 2)} | ${r.errors} | ${c.courier == null ? '' : `${c.courier.toFixed(0)}%`} | ${fmt(c.server, 0)}% | ${fmt(c.loadgen, 0)}% | ${fmt(c.other, 0)}% |`,
    );
  }
  if (metaRatios.length) {
    const best = metaRatios.reduce((a, b) => (b[1] > a[1] ? b : a));
    const met = metaRatios.filter(([, r]) => r >= TARGET).length;
    verdicts.push(`Target ${TARGET}× direct, ${SERVERS[key]}: ${met === 0 ? 'not met' : 'met'} by ${met} of ${metaRatios.length} meta_protocol_proxy paths; best ${best[1].toFixed(2)}× (${LABEL[best[0]]}).`);
  }
}
if (noisy.length) lines.push('', `† other work kept more than ${NOISY_PCT}% of a core busy during this row's window in every attempt: treat it as noisy.`);
lines.push('', ...verdicts);
for (const [name, text] of Object.entries(courierLogs)) problems.push(`${name}: Courier logged: ${text.split('\n').slice(-3).join(' | ')}`);
if (problems.length) lines.push('', 'Problems seen:', ...problems.map((s) => `- ${s}`));
lines.push('', `Versions: node ${env.BENCH_NODE}, npm thrift ${env.BENCH_THRIFT}, Courier ${env.BENCH_COURIER}${env.BENCH_COURIER_BUILD_OK === 'true' ? '' : ' (npm run build reported errors)'}; kernel ${env.BENCH_KERNEL}.`);
console.log(lines.join('\n'));
