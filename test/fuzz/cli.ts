/**
 * npm run fuzz -- [--target NAME|all] [--seed N] [--time SECONDS] [--cases N] [--no-coverage]
 *                 [--findings DIR] [--hang-ms MS]
 * npm run fuzz -- --target NAME --repro FILE [--splits 3,17]   (replay one saved case)
 * npm run fuzz -- --target NAME --probe PROBE                  (run one growth probe)
 * npm run fuzz -- --list
 *
 * Exit status: 0 when every finding is on the known list, 1 otherwise. See docs/fuzzing.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runTarget, type TargetResult } from './runner.js';
import { TARGET_NAMES, targetByName } from './targets/index.js';

// `node --test dist/test/` runs every file under a test/ folder, this one included: as a test
// file it does nothing (the smoke test runs the targets; `npm run fuzz` runs this CLI).
if (process.env['NODE_TEST_CONTEXT'] !== undefined) process.exit(0);

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'all' },
    seed: { type: 'string', default: '1' },
    time: { type: 'string', default: '60' },
    cases: { type: 'string' },
    'no-coverage': { type: 'boolean', default: false },
    findings: { type: 'string', default: 'fuzz-findings' },
    'hang-ms': { type: 'string', default: '10000' },
    repro: { type: 'string' },
    splits: { type: 'string' },
    probe: { type: 'string' },
    list: { type: 'boolean', default: false },
  },
});

if (values.list) {
  for (const name of TARGET_NAMES) console.log(`${name.padEnd(16)} ${targetByName(name)!.description}`);
  process.exit(0);
}

const names = values.target === 'all' ? [...TARGET_NAMES] : values.target.split(',');
for (const n of names) {
  if (!targetByName(n)) {
    console.error(`unknown target "${n}"; targets: ${TARGET_NAMES.join(', ')}`);
    process.exit(2);
  }
}
const seed = Number(values.seed);
const timeMs = Number(values.time) * 1000;
const hangMs = Number(values['hang-ms']);
const findingsDir = path.resolve(values.findings);

let repro: { input: Buffer; splits: number[] } | undefined;
if (values.repro) {
  const input = readFileSync(values.repro);
  let splits: number[] = [];
  const sidecar = values.repro.replace(/\.bin$/, '.json');
  if (values.splits !== undefined) splits = values.splits.split(',').filter(Boolean).map(Number);
  else if (sidecar !== values.repro && existsSync(sidecar)) splits = (JSON.parse(readFileSync(sidecar, 'utf8')) as { splits: number[] }).splits;
  repro = { input, splits };
}

let failed = false;
for (const target of names) {
  const result = await runTarget({
    target,
    seed,
    timeMs,
    ...(values.cases !== undefined ? { maxCases: Number(values.cases) } : {}),
    coverage: !values['no-coverage'],
    findingsDir,
    hangMs,
    ...(repro ? { repro } : {}),
    ...(values.probe ? { probe: values.probe } : {}),
  });
  print(result);
  if (result.findings.some((f) => !f.known)) failed = true;
}
process.exit(failed ? 1 : 0);

function print(r: TargetResult): void {
  const rep = r.report;
  if (rep) {
    const secs = rep.elapsedMs / 1000;
    const top = Object.entries(rep.outcomes)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    console.log(
      `${r.target}: ${rep.cases} cases in ${secs.toFixed(1)} s (${Math.round(rep.cases / secs)}/s), ` +
        `${rep.coverageBlocks === null ? 'coverage off' : `${rep.coverageBlocks} blocks`}, corpus ${rep.corpusSize}, ` +
        `${rep.probesRun} growth probes, median ${rep.medianNsPerByte.toFixed(0)} ns/byte, ` +
        `heap ${(rep.heapStartBytes / 1048576).toFixed(1)} → ${(rep.heapEndBytes / 1048576).toFixed(1)} MiB`,
    );
    console.log(`  outcomes: ${top}`);
  } else if (r.reply?.type === 'repro') {
    // A replay has no median to compare with: its time is printed for slow findings.
    const ms = (r.reply.ns / 1e6).toFixed(2);
    console.log(`${r.target}: replayed in ${ms} ms: ${r.reply.outcome !== undefined ? `outcome ${r.reply.outcome} (no finding)` : 'finding reproduced'}`);
  } else if (r.reply?.type === 'probe') {
    console.log(`${r.target}: probe: small ${(r.reply.smallNs / 1e6).toFixed(2)} ms, large ${(r.reply.largeNs / 1e6).toFixed(2)} ms, cost ratio / size ratio ${r.reply.ratio.toFixed(2)}`);
  }
  for (const f of r.findings) {
    const tag = f.known ? `KNOWN (${f.known.issue})` : 'NEW';
    console.log(`  ${tag} ${f.finding.kind}: ${f.finding.message}`);
    console.log(`    signature: ${f.finding.signature}`);
    if (f.file) console.log(`    input: ${f.file} (${f.finding.input.length} bytes, reads split at [${f.finding.splits.slice(0, 16).join(',')}${f.finding.splits.length > 16 ? ',…' : ''}])`);
    console.log(`    repro: ${f.repro}`);
  }
  for (const k of r.knownNotSeen) console.log(`  known failure not seen in this run (fixed? then remove it from known-failures.ts): ${k.issue} ${k.seed}`);
}
