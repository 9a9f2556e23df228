/**
 * A bounded smoke run of every fuzz target (test/fuzz/, docs/fuzzing.md): a fixed seed, a few
 * seconds each, with the committed corpus (regression seeds included) replayed first. It fails
 * on any finding that is not on the known list (test/fuzz/known-failures.ts); known ones are
 * reported as diagnostics, and so are known failures that no longer show (fixed: remove them).
 *
 * Findings are kept in memory here (no files); `npm run fuzz -- --target <name> --seed 1` saves
 * them with a repro command. Nothing here asserts on absolute time: the only timing checks are
 * the engine's ratios (cost per byte against the run's own median, growth against size).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTarget } from '../fuzz/runner.js';
import { TARGET_NAMES } from '../fuzz/targets/index.js';

const SEED = 1;
/** Per target; the whole run stays well under 30 s (thread start-up and probes included). */
const TIME_MS = 1000;

for (const target of TARGET_NAMES) {
  test(`fuzz smoke: ${target} (seed ${SEED}, ${TIME_MS} ms)`, async (t) => {
    const result = await runTarget({ target, seed: SEED, timeMs: TIME_MS, coverage: true, findingsDir: null, hangMs: 15_000 });
    const report = result.report;
    assert.ok(report, `the ${target} run ended without a report (findings: ${result.findings.map((f) => f.finding.message).join('; ')})`);
    t.diagnostic(`${report.cases} cases, ${report.coverageBlocks} blocks, corpus ${report.corpusSize}`);
    for (const f of result.findings.filter((x) => x.known)) t.diagnostic(`known (${f.known!.issue}): ${f.finding.kind}: ${f.finding.message}`);
    for (const k of result.knownNotSeen) t.diagnostic(`known failure not seen (fixed? remove it from known-failures.ts): ${k.issue}`);
    const fresh = result.findings.filter((f) => !f.known);
    assert.deepEqual(
      fresh.map((f) => `${f.finding.kind}: ${f.finding.message}\n${f.finding.stack ?? ''}`),
      [],
      `new fuzz findings for ${target}; reproduce with: npm run fuzz -- --target ${target} --seed ${SEED} --time ${TIME_MS / 1000}`,
    );
  });
}
