/**
 * A worker's overload state (Envoy's ThreadLocalOverloadState), from main's `overload` slot.
 * WORKER only. It answers three questions:
 * - the state of an action (OverloadView: the HCM asks per request, listeners per accept);
 * - may this connection be taken under the global connection limit (admit / release): with
 *   one worker it counts alone; with several it asks main for each connection, because only
 *   main sees every worker's count (src/server/overload/global-connection-limit.ts);
 * - it reports this process's heap to main every refresh_interval when fixed_heap is on.
 * Listeners subscribe to changes (stop_accepting_connections holds new sockets until it clears).
 */
import type { OverloadView } from '../api/overload.js';
import type { OverloadSlot, WorkerToMain } from '../server/worker-protocol.js';
import { heapInUse } from '../server/overload/heap-in-use.js';

export class WorkerOverloadState implements OverloadView {
  readonly #send: (m: WorkerToMain) => void;
  readonly #random: () => number;
  #slot: OverloadSlot | undefined;
  #heapTimer: NodeJS.Timeout | undefined;
  #listeners = new Set<() => void>();
  /** Connections admitted and not yet released (counting alone). */
  #active = 0;
  #nextSeq = 1;
  readonly #pending = new Map<number, (ok: boolean) => void>();
  /** Places given back this turn of the event loop, sent to main in one message. */
  #toRelease = 0;

  constructor(send: (m: WorkerToMain) => void, random: () => number = Math.random) {
    this.#send = send;
    this.#random = random;
  }

  value(action: string): number {
    return this.#slot?.actions[action] ?? 0;
  }

  shouldShed(action: string): boolean {
    const v = this.value(action);
    return v >= 1 || (v > 0 && this.#random() < v);
  }

  /** Called when action states change; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  apply(slot: OverloadSlot): void {
    this.#slot = slot;
    if (this.#heapTimer) clearInterval(this.#heapTimer);
    this.#heapTimer = undefined;
    if (slot.reportHeap) {
      const report = (): void => this.#send({ t: 'overload_heap', bytes: heapInUse() });
      report();
      this.#heapTimer = setInterval(report, slot.refreshIntervalMs).unref();
    }
    for (const l of [...this.#listeners]) l();
  }

  /**
   * Asks for a place under the global connection limit; `done(true)` means the caller holds
   * one and must release() it when the connection ends. Synchronous when counting alone.
   */
  admit(done: (ok: boolean) => void): void {
    const max = this.#slot?.maxConnections;
    if (max === undefined) return done(true);
    if (!this.#slot?.countOnMain) {
      if (this.#active >= max) return done(false);
      this.#active++;
      return done(true);
    }
    const seq = this.#nextSeq++;
    this.#pending.set(seq, done);
    this.#send({ t: 'cx_acquire', seq });
  }

  /** Main's answer to an admit() that asked it. */
  onGrant(seq: number, ok: boolean): void {
    const done = this.#pending.get(seq);
    this.#pending.delete(seq);
    done?.(ok);
  }

  /** Gives back the place an admitted connection held. */
  release(): void {
    if (!this.#slot?.countOnMain) {
      if (this.#active > 0) this.#active--;
      return;
    }
    if (this.#toRelease++ > 0) return;
    setImmediate(() => {
      const count = this.#toRelease;
      this.#toRelease = 0;
      this.#send({ t: 'cx_release', count });
    });
  }

  stop(): void {
    if (this.#heapTimer) clearInterval(this.#heapTimer);
  }
}
