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
import { EdfScheduler } from './edf-scheduler.js';
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
  private readonly schedule: EdfScheduler;
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
    this.schedule = new EdfScheduler(this.weighted ? n : 0);

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

    const schedule = this.schedule;
    const i = schedule.peek();
    if (schedule.turnsTaken(i) + 1 < this.weights[i]!) {
      schedule.pick();
    } else {
      // Host has used its share of this cycle; it rejoins when the cycle restarts.
      schedule.pickAndRemove();
    }
    if (--this.cycleLeft === 0) this.startAtPhase(0);
    return this.hosts[i];
  }

  /**
   * Positions the schedule as if every turn due at or before `phase` (in [0, 1)) had been taken.
   * That is a state the schedule actually passes through, so the exact-per-cycle property holds
   * from the first pick; a random phase spreads workers like the unweighted random start.
   * The scheduler computes turn k's deadline as (k+1)/w rather than accumulating it, so float
   * error cannot build up and ties at equal deadlines stay exact. Hosts join in index order and
   * keep their sequence number through the cycle, so a tie goes to the lower host index.
   */
  private startAtPhase(phase: number): void {
    const n = this.hosts.length;
    let consumed = 0;
    this.schedule.clear();
    for (let i = 0; i < n; i++) {
      const w = this.weights[i]!;
      const taken = Math.min(Math.floor(phase * w), w - 1);
      this.schedule.add(i, w, taken);
      consumed += taken;
    }
    this.cycleLeft = this.cycleLength - consumed;
  }
}
