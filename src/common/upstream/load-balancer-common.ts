/**
 * Small pieces shared by the load-balancing policies. Kept out of load-balancer.ts so policy
 * modules never import the registry that imports them.
 */
import type { HostDescription } from '../../api/load-balancer.js';

/** Source of uniform numbers in [0, 1); injectable so tests can be deterministic. */
export type RandomSource = () => number;

/**
 * Envoy weights are integers >= 1 (load_balancing_weight is a uint32 with gte: 1). Anything else
 * that slips past config decoding is coerced rather than trusted, because weighted round robin
 * relies on integral weights to repeat exactly every sum-of-weights picks.
 */
export function lbWeight(host: HostDescription): number {
  const w = host.weight;
  return Number.isFinite(w) && w >= 1 ? Math.floor(w) : 1;
}

export function weightsOf(hosts: readonly HostDescription[]): Float64Array {
  const out = new Float64Array(hosts.length);
  for (let i = 0; i < hosts.length; i++) out[i] = lbWeight(hosts[i]!);
  return out;
}

export function allEqual(weights: Float64Array): boolean {
  for (let i = 1; i < weights.length; i++) if (weights[i] !== weights[0]) return false;
  return true;
}

export function randomUint32(random: RandomSource): number {
  return (random() * 4294967296) >>> 0;
}

export function randomIndex(random: RandomSource, n: number): number {
  // min() guards against a test RNG returning exactly 1.
  return Math.min(Math.floor(random() * n), n - 1);
}

/**
 * Hash-based tables must not depend on the order the EDS/DNS update listed hosts in, or a mere
 * reordering would remap keys; sorting by address makes placement a function of the set only.
 */
export function sortedForHashing(hosts: readonly HostDescription[]): HostDescription[] {
  return hosts
    .map((host, index) => ({ host, index }))
    .sort((a, b) => {
      if (a.host.address !== b.host.address) return a.host.address < b.host.address ? -1 : 1;
      return a.index - b.index;
    })
    .map((e) => e.host);
}
