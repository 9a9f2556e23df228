/**
 * The case in flight, in memory shared between a fuzzing thread and its parent: a progress
 * counter (the parent's hang watchdog reads it), the input and its read splits.
 */
const HEADER_INTS = 4; // counter, input length, split count, phase
const MAX_SPLITS = 4096;

export const SHARED_CASE_BYTES = 2 * 1024 * 1024;

export function newSharedCaseBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer((HEADER_INTS + MAX_SPLITS) * 4 + SHARED_CASE_BYTES);
}

export class SharedCase {
  readonly #ints: Int32Array;
  readonly #bytes: Uint8Array;

  constructor(buffer: SharedArrayBuffer) {
    this.#ints = new Int32Array(buffer, 0, HEADER_INTS + MAX_SPLITS);
    this.#bytes = new Uint8Array(buffer, (HEADER_INTS + MAX_SPLITS) * 4);
  }

  /** What the thread does besides running cases (for a hang's report); the case stays as written. */
  setPhase(phase: number): void {
    Atomics.store(this.#ints, 3, phase);
  }

  get phase(): number {
    return Atomics.load(this.#ints, 3);
  }

  write(input: Buffer, splits: readonly number[]): void {
    const n = Math.min(input.length, this.#bytes.length);
    this.#bytes.set(input.subarray(0, n));
    const k = Math.min(splits.length, MAX_SPLITS);
    for (let i = 0; i < k; i++) this.#ints[HEADER_INTS + i] = splits[i]!;
    this.#ints[1] = n;
    this.#ints[2] = k;
    Atomics.add(this.#ints, 0, 1);
  }

  get counter(): number {
    return Atomics.load(this.#ints, 0);
  }

  read(): { input: Buffer; splits: number[] } {
    const n = this.#ints[1]!;
    const k = this.#ints[2]!;
    return {
      input: Buffer.from(this.#bytes.subarray(0, n)),
      splits: Array.from(this.#ints.subarray(HEADER_INTS, HEADER_INTS + k)),
    };
  }
}
