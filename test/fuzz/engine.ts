/**
 * The fuzz loop for one target, in the thread that runs it: seeds first, then mutants of the
 * corpus, with four checks per run:
 *
 * - crash: run() threw (an exception that is not the decoder's documented error type, or a
 *   FuzzCheckFailure from the target's own invariants);
 * - slow: one case cost far more per byte than the median case (confirmed by re-running it);
 * - superlinear: a growth probe (a chunk of an input repeated to sizes n and 8n, fed in fixed
 *   reads) cost more than 4x what linear growth predicts;
 * - memory: the heap after a forced GC grew by more than MEMORY_GROWTH_BYTES across the run.
 *
 * Hangs are caught by the thread's parent (runner.ts), which reads the case in flight from the
 * shared buffer this loop writes before each case.
 *
 * Deterministic for a seed: mutations, read splits and probes all come from one Rng. A run
 * bounded by --cases is the same run every time; a run bounded by time is a prefix of it.
 */
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BlockCoverage } from './coverage.js';
import { cut, Mutator, randomSplits, repeat } from './mutator.js';
import { Rng } from './rng.js';
import { FuzzCheckFailure, type FuzzTarget } from './target.js';

export type FindingKind = 'crash' | 'slow' | 'superlinear' | 'memory' | 'hang';

export interface Finding {
  readonly kind: FindingKind;
  /** Stable across inputs that hit the same defect: what dedup and the known list match on. */
  readonly signature: string;
  readonly message: string;
  readonly stack?: string;
  readonly input: Buffer;
  /** Read boundaries the case was fed with (offsets into input). */
  readonly splits: number[];
}

export interface SeedInput {
  readonly name: string;
  readonly bytes: Buffer;
}

/** A hand-written growth shape: `build(n)` makes an input of about n bytes. */
export interface GrowthProbe {
  readonly name: string;
  build(n: number): Buffer;
  /** Sizes to compare (small, large) and the read size; defaults 32 KiB, 256 KiB, 4 KiB. */
  readonly sizes?: readonly [number, number];
  readonly readBytes?: number;
  /**
   * Runs the probe's input instead of the target's run(): a probe aimed at one decoder path
   * keeps the rest of the target's checks (linear, and large) from hiding the growth.
   */
  readonly run?: (chunks: readonly Buffer[]) => string;
  /** Made by the engine from a random chunk of the corpus (not hand-written). */
  readonly random?: boolean;
}

export interface EngineOptions {
  readonly seed: number;
  /** Stop after this long (ms) ... */
  readonly timeMs: number;
  /** ... or after this many mutated cases, whichever comes first. */
  readonly maxCases?: number;
  readonly coverage: boolean;
  readonly seeds: readonly SeedInput[];
  readonly probes?: readonly GrowthProbe[];
  /** Called before each case with what is about to run (the parent reads it on a hang). */
  readonly beforeCase?: (input: Buffer, splits: readonly number[]) => void;
  /** Called when the loop moves to work other than a case (see PHASES), for a hang's report. */
  readonly onPhase?: (phase: number) => void;
}

/** What the engine is doing, as reported to the parent's watchdog. */
export const PHASES = ['case', 'coverage replay', 'coverage take', 'growth probe', 'heap check', 'mutation'] as const;
const phase = (name: (typeof PHASES)[number]): number => PHASES.indexOf(name);

export interface EngineReport {
  readonly cases: number;
  readonly elapsedMs: number;
  readonly coverageBlocks: number | null;
  readonly corpusSize: number;
  readonly outcomes: Record<string, number>;
  readonly medianNsPerByte: number;
  readonly heapStartBytes: number;
  readonly heapEndBytes: number;
  readonly probesRun: number;
  readonly findings: Finding[];
}

/** Per-byte cost this many times the median flags a case (and its re-runs) as slow. */
const SLOW_FACTOR = 50;
/** ... but only when the case took at least this long: below it, timer and GC noise rule. */
const SLOW_FLOOR_NS = 50e6;
/** A probe's cost ratio over its size ratio above this is super-linear (quadratic gives 8). */
const SUPERLINEAR_FACTOR = 4;
/** ... and only when the large probe took at least this long. */
const SUPERLINEAR_FLOOR_NS = 20e6;
const MEMORY_GROWTH_BYTES = 64 * 1024 * 1024;
const COVERAGE_BATCH = 64;
/** Probes run at most every this long, and take at most a tenth of the run (see #probe). */
const PROBE_EVERY_MS = 1500;
/** A probe run longer than this is not repeated (its timing is well above the noise). */
const PROBE_REPEAT_BELOW_NS = 200e6;

/** For Atomics.wait: a synchronous pause (the engine runs in a worker thread). */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

export class FuzzEngine {
  readonly #target: FuzzTarget;
  readonly #opts: EngineOptions;
  readonly #rng: Rng;
  readonly #mutator: Mutator;
  readonly #corpus: Buffer[] = [];
  readonly #findings = new Map<string, Finding>();
  readonly #outcomes: Record<string, number> = {};
  readonly #nsPerByte: number[] = [];
  #medianNsPerByte = 0;
  #coverage: BlockCoverage | null = null;
  #probesRun = 0;

  constructor(target: FuzzTarget, opts: EngineOptions) {
    this.#target = target;
    this.#opts = opts;
    this.#rng = new Rng(opts.seed);
    this.#mutator = new Mutator(this.#rng, { maxBytes: target.maxInputBytes, dictionary: target.dictionary ?? [] });
  }

  run(): EngineReport {
    const started = performance.now();
    if (this.#opts.coverage) this.#coverage = new BlockCoverage();
    const cov = this.#coverage;

    // Seeds: each as one read and in random reads (regression seeds are replayed here).
    for (const seed of this.#opts.seeds) {
      this.#corpus.push(seed.bytes);
      this.#case(seed.bytes, []);
      this.#case(seed.bytes, randomSplits(this.#rng, seed.bytes.length));
    }
    if (cov) cov.commit(cov.takeNew());
    const heapStart = heapAfterGc();
    // The time budget is for mutated cases: replaying the corpus (slow for config) is extra.
    const deadline = performance.now() + this.#opts.timeMs;

    let cases = 0;
    let nextProbe = performance.now() + Math.min(PROBE_EVERY_MS, this.#opts.timeMs / 3);
    const probes = this.#opts.probes ?? [];
    let probeIndex = 0;
    const batch: Array<{ input: Buffer; splits: number[] }> = [];
    const maxCases = this.#opts.maxCases ?? Infinity;
    while (cases < maxCases && (cases & 63 || performance.now() < deadline)) {
      this.#opts.onPhase?.(phase('mutation'));
      const input = this.#nextInput();
      this.#opts.onPhase?.(phase('case'));
      const splits = randomSplits(this.#rng, input.length);
      this.#case(input, splits);
      cases++;
      if (cov) {
        batch.push({ input, splits });
        if (batch.length === COVERAGE_BATCH) {
          this.#keepNewCoverage(batch);
          batch.length = 0;
        }
      }
      if ((cases & 511) === 0) this.#updateMedian();
      if ((cases & 63) === 0 && performance.now() >= nextProbe) {
        // Hand-written shapes first, in turn with random chunks of the corpus.
        const probe = probeIndex < probes.length ? probes[probeIndex++]! : this.#randomProbe();
        if (probeIndex >= probes.length && this.#rng.chance(0.3)) probeIndex = 0;
        const t0 = performance.now();
        this.#opts.onPhase?.(phase('growth probe'));
        this.#probe(probe);
        this.#opts.onPhase?.(phase('case'));
        nextProbe = performance.now() + Math.max(PROBE_EVERY_MS, 9 * (performance.now() - t0));
      }
    }
    if (cov && batch.length > 0) this.#keepNewCoverage(batch);
    // Every hand-written probe runs at least once, even in a short run.
    this.#opts.onPhase?.(phase('growth probe'));
    while (probeIndex < probes.length) this.#probe(probes[probeIndex++]!);
    this.#opts.onPhase?.(phase('case'));
    // The seeds again, now that the median cost per byte is known: a slow regression seed shows.
    this.#updateMedian();
    for (const seed of this.#opts.seeds) this.#case(seed.bytes, []);
    this.#opts.onPhase?.(phase('heap check'));
    const heapEnd = heapAfterGc();
    if (heapEnd - heapStart > MEMORY_GROWTH_BYTES) {
      const mb = (n: number): string => (n / 1048576).toFixed(1);
      this.#record({
        kind: 'memory',
        signature: 'memory:heap-growth',
        message: `heap after GC grew from ${mb(heapStart)} MiB to ${mb(heapEnd)} MiB over ${cases} cases`,
        input: Buffer.alloc(0),
        splits: [],
      });
    }
    const report: EngineReport = {
      cases,
      elapsedMs: performance.now() - started,
      coverageBlocks: cov ? cov.blocks : null,
      corpusSize: this.#corpus.length,
      outcomes: this.#outcomes,
      medianNsPerByte: this.#medianNsPerByte,
      heapStartBytes: heapStart,
      heapEndBytes: heapEnd,
      probesRun: this.#probesRun,
      findings: [...this.#findings.values()],
    };
    cov?.stop();
    return report;
  }

  /** Runs one input once, as a reproduction does; returns the outcome or the finding. */
  replay(input: Buffer, splits: readonly number[]): { outcome?: string; finding?: Finding; ns: number } {
    const before = this.#findings.size;
    const t0 = process.hrtime.bigint();
    const outcome = this.#case(input, [...splits]);
    const ns = Number(process.hrtime.bigint() - t0);
    const finding = this.#findings.size > before ? [...this.#findings.values()].at(-1) : undefined;
    return finding ? { finding, ns } : { outcome: outcome ?? '', ns };
  }

  /** Runs a growth probe by name (for --probe). */
  runProbe(probe: GrowthProbe): { ratio: number; smallNs: number; largeNs: number; finding?: Finding } {
    const before = this.#findings.size;
    const r = this.#probe(probe);
    const finding = this.#findings.size > before ? [...this.#findings.values()].at(-1) : undefined;
    return finding ? { ...r, finding } : r;
  }

  #nextInput(): Buffer {
    const rng = this.#rng;
    const parent = rng.pick(this.#corpus);
    const t = this.#target;
    let input = t.mutate && rng.chance(0.25) ? t.mutate(parent, rng) : this.#mutator.mutate(parent, this.#corpus);
    if (t.fixup && rng.chance(0.7)) input = t.fixup(input, rng);
    return input.length > t.maxInputBytes ? input.subarray(0, t.maxInputBytes) : input;
  }

  /** Runs one case; records a crash, or a slow case once re-runs confirm it. */
  #case(input: Buffer, splits: number[]): string | undefined {
    const ns = this.#timed(input, splits);
    if (ns === undefined) return undefined;
    if (input.length >= 64) {
      const perByte = ns / input.length;
      if (this.#nsPerByte.length < 4096) this.#nsPerByte.push(perByte);
      else this.#nsPerByte[this.#rng.below(4096)] = perByte;
      const median = this.#medianNsPerByte;
      if (median > 0 && ns > SLOW_FLOOR_NS && perByte > SLOW_FACTOR * median) {
        // Confirmed by re-runs after pauses: a shared machine stalls a run now and then.
        let again = Infinity;
        for (let i = 0; i < 3 && again > SLOW_FLOOR_NS; i++) {
          Atomics.wait(PAUSE, 0, 0, 50);
          again = Math.min(again, this.#timed(input, splits) ?? 0);
        }
        if (again > SLOW_FLOOR_NS && again / input.length > SLOW_FACTOR * median) {
          this.#record({
            kind: 'slow',
            signature: `slow:${this.#lastOutcome}`,
            message: `${(again / 1e6).toFixed(1)} ms for ${input.length} bytes: ${(again / input.length / median).toFixed(0)}x the median cost per byte (${median.toFixed(0)} ns)`,
            input,
            splits,
          });
        }
      }
    }
    return this.#lastOutcome;
  }

  #lastOutcome = '';
  readonly #runTarget = (chunks: readonly Buffer[]): string => this.#target.run(chunks);

  /** Runs the target on a fresh copy of `input`; the time in ns, or undefined if it threw. */
  #timed(input: Buffer, splits: number[], run: (chunks: readonly Buffer[]) => string = this.#runTarget): number | undefined {
    this.#opts.beforeCase?.(input, splits);
    const chunks = cut(Buffer.from(input), splits);
    const t0 = process.hrtime.bigint();
    try {
      const outcome = run(chunks);
      const ns = Number(process.hrtime.bigint() - t0);
      this.#outcomes[outcome] = (this.#outcomes[outcome] ?? 0) + 1;
      this.#lastOutcome = outcome;
      return ns;
    } catch (e) {
      this.#outcomes['crash'] = (this.#outcomes['crash'] ?? 0) + 1;
      this.#record(crashFinding(e, input, splits));
      return undefined;
    }
  }

  #updateMedian(): void {
    const sorted = [...this.#nsPerByte].sort((a, b) => a - b);
    this.#medianNsPerByte = sorted[sorted.length >> 1] ?? 0;
  }

  /** Replays a batch that reached new blocks case by case and keeps the cases that did. */
  #keepNewCoverage(batch: ReadonlyArray<{ input: Buffer; splits: number[] }>): void {
    const cov = this.#coverage!;
    this.#opts.onPhase?.(phase('coverage take'));
    const pending = cov.takeNew();
    this.#opts.onPhase?.(phase('case'));
    if (pending.size === 0) return;
    this.#opts.onPhase?.(phase('coverage replay'));
    for (const { input, splits } of batch) {
      this.#opts.beforeCase?.(input, splits);
      cov.reset();
      try {
        this.#target.run(cut(Buffer.from(input), splits));
      } catch {
        // already recorded when it first ran
      }
      const reached = [...cov.takeNew()].filter((k) => pending.has(k));
      if (reached.length === 0) continue;
      cov.commit(reached);
      for (const k of reached) pending.delete(k);
      this.#corpus.push(input);
      if (pending.size === 0) break;
    }
    // Blocks no single case reproduced (JIT-dependent paths) are not chased again.
    cov.commit(pending);
    this.#opts.onPhase?.(phase('case'));
  }

  #randomProbe(): GrowthProbe {
    const rng = this.#rng;
    const base = rng.pick(this.#corpus);
    const from = rng.below(base.length);
    const unit = base.subarray(from, from + rng.smallLength(Math.min(64, Math.max(1, base.length - from))));
    const fixup = this.#target.fixup;
    const probeRng = new Rng(rng.u32());
    return {
      random: true,
      name: `random chunk [${from}, ${from + unit.length}) of a ${base.length}-byte corpus input`,
      build: (n: number) => {
        const grown = Buffer.concat([base.subarray(0, from), repeat(unit, Math.max(1, Math.floor(n / Math.max(1, unit.length)))), base.subarray(from)]);
        return fixup ? fixup(grown, probeRng) : grown;
      },
    };
  }

  /** Times `probe` at two sizes; a cost ratio far above the size ratio is a finding. */
  #probe(probe: GrowthProbe): { ratio: number; smallNs: number; largeNs: number } {
    this.#probesRun++;
    const [smallSize, largeSize] = probe.sizes ?? this.#target.probeSizes ?? [16 * 1024, 128 * 1024];
    const readBytes = probe.readBytes ?? 4096;
    const measure = (input: Buffer): number => {
      const splits: number[] = [];
      for (let at = readBytes; at < input.length; at += readBytes) splits.push(at);
      let best = Infinity;
      for (let i = 0; i < 3 && best > 0; i++) {
        const ns = this.#timed(input, splits, probe.run);
        if (ns === undefined) return NaN;
        best = Math.min(best, ns);
        if (ns > PROBE_REPEAT_BELOW_NS) break;
      }
      return best;
    };
    const small = probe.build(smallSize);
    const large = probe.build(largeSize);
    const sizeRatio = large.length / Math.max(1, small.length);
    measure(small); // warm-up: compiled code and a grown heap for both sizes alike
    let smallNs = measure(small);
    let largeNs = measure(large);
    let ratio = largeNs / Math.max(1, smallNs) / sizeRatio;
    // A machine shared with other work stalls whole runs now and then: a growth is confirmed
    // twice more, after a pause, and the lowest ratio stands.
    for (let i = 0; i < 2 && this.#superlinear(ratio, largeNs); i++) {
      Atomics.wait(PAUSE, 0, 0, 100);
      const s2 = measure(small);
      const l2 = measure(large);
      const r2 = l2 / Math.max(1, s2) / sizeRatio;
      if (r2 < ratio) [ratio, smallNs, largeNs] = [r2, s2, l2];
    }
    if (this.#superlinear(ratio, largeNs)) {
      this.#record({
        kind: 'superlinear',
        signature: probe.random ? 'superlinear:random-chunk' : `superlinear:probe:${probe.name}`,
        message:
          `probe "${probe.name}": ${small.length} B in ${(smallNs / 1e6).toFixed(2)} ms, ${large.length} B in ` +
          `${(largeNs / 1e6).toFixed(2)} ms (${readBytes}-byte reads): cost grew ${(ratio * sizeRatio).toFixed(1)}x for ` +
          `${sizeRatio.toFixed(1)}x the bytes`,
        input: large,
        splits: [],
      });
    }
    return { ratio, smallNs, largeNs };
  }

  #superlinear(ratio: number, largeNs: number): boolean {
    return Number.isFinite(ratio) && largeNs > SUPERLINEAR_FLOOR_NS && ratio > SUPERLINEAR_FACTOR;
  }

  #record(f: Finding): void {
    const seen = this.#findings.get(f.signature);
    if (!seen || f.input.length < seen.input.length) this.#findings.set(f.signature, f);
  }
}

/** A crash finding with a signature made of the error's class, message shape and throw site. */
export function crashFinding(e: unknown, input: Buffer, splits: readonly number[]): Finding {
  const err = e instanceof Error ? e : new Error(`non-Error thrown: ${String(e)}`);
  const shape = err instanceof FuzzCheckFailure ? err.check : err.message.replace(/\d+/g, 'N').slice(0, 120);
  const site = throwSite(err.stack ?? '');
  return {
    kind: 'crash',
    signature: `crash:${err.name}:${shape}@${site}`,
    message: `${err.name}: ${err.message}`,
    stack: err.stack ?? '',
    input,
    splits: [...splits],
  };
}

/** The first stack frame in Courier's sources (or the user codec): file and line. */
function throwSite(stack: string): string {
  for (const line of stack.split('\n').slice(1)) {
    const m = /(dist\/src\/[^:)]+|examples\/[^:)]+):(\d+)/.exec(line);
    if (m) return `${m[1]}:${m[2]}`;
  }
  return 'outside-courier';
}

export function findingId(f: Finding): string {
  return `${f.kind}-${createHash('sha256').update(f.signature).digest('hex').slice(0, 10)}`;
}
