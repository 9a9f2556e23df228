#!/usr/bin/env node
// Courier in-process (main and one worker in this process, the same code paths as a worker
// process), CPU-profiled with the V8 sampling profiler over a window chosen by signals:
//
//   node bench/dubbo/profile-server.mjs --config YAML --out FILE.cpuprofile [--interval-us 250] [--top 25]
//        [--courier-dir DIR]   (the built Courier to load; default this repo)
//   node bench/dubbo/profile-server.mjs --summarize FILE.cpuprofile [--top 25]   (re-read a saved one)
//     SIGUSR2  first: start profiling (send it once the load has warmed up); second: stop
//              profiling, write FILE.cpuprofile (open it in Chrome DevTools or speedscope) and
//              print a self-time summary on stdout
//     SIGTERM  the same if still profiling, then stop the server and exit
//
// bench/dubbo/profile.sh drives it. Prints `READY` once the listeners are bound. The summary
// counts self time per function and groups it: Courier's own code (dist/src/), Node's
// internals (node:*), dependencies (node_modules), and V8's (garbage collector), (program), (idle).
import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: opts } = parseArgs({
  options: {
    config: { type: 'string' },
    'courier-dir': { type: 'string', default: REPO },
    out: { type: 'string' },
    'interval-us': { type: 'string', default: '250' },
    top: { type: 'string', default: '25' },
    summarize: { type: 'string' },
  },
});
if (opts.summarize) {
  const profile = JSON.parse(fs.readFileSync(opts.summarize, 'utf8'));
  process.stdout.write(summarize(profile, (profile.endTime - profile.startTime) / 1e6));
  process.exit(0);
}
if (!opts.config || !opts.out) {
  console.error('usage: profile-server.mjs --config YAML --out FILE.cpuprofile [--interval-us N] [--top N] [--courier-dir DIR]');
  console.error('       profile-server.mjs --summarize FILE.cpuprofile [--top N]');
  process.exit(2);
}

const { Server } = await import(pathToFileURL(path.join(opts['courier-dir'], 'dist', 'src', 'server', 'server.js')).href);
const server = await Server.start({ configPath: opts.config, concurrency: 1, inProcess: true, drainTimeS: 0, logLevel: 'error' });
process.stdout.write('READY\n');

const session = new inspector.Session();
session.connect();
const post = (method, params) =>
  new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
await post('Profiler.enable');
await post('Profiler.setSamplingInterval', { interval: Number(opts['interval-us']) });

let started = 0;
let written = false;
async function stopProfile() {
  if (!started || written) return;
  written = true;
  const { profile } = await post('Profiler.stop');
  fs.writeFileSync(opts.out, JSON.stringify(profile));
  process.stdout.write(summarize(profile, (Date.now() - started) / 1000));
}
process.on('SIGUSR2', () => {
  if (!started) {
    started = Date.now();
    post('Profiler.start').catch((e) => process.stderr.write(`Profiler.start failed: ${e.message}\n`));
  } else {
    stopProfile().catch((e) => process.stderr.write(`Profiler.stop failed: ${e.message}\n`));
  }
});

let stopping = false;
process.on('SIGTERM', async () => {
  if (stopping) return;
  stopping = true;
  // Whatever goes wrong below, do not outlive the caller's patience.
  setTimeout(() => process.exit(1), 10_000).unref();
  if (started) await stopProfile();
  else process.stderr.write('SIGTERM before SIGUSR2: nothing profiled\n');
  session.disconnect();
  await server.shutdown();
  process.exit(0);
});

/** Self time per function, grouped, as markdown. */
function summarize(profile, wallS) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map(); // node id -> µs
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);

  const where = (cf) => {
    const url = cf.url ?? '';
    if (!url) return cf.functionName.startsWith('(') ? cf.functionName : '(native)';
    if (url.includes('/dist/src/')) return 'courier';
    if (url.includes('/node_modules/')) return 'deps';
    if (url.startsWith('node:')) return 'node';
    return 'other';
  };
  const shortUrl = (url) => {
    if (!url) return '';
    const i = url.indexOf('/dist/src/');
    if (i >= 0) return `src/${url.slice(i + '/dist/src/'.length).replace(/\.js$/, '.ts')}`;
    const j = url.indexOf('/node_modules/');
    if (j >= 0) return url.slice(j + 1);
    return url.replace(/^file:\/\//, '');
  };

  // Inclusive time per node (the subtree's self time), then both per function.
  const inclusive = new Map();
  const incl = (n) => {
    if (inclusive.has(n.id)) return inclusive.get(n.id);
    let t = self.get(n.id) ?? 0;
    for (const c of n.children ?? []) t += incl(byId.get(c));
    inclusive.set(n.id, t);
    return t;
  };
  const root = profile.nodes[0];
  incl(root);

  const fns = new Map();
  const groups = new Map();
  for (const n of profile.nodes) {
    const cf = n.callFrame;
    const key = `${cf.functionName || '(anonymous)'}\t${cf.url}\t${cf.lineNumber}`;
    const s = self.get(n.id) ?? 0;
    let f = fns.get(key);
    if (!f) {
      f = { name: cf.functionName || '(anonymous)', url: shortUrl(cf.url), line: cf.lineNumber + 1, group: where(cf), self: 0, total: 0, ids: [] };
      fns.set(key, f);
    }
    f.self += s;
    f.ids.push(n.id);
    groups.set(f.group, (groups.get(f.group) ?? 0) + s);
  }
  // Inclusive per function without double counting recursion: only nodes with no ancestor of the same key.
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  for (const [key, f] of fns) {
    const ids = new Set(f.ids);
    for (const id of f.ids) {
      let p = parent.get(id);
      let nested = false;
      while (p !== undefined) {
        if (ids.has(p)) {
          nested = true;
          break;
        }
        p = parent.get(p);
      }
      if (!nested) f.total += inclusive.get(id) ?? 0;
    }
    fns.set(key, f);
  }

  const pct = (us) => `${((us / total) * 100).toFixed(1)}%`;
  const top = Number(opts.top);
  const row = (f) => `| ${f.name} | ${f.url}${f.url ? `:${f.line}` : ''} | ${f.group} | ${pct(f.self)} | ${pct(f.total)} |`;
  const sorted = [...fns.values()].sort((a, b) => b.self - a.self);
  const out = [
    `CPU profile: ${(total / 1e6).toFixed(2)} s of samples over ${wallS.toFixed(1)} s wall, ${profile.samples.length} samples, one every ${(total / profile.samples.length).toFixed(0)} µs on average.`,
    '',
    'Self time by group:',
    '',
    '| group | self |',
    '|---|---:|',
    ...[...groups.entries()].sort((a, b) => b[1] - a[1]).map(([g, t]) => `| ${g} | ${pct(t)} |`),
    '',
    `Top ${top} functions by self time (all code):`,
    '',
    '| function | where | group | self | total |',
    '|---|---|---|---:|---:|',
    ...sorted.slice(0, top).map(row),
    '',
    `Top ${top} functions by self time in Courier's own code (dist/src/; "where" is the .ts file, line of the compiled .js):`,
    '',
    '| function | where | group | self | total |',
    '|---|---|---|---:|---:|',
    ...sorted.filter((f) => f.group === 'courier').slice(0, top).map(row),
    '',
  ];
  return out.join('\n');
}
