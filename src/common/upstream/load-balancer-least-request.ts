/**
 * LEAST_REQUEST, as Envoy does it:
 *  - equal weights: sample choice_count hosts at random (with replacement) and take the one with
 *    the fewest active requests ("power of N choices"). When the host set is no larger than
 *    choice_count, sampling can miss the idle host entirely (two hosts, both samples land on the
 *    busy one a quarter of the time), so every host is scanned instead; ties among the least
 *    loaded are broken uniformly at random so they share the traffic. (Current Envoy scans only
 *    with selection_method FULL_SCAN; it did this automatically for a while, and Courier keeps it
 *    because sampling a 2-host set is the common surprise.)
 *  - unequal weights: earliest-deadline-first over effective weight
 *    weight / (active + 1)^active_request_bias. Like Envoy, only the host just picked has its
 *    weight refreshed (using its load at that moment); the others keep the weight they were
 *    scheduled with, which keeps a pick O(log n).
 */
import type {
  HostDescription,
  HostLoad,
  LoadBalancer,
  LoadBalancerContext,
} from '../../api/load-balancer.js';
import { EdfScheduler } from './edf-scheduler.js';
import { allEqual, randomIndex, weightsOf, type RandomSource } from './load-balancer-common.js';

export const DEFAULT_CHOICE_COUNT = 2;
export const DEFAULT_ACTIVE_REQUEST_BIAS = 1.0;

export interface LeastRequestOptions {
  /** choice_count; Envoy requires >= 2. Default 2. */
  choiceCount?: number | undefined;
  /** active_request_bias; >= 0, default 1.0. 0 makes the weighted path plain weighted RR. */
  activeRequestBias?: number | undefined;
  random?: RandomSource;
}

/** Throws on values Envoy's config validation would reject. */
export function validateLeastRequestOptions(options: LeastRequestOptions): void {
  const c = options.choiceCount;
  if (c !== undefined && (!Number.isInteger(c) || c < 2)) {
    throw new Error(`least_request: choice_count must be an integer >= 2, got ${c}`);
  }
  const b = options.activeRequestBias;
  if (b !== undefined && (!Number.isFinite(b) || b < 0)) {
    throw new Error(`least_request: active_request_bias must be a number >= 0, got ${b}`);
  }
}

export class LeastRequestLoadBalancer implements LoadBalancer {
  private readonly hosts: readonly HostDescription[];
  private readonly load: HostLoad;
  private readonly random: RandomSource;
  private readonly choiceCount: number;
  private readonly bias: number;
  private readonly weighted: boolean;

  private readonly weights: Float64Array;
  /** Ties at equal deadlines go first come, first served, as in Envoy's EDF. */
  private readonly schedule: EdfScheduler;

  constructor(
    hosts: readonly HostDescription[],
    load: HostLoad,
    options: LeastRequestOptions = {},
  ) {
    validateLeastRequestOptions(options);
    this.hosts = hosts.slice();
    this.load = load;
    this.random = options.random ?? Math.random;
    this.choiceCount = options.choiceCount ?? DEFAULT_CHOICE_COUNT;
    this.bias = options.activeRequestBias ?? DEFAULT_ACTIVE_REQUEST_BIAS;
    const n = this.hosts.length;
    this.weights = weightsOf(this.hosts);
    this.weighted = n > 1 && !allEqual(this.weights);
    this.schedule = new EdfScheduler(this.weighted ? n : 0);
    if (this.weighted) {
      for (let i = 0; i < n; i++) this.schedule.add(i, this.effectiveWeight(i));
      // Advance a random number of turns so workers built from the same hosts at the same
      // moment do not all start with the same host.
      const warmup = randomIndex(this.random, n);
      for (let k = 0; k < warmup; k++) this.pickWeighted();
    }
  }

  chooseHost(_context: LoadBalancerContext | undefined): HostDescription | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    if (n === 1) return this.hosts[0];
    if (this.weighted) return this.hosts[this.pickWeighted()];
    return n <= this.choiceCount ? this.fullScan() : this.sampleChoices();
  }

  private sampleChoices(): HostDescription {
    const n = this.hosts.length;
    let best = this.hosts[randomIndex(this.random, n)]!;
    let bestActive = this.load.activeRequests(best);
    for (let c = 1; c < this.choiceCount; c++) {
      const candidate = this.hosts[randomIndex(this.random, n)]!;
      const active = this.load.activeRequests(candidate);
      if (active < bestActive) {
        best = candidate;
        bestActive = active;
      }
    }
    return best;
  }

  private fullScan(): HostDescription {
    const n = this.hosts.length;
    let best = this.hosts[0]!;
    let bestActive = this.load.activeRequests(best);
    let tied = 1;
    for (let i = 1; i < n; i++) {
      const candidate = this.hosts[i]!;
      const active = this.load.activeRequests(candidate);
      if (active < bestActive) {
        best = candidate;
        bestActive = active;
        tied = 1;
      } else if (active === bestActive) {
        // Reservoir sampling: each of the `tied` equals ends up chosen with probability 1/tied.
        tied++;
        if (randomIndex(this.random, tied) === 0) best = candidate;
      }
    }
    return best;
  }

  private effectiveWeight(i: number): number {
    const w = this.weights[i]!;
    if (this.bias === 0) return w;
    const active = this.load.activeRequests(this.hosts[i]!) + 1;
    return this.bias === 1 ? w / active : w / Math.pow(active, this.bias);
  }

  private pickWeighted(): number {
    const i = this.schedule.peek();
    this.schedule.pickAndAdd(this.effectiveWeight(i));
    return i;
  }
}
