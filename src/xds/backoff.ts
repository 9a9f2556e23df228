/**
 * Jittered exponential backoff for re-establishing xDS streams (Envoy's
 * JitteredExponentialBackOffStrategy, base 500 ms, max 30 s): the n-th retry waits a uniformly
 * random time in [0, min(max, base·2ⁿ)). `reset()` after a stream that delivered a response.
 */
export interface BackoffOptions {
  /** First interval's upper bound (ms). Default 500. */
  readonly baseMs?: number;
  /** Cap (ms). Default 30000. */
  readonly maxMs?: number;
  /** Random source in [0, 1); tests may pin it. Default Math.random. */
  readonly random?: () => number;
}

export class JitteredBackoff {
  readonly #base: number;
  readonly #max: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(opts: BackoffOptions = {}) {
    this.#base = opts.baseMs ?? 500;
    this.#max = opts.maxMs ?? 30_000;
    this.#random = opts.random ?? Math.random;
  }

  /** The next delay (ms); each call widens the window until the cap. */
  next(): number {
    const ceiling = Math.min(this.#max, this.#base * 2 ** this.#attempt);
    if (ceiling < this.#max) this.#attempt++;
    return Math.floor(this.#random() * ceiling);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
