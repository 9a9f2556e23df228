/**
 * What a fuzz target is: one decoder's public entry point, driven with one input cut into reads.
 *
 * Contract for a target's run(): it feeds the decoder as Courier does and returns normally for
 * every outcome the decoder documents (a frame, "need more data", its own error type). Anything
 * else is thrown: an exception from the decoder that is not its documented error type is
 * rethrown as it is (the engine records it as a crash with its stack), and a broken invariant
 * (bytes lost, a differential mismatch) is thrown as a FuzzCheckFailure.
 */
import type { Rng } from './rng.js';

export interface FuzzTarget {
  /** The --target name; also the corpus folder (test/fuzz/corpus/<name>/). */
  readonly name: string;
  /** One line: what is fuzzed, through which entry point. */
  readonly description: string;
  /** Mutants are cut to this size. */
  readonly maxInputBytes: number;
  /** Sizes (small, large) of the engine's random growth probes; default 16 KiB and 128 KiB. */
  readonly probeSizes?: readonly [number, number];
  /** Tokens the mutator may insert whole. */
  readonly dictionary?: readonly Buffer[];
  /** Prepares what run() needs (loading a codec module, proto registry). Called once. */
  init?(): Promise<void>;
  /**
   * Repairs what every mutant would otherwise fail on at once (a frame length prefix), so the
   * mutation reaches deeper code. Called on some mutants only, so broken lengths are tried too.
   */
  fixup?(input: Buffer, rng: Rng): Buffer;
  /** A structure-aware mutation (for text formats); used on a share of the cases when given. */
  mutate?(input: Buffer, rng: Rng): Buffer;
  /**
   * Runs one case: `chunks` are the reads, in order, whose concatenation is the input. Returns
   * an outcome label (counted in the report: "frame", "error:bad-magic", ...).
   */
  run(chunks: readonly Buffer[]): string;
}

/** An invariant a target checks was broken (not an exception from the decoder itself). */
export class FuzzCheckFailure extends Error {
  constructor(
    /** Short and stable: the finding's signature is built from it (no offsets or lengths). */
    readonly check: string,
    detail: string,
  ) {
    super(`${check}: ${detail}`);
    this.name = 'FuzzCheckFailure';
  }
}
