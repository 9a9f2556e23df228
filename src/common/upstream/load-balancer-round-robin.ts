/**
 * ROUND_ROBIN. Equal weights: plain rotation. Unequal weights: earliest-deadline-first where host
 * i's k-th turn in a cycle is due at k / weight_i, so over every window of sum(weights)
 * consecutive picks each host is chosen exactly weight_i times, and turns are interleaved
 * rather than bunched (1:3 gives B B A B, not A B B B).
 */
import type {
  HostDescription,
  LoadBalancer,
  LoadBalancerContext,
} from '../../api/load-balancer.js';
import { allEqual, randomIndex, weightsOf, type RandomSource } from './load-balancer-common.js';

export interface RoundRobinOptions {
  random?: RandomSource;
}

export class RoundRobinLoadBalancer implements LoadBalancer {
  private readonly hosts: readonly HostDescription[];
  private readonly weighted: boolean;
  private cursor = 0;

  // Weighted state; all sized once so chooseHost never allocates.
  private readonly weights: Float64Array;
  private readonly picks: Float64Array;
  private readonly deadlines: Float64Array;
  private readonly heap: Int32Array;
  private heapSize = 0;
  private readonly cycleLength: number;
  private cycleLeft = 0;

  constructor(hosts: readonly HostDescription[], options: RoundRobinOptions = {}) {
    const random = options.random ?? Math.random;
    this.hosts = hosts.slice();
    const n = this.hosts.length;
    this.weights = weightsOf(this.hosts);
    this.weighted = n > 1 && !allEqual(this.weights);
    let total = 0;
    for (let i = 0; i < n; i++) total += this.weights[i]!;
    this.cycleLength = total;
    this.picks = new Float64Array(this.weighted ? n : 0);
    this.deadlines = new Float64Array(this.weighted ? n : 0);
    this.heap = new Int32Array(this.weighted ? n : 0);

    // Each worker builds its own balancer from the same host list; starting every one at host 0
    // would send the first request of every worker to the same upstream.
    if (!this.weighted) {
      this.cursor = n > 0 ? randomIndex(random, n) : 0;
    } else {
      this.startAtPhase(random());
    }
  }

  chooseHost(_context: LoadBalancerContext | undefined): HostDescription | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    if (!this.weighted) {
      const host = this.hosts[this.cursor]!;
      this.cursor = this.cursor + 1 === n ? 0 : this.cursor + 1;
      return host;
    }

    const i = this.heap[0]!;
    const taken = this.picks[i]! + 1;
    this.picks[i] = taken;
    if (taken < this.weights[i]!) {
      this.deadlines[i] = (taken + 1) / this.weights[i]!;
      this.siftDown(0);
    } else {
      // Host has used its share of this cycle; it rejoins when the cycle restarts.
      this.heapSize--;
      if (this.heapSize > 0) {
        this.heap[0] = this.heap[this.heapSize]!;
        this.siftDown(0);
      }
    }
    if (--this.cycleLeft === 0) this.startAtPhase(0);
    return this.hosts[i];
  }

  /**
   * Positions the schedule as if every turn due at or before `phase` (in [0, 1)) had been taken.
   * That is a state the schedule actually passes through, so the exact-per-cycle property holds
   * from the first pick; a random phase spreads workers like the unweighted random start.
   * Deadlines are recomputed as (k+1)/w rather than accumulated, so float error cannot build up
   * and ties at equal deadlines stay exact.
   */
  private startAtPhase(phase: number): void {
    const n = this.hosts.length;
    let consumed = 0;
    this.heapSize = 0;
    for (let i = 0; i < n; i++) {
      const w = this.weights[i]!;
      const taken = Math.min(Math.floor(phase * w), w - 1);
      this.picks[i] = taken;
      this.deadlines[i] = (taken + 1) / w;
      consumed += taken;
      this.heap[this.heapSize++] = i;
    }
    this.cycleLeft = this.cycleLength - consumed;
    for (let j = (this.heapSize >> 1) - 1; j >= 0; j--) this.siftDown(j);
  }

  /** Earlier deadline first; on a tie the lower host index, so the order is deterministic. */
  private before(a: number, b: number): boolean {
    const da = this.deadlines[a]!;
    const db = this.deadlines[b]!;
    return da < db || (da === db && a < b);
  }

  private siftDown(pos: number): void {
    const heap = this.heap;
    const size = this.heapSize;
    const item = heap[pos]!;
    for (;;) {
      let child = 2 * pos + 1;
      if (child >= size) break;
      if (child + 1 < size && this.before(heap[child + 1]!, heap[child]!)) child++;
      if (!this.before(heap[child]!, item)) break;
      heap[pos] = heap[child]!;
      pos = child;
    }
    heap[pos] = item;
  }
}
