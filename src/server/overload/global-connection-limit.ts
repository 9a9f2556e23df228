/**
 * The count behind `envoy.resource_monitors.global_downstream_max_connections` when
 * connections are spread over several worker processes (MAIN). Node worker processes share
 * no memory, so main keeps the one exact count: a worker asks for a slot before it takes a
 * connection (one IPC round trip, while the socket waits unread) and gives it back when the
 * connection closes. A worker that dies gives back everything it held. With one worker
 * (--concurrency 1, or in-process) the worker counts alone and never asks (worker side:
 * src/worker/overload-state.ts).
 */
export class GlobalConnectionLimit {
  readonly #max: number;
  readonly #held = new Map<number, number>();
  #total = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** Active connections counted across workers. */
  get total(): number {
    return this.#total;
  }

  /** One slot for `workerId`, or false at the limit. */
  tryAcquire(workerId: number): boolean {
    if (this.#total >= this.#max) return false;
    this.#total++;
    this.#held.set(workerId, (this.#held.get(workerId) ?? 0) + 1);
    return true;
  }

  release(workerId: number, count: number): void {
    const held = this.#held.get(workerId) ?? 0;
    const n = Math.min(held, count);
    this.#held.set(workerId, held - n);
    this.#total -= n;
  }

  /** The worker is gone, and its connections with it. */
  workerExited(workerId: number): void {
    this.release(workerId, this.#held.get(workerId) ?? 0);
    this.#held.delete(workerId);
  }
}
