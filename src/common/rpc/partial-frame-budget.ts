/**
 * The memory a worker holds for partially received RPC frames, across every connection of every
 * RPC proxy (dubbo_proxy, meta_protocol_proxy) in the process. A frame may legally be 16 MiB and
 * arrive slowly, so without a shared bound a few connections that each send most of a large
 * frame and stop could hold hundreds of MiB. Each connection manager reports what its decoder
 * holds after each read; one whose growth would take the worker's total past its proxy's limit
 * is closed instead (downstream_cx_partial_frame_overflow), and the others carry on.
 *
 * Worker-only: one ledger per process (workers are processes), never shared across them.
 */

/** The default per-worker limit: room for four maximum-size (16 MiB) frames at once. */
export const DEFAULT_MAX_PARTIAL_FRAME_BYTES = 64 * 1024 * 1024;

export class PartialFrameBudget {
  #held = 0;

  /** Bytes held for partial frames by every connection of this worker. */
  get held(): number {
    return this.#held;
  }

  /**
   * Moves one connection's holding from `from` to `to` bytes. Growth that would take the total
   * past `limit` is refused (false) and nothing changes; shrinking always succeeds.
   */
  update(from: number, to: number, limit: number): boolean {
    const next = this.#held + (to - from);
    if (to > from && next > limit) return false;
    this.#held = next;
    return true;
  }
}

/** This worker's ledger. */
export const workerPartialFrames = new PartialFrameBudget();
