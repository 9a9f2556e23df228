/**
 * RING_HASH: a Ketama-style consistent-hash ring. Every host contributes points hashed from
 * "<address>_<n>", in proportion to its weight; a key belongs to the first point at or after it,
 * wrapping past the top.
 *
 * Ring size follows Envoy's rule: scale up until the lightest host has a whole number of points
 * and the ring has at least minimum_ring_size points, but never more than maximum_ring_size.
 * A consequence worth knowing (shared with Envoy): points per host depend on the whole host set,
 * so when a host leaves, the survivors may gain points and take a few keys from each other. When
 * the per-host point counts do not change, only the departed host's keys move.
 */
import type {
  HostDescription,
  LoadBalancer,
  LoadBalancerContext,
} from '../../api/load-balancer.js';
import { hashString } from './hash.js';
import {
  randomUint32,
  sortedForHashing,
  weightsOf,
  type RandomSource,
} from './load-balancer-common.js';

export const DEFAULT_MINIMUM_RING_SIZE = 1024;
export const DEFAULT_MAXIMUM_RING_SIZE = 8 * 1024 * 1024;
/** Envoy caps both ring size settings at 8M entries. */
export const RING_SIZE_LIMIT = 8 * 1024 * 1024;

export interface RingHashOptions {
  minimumRingSize?: number | undefined;
  maximumRingSize?: number | undefined;
  random?: RandomSource;
}

/** Throws on values Envoy's config validation would reject. */
export function validateRingHashOptions(options: RingHashOptions): void {
  const min = options.minimumRingSize ?? DEFAULT_MINIMUM_RING_SIZE;
  const max = options.maximumRingSize ?? DEFAULT_MAXIMUM_RING_SIZE;
  for (const [name, value] of [
    ['minimum_ring_size', min],
    ['maximum_ring_size', max],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > RING_SIZE_LIMIT) {
      throw new Error(
        `ring_hash: ${name} must be an integer in [1, ${RING_SIZE_LIMIT}], got ${value}`,
      );
    }
  }
  if (min > max) {
    throw new Error(`ring_hash: minimum_ring_size (${min}) > maximum_ring_size (${max})`);
  }
}

// Ring entries are sorted as one float64 each: hash * 2^21 + host index stays below 2^53, so a
// native numeric sort orders by hash and then by host index (which follows address order).
const PACK_BITS = 21;
const PACK = 2 ** PACK_BITS;

export class RingHashLoadBalancer implements LoadBalancer {
  /** Points on the ring; the ring_hash_lb.size stat. */
  readonly size: number;
  readonly minHashesPerHost: number;
  readonly maxHashesPerHost: number;

  private readonly hosts: readonly HostDescription[];
  private readonly random: RandomSource;
  private readonly pointHashes: Uint32Array;
  private readonly pointHosts: Uint32Array;

  constructor(hosts: readonly HostDescription[], options: RingHashOptions = {}) {
    validateRingHashOptions(options);
    this.random = options.random ?? Math.random;
    this.hosts = sortedForHashing(hosts);
    const n = this.hosts.length;
    if (n === 0) {
      this.size = this.minHashesPerHost = this.maxHashesPerHost = 0;
      this.pointHashes = this.pointHosts = new Uint32Array(0);
      return;
    }

    const minRing = options.minimumRingSize ?? DEFAULT_MINIMUM_RING_SIZE;
    const maxRing = options.maximumRingSize ?? DEFAULT_MAXIMUM_RING_SIZE;
    const weights = weightsOf(this.hosts);
    let total = 0;
    let lightest = Infinity;
    for (let i = 0; i < n; i++) {
      total += weights[i]!;
      lightest = Math.min(lightest, weights[i]!);
    }

    // Host j's points end at ceil(perWeight * cumulativeWeight_j): running totals, so fractional
    // shares carry over to the next host instead of inflating the ring. Expressed as an integer
    // ratio num/den so the lightest host's share is exact, not 341.99999 or 342.00001.
    const lightestPoints = Math.ceil((lightest * minRing) / total);
    let num: number;
    let den: number;
    if (lightestPoints * total <= maxRing * lightest) {
      num = lightestPoints;
      den = lightest;
    } else {
      num = maxRing;
      den = total;
    }
    const ringSize = Math.ceil((num * total) / den);

    const unpackable = n > PACK;
    const packed = new Float64Array(unpackable ? 0 : ringSize);
    const byIndexHash = unpackable ? new Uint32Array(ringSize) : undefined;
    const byIndexHost = unpackable ? new Uint32Array(ringSize) : undefined;
    let count = 0;
    let cumulative = 0;
    let minPer = Infinity;
    let maxPer = 0;
    for (let j = 0; j < n; j++) {
      cumulative += weights[j]!;
      const end = Math.min(Math.ceil((num * cumulative) / den), ringSize);
      const prefix = `${this.hosts[j]!.address}_`;
      let k = 0;
      for (; count < end; k++, count++) {
        const hash = hashString(prefix + k);
        if (unpackable) {
          byIndexHash![count] = hash;
          byIndexHost![count] = j;
        } else {
          packed[count] = hash * PACK + j;
        }
      }
      minPer = Math.min(minPer, k);
      maxPer = Math.max(maxPer, k);
    }

    this.size = count;
    this.minHashesPerHost = minPer;
    this.maxHashesPerHost = maxPer;
    this.pointHashes = new Uint32Array(count);
    this.pointHosts = new Uint32Array(count);
    if (!unpackable) {
      const sorted = packed.subarray(0, count).sort();
      for (let p = 0; p < count; p++) {
        const v = sorted[p]!;
        const hash = Math.floor(v / PACK);
        this.pointHashes[p] = hash;
        this.pointHosts[p] = v - hash * PACK;
      }
    } else {
      const order = Array.from({ length: count }, (_, p) => p).sort(
        (a, b) => byIndexHash![a]! - byIndexHash![b]! || byIndexHost![a]! - byIndexHost![b]!,
      );
      for (let p = 0; p < count; p++) {
        this.pointHashes[p] = byIndexHash![order[p]!]!;
        this.pointHosts[p] = byIndexHost![order[p]!]!;
      }
    }
  }

  chooseHost(context: LoadBalancerContext | undefined): HostDescription | undefined {
    const size = this.size;
    if (size === 0) return undefined;
    const key = context?.hashKey;
    // Without a key any host will do; a random point keeps the choice weighted like the ring.
    const h = key === undefined ? randomUint32(this.random) : key >>> 0;
    let lo = 0;
    let hi = size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.pointHashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return this.hosts[this.pointHosts[lo === size ? 0 : lo]!];
  }
}
