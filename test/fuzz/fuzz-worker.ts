/**
 * The thread a target runs in (runner.ts starts it). Before each case it copies the input and
 * its read splits into the shared buffer, so the parent can save the case in flight if this
 * thread hangs (and must be terminated) or dies.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { FuzzEngine, type EngineReport } from './engine.js';
import { loadCorpus } from './corpus.js';
import { probesFor, targetByName } from './targets/index.js';
import { SharedCase } from './shared-case.js';

export interface WorkerRequest {
  readonly target: string;
  readonly seed: number;
  readonly timeMs: number;
  readonly maxCases?: number;
  readonly coverage: boolean;
  readonly shared: SharedArrayBuffer;
  /** Replay one input instead of fuzzing. */
  readonly repro?: { input: Uint8Array; splits: number[] };
  /** Run one growth probe by name instead of fuzzing. */
  readonly probe?: string;
}

export type WorkerReply =
  | { readonly type: 'report'; readonly report: EngineReport }
  | { readonly type: 'repro'; readonly outcome?: string; readonly ns: number; readonly finding?: EngineReport['findings'][number] }
  | { readonly type: 'probe'; readonly ratio: number; readonly smallNs: number; readonly largeNs: number; readonly finding?: EngineReport['findings'][number] };

/** Runs the request the parent gave; the thread ends when the reply is posted. */
async function main(req: WorkerRequest): Promise<void> {
  const target = targetByName(req.target);
  if (!target) throw new Error(`unknown target ${req.target}`);
  await target.init?.();
  const shared = new SharedCase(req.shared);
  const engine = new FuzzEngine(target, {
    seed: req.seed,
    timeMs: req.timeMs,
    ...(req.maxCases !== undefined ? { maxCases: req.maxCases } : {}),
    coverage: req.coverage && !req.repro && !req.probe,
    seeds: req.repro || req.probe ? [] : loadCorpus(req.target),
    probes: probesFor(req.target),
    beforeCase: (input, splits) => shared.write(input, splits),
    onPhase: (phase) => shared.setPhase(phase),
  });
  let reply: WorkerReply;
  if (req.repro) {
    reply = { type: 'repro', ...engine.replay(Buffer.from(req.repro.input), req.repro.splits) };
  } else if (req.probe) {
    const probe = probesFor(req.target).find((p) => p.name === req.probe);
    if (!probe) throw new Error(`target ${req.target} has no probe "${req.probe}" (has: ${probesFor(req.target).map((p) => p.name).join(', ') || 'none'})`);
    reply = { type: 'probe', ...engine.runProbe(probe) };
  } else {
    reply = { type: 'report', report: engine.run() };
  }
  parentPort!.postMessage(reply);
}

// Loaded as a test file by `node --test dist/test/` (every file under test/ is one), or
// imported on the main thread: nothing to do.
if (!isMainThread) await main(workerData as WorkerRequest);
