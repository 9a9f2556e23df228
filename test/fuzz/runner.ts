/**
 * Runs one target in its own worker thread, with a watchdog: a case that makes no progress for
 * `hangMs` is a hang (the thread is terminated and the case in flight is saved), and a thread
 * that dies (out of memory, say) is a crash with the case it died on. Findings are sorted into
 * new and known (known-failures.ts) and written to the findings directory, each with a one-line
 * repro command.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { findingId, PHASES, type EngineReport, type Finding } from './engine.js';
import type { WorkerReply, WorkerRequest } from './fuzz-worker.js';
import { KNOWN_FAILURES, knownFailureFor, type KnownFailure } from './known-failures.js';
import { newSharedCaseBuffer, SharedCase } from './shared-case.js';

export interface RunOptions {
  readonly target: string;
  readonly seed: number;
  readonly timeMs: number;
  readonly maxCases?: number;
  readonly coverage: boolean;
  /** Where findings are written; null: nowhere (the smoke test keeps them in memory). */
  readonly findingsDir: string | null;
  /** A case that runs longer than this is a hang. */
  readonly hangMs: number;
  readonly repro?: { input: Buffer; splits: number[] };
  readonly probe?: string;
}

export interface ClassifiedFinding {
  readonly finding: Finding;
  readonly known?: KnownFailure;
  /** The file the input was saved to, when a findings directory was given. */
  readonly file?: string;
  readonly repro: string;
}

export interface TargetResult {
  readonly target: string;
  readonly report?: EngineReport;
  readonly reply?: WorkerReply;
  readonly findings: ClassifiedFinding[];
  /** Known failures of this target that did not show up in this run (fixed?). */
  readonly knownNotSeen: KnownFailure[];
}

export function reproCommand(target: string, file: string): string {
  return `npm run fuzz -- --target ${target} --repro ${file}`;
}

export async function runTarget(opts: RunOptions): Promise<TargetResult> {
  const sharedBuffer = newSharedCaseBuffer();
  const shared = new SharedCase(sharedBuffer);
  const request: WorkerRequest = {
    target: opts.target,
    seed: opts.seed,
    timeMs: opts.timeMs,
    ...(opts.maxCases !== undefined ? { maxCases: opts.maxCases } : {}),
    coverage: opts.coverage,
    shared: sharedBuffer,
    ...(opts.repro ? { repro: { input: new Uint8Array(opts.repro.input), splits: opts.repro.splits } } : {}),
    ...(opts.probe ? { probe: opts.probe } : {}),
  };
  const worker = new Worker(new URL('./fuzz-worker.js', import.meta.url), {
    workerData: request,
    resourceLimits: { maxOldGenerationSizeMb: 1536 },
  });
  const extra: Finding[] = [];
  const reply = await new Promise<WorkerReply | undefined>((resolve) => {
    let last = shared.counter;
    let lastChange = Date.now();
    const watchdog = setInterval(() => {
      const now = Date.now();
      if (shared.counter !== last) {
        last = shared.counter;
        lastChange = now;
        return;
      }
      if (now - lastChange < opts.hangMs) return;
      clearInterval(watchdog);
      const { input, splits } = shared.read();
      const phase = PHASES[shared.phase] ?? 'case';
      const where = phase === 'case' || phase === 'coverage replay' ? 'on the saved case' : `in the ${phase} after the saved case`;
      extra.push({ kind: 'hang', signature: `hang:${phase}`, message: `no progress for ${opts.hangMs} ms ${where}`, input, splits });
      void worker.terminate().then(() => resolve(undefined));
    }, 100);
    worker.once('message', (m: WorkerReply) => {
      clearInterval(watchdog);
      void worker.terminate().then(() => resolve(m));
    });
    worker.once('error', (e: Error & { code?: string }) => {
      clearInterval(watchdog);
      const { input, splits } = shared.read();
      extra.push({
        kind: 'crash',
        signature: `crash:worker:${e.code ?? e.name}`,
        message: `the fuzzing thread died: ${e.message}`,
        stack: e.stack ?? '',
        input,
        splits,
      });
      resolve(undefined);
    });
  });

  const report = reply?.type === 'report' ? reply.report : undefined;
  const found: Finding[] = [...(report?.findings ?? []), ...extra];
  if (reply && reply.type !== 'report' && reply.finding) found.push(reply.finding);
  const findings = found.map((f) => classify(opts, normalize(f)));
  const seen = new Set(findings.map((f) => f.known).filter(Boolean));
  // Only crashes replay deterministically from their seeds; timing findings need long runs.
  const knownNotSeen = report ? KNOWN_FAILURES.filter((k) => k.target === opts.target && k.kind === 'crash' && !seen.has(k)) : [];
  return { target: opts.target, ...(report ? { report } : {}), ...(reply ? { reply } : {}), findings, knownNotSeen };
}

/** Structured clone turns Buffers into Uint8Arrays: make them Buffers again. */
function normalize(f: Finding): Finding {
  return { ...f, input: Buffer.from(f.input.buffer, f.input.byteOffset, f.input.byteLength) };
}

function classify(opts: RunOptions, finding: Finding): ClassifiedFinding {
  const known = knownFailureFor(opts.target, finding.kind, finding.signature);
  if (!opts.findingsDir || opts.repro) {
    return { finding, ...(known ? { known } : {}), repro: known?.repro ?? '(run with a findings directory to save the input)' };
  }
  const dir = path.join(opts.findingsDir, opts.target);
  mkdirSync(dir, { recursive: true });
  const id = findingId(finding);
  const file = path.join(dir, `${id}.bin`);
  writeFileSync(file, finding.input);
  const repro = reproCommand(opts.target, file);
  writeFileSync(
    path.join(dir, `${id}.json`),
    `${JSON.stringify(
      {
        target: opts.target,
        kind: finding.kind,
        signature: finding.signature,
        message: finding.message,
        splits: finding.splits,
        known: known ? { issue: known.issue, seed: known.seed } : null,
        repro,
        seed: opts.seed,
        stack: finding.stack ?? null,
      },
      null,
      2,
    )}\n`,
  );
  return { finding, ...(known ? { known } : {}), file, repro };
}
