/**
 * RANDOM: each pick independent, probability proportional to load_balancing_weight.
 * (Envoy's own RANDOM ignores endpoint weights; honouring them costs one binary search and makes
 * RANDOM agree with every other policy about what a weight means.)
 */
import type {
  HostDescription,
  LoadBalancer,
  LoadBalancerContext,
} from '../../api/load-balancer.js';
import { allEqual, randomIndex, weightsOf, type RandomSource } from './load-balancer-common.js';

export interface RandomOptions {
  random?: RandomSource;
}

export class RandomLoadBalancer implements LoadBalancer {
  private readonly hosts: readonly HostDescription[];
  private readonly random: RandomSource;
  /** cumulative[i] = sum of weights of hosts 0..i; empty when weights are uniform. */
  private readonly cumulative: Float64Array;
  private readonly total: number;

  constructor(hosts: readonly HostDescription[], options: RandomOptions = {}) {
    this.hosts = hosts.slice();
    this.random = options.random ?? Math.random;
    const weights = weightsOf(this.hosts);
    const uniform = allEqual(weights);
    this.cumulative = new Float64Array(uniform ? 0 : weights.length);
    let sum = 0;
    for (let i = 0; i < weights.length; i++) {
      sum += weights[i]!;
      if (!uniform) this.cumulative[i] = sum;
    }
    this.total = sum;
  }

  chooseHost(_context: LoadBalancerContext | undefined): HostDescription | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    if (this.cumulative.length === 0) return this.hosts[randomIndex(this.random, n)];
    const target = this.random() * this.total;
    // First host whose cumulative weight exceeds target.
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return this.hosts[lo];
  }
}
