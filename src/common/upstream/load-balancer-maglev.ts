/**
 * MAGLEV (Eisenbud et al., NSDI 2016): a fixed-size lookup table filled by letting hosts take
 * turns claiming slots along their own pseudo-random permutation of the table. Lookup is one
 * array index, and a membership change disturbs only a small fraction of slots beyond the ones
 * the departed host owned.
 *
 * Weights: in round r a host takes a turn only if r * weight has caught up with the turns it
 * already took times the heaviest weight, so the heaviest hosts claim every round and a host of
 * half that weight every other round (Envoy's weighted variant of the paper's algorithm).
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

export const DEFAULT_MAGLEV_TABLE_SIZE = 65537;
/** Envoy's upper bound for table_size. */
export const MAX_MAGLEV_TABLE_SIZE = 5000011;

export interface MaglevOptions {
  /** table_size; must be prime. Default 65537. */
  tableSize?: number | undefined;
  random?: RandomSource;
}

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** Throws on values Envoy's config validation would reject. */
export function validateMaglevOptions(options: MaglevOptions): void {
  const size = options.tableSize ?? DEFAULT_MAGLEV_TABLE_SIZE;
  if (!Number.isInteger(size) || size < 2 || size > MAX_MAGLEV_TABLE_SIZE) {
    throw new Error(
      `maglev: table_size must be a prime number between 2 and ${MAX_MAGLEV_TABLE_SIZE}, ` +
        `got ${size}`,
    );
  }
  // A composite size lets a host's skip share a factor with it, so its permutation would cycle
  // through only part of the table.
  if (!isPrime(size)) {
    throw new Error(`maglev: table_size must be a prime number, got ${size}`);
  }
}

// Two independent hashes of the address give each host's permutation start and stride.
const OFFSET_SEED = 0;
const SKIP_SEED = 1;

export class MaglevLoadBalancer implements LoadBalancer {
  readonly tableSize: number;
  /** The maglev_lb.min_entries_per_host / max_entries_per_host stats. */
  readonly minEntriesPerHost: number;
  readonly maxEntriesPerHost: number;

  private readonly hosts: readonly HostDescription[];
  private readonly random: RandomSource;
  /** Slot -> index into hosts. Uint16 when it fits, halving the per-worker footprint. */
  private readonly table: Uint16Array | Uint32Array;

  constructor(hosts: readonly HostDescription[], options: MaglevOptions = {}) {
    validateMaglevOptions(options);
    const m = options.tableSize ?? DEFAULT_MAGLEV_TABLE_SIZE;
    this.tableSize = m;
    this.random = options.random ?? Math.random;
    this.hosts = sortedForHashing(hosts);
    const n = this.hosts.length;
    if (n === 0) {
      this.table = new Uint16Array(0);
      this.minEntriesPerHost = this.maxEntriesPerHost = 0;
      return;
    }

    const weights = weightsOf(this.hosts);
    let heaviest = 0;
    for (let i = 0; i < n; i++) heaviest = Math.max(heaviest, weights[i]!);

    const position = new Float64Array(n);
    const skip = new Float64Array(n);
    const turns = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const address = this.hosts[i]!.address;
      position[i] = hashString(address, OFFSET_SEED) % m;
      skip[i] = (hashString(address, SKIP_SEED) % (m - 1)) + 1;
    }

    const table = n < 0xffff ? new Uint16Array(m) : new Uint32Array(m);
    // Slots hold host index + 1 while building, so 0 can mean "free".
    let filled = 0;
    for (let round = 1; filled < m; round++) {
      for (let i = 0; i < n && filled < m; i++) {
        if (round * weights[i]! < turns[i]! * heaviest) continue;
        let slot = position[i]!;
        while (table[slot] !== 0) slot = (slot + skip[i]!) % m;
        table[slot] = i + 1;
        position[i] = (slot + skip[i]!) % m;
        turns[i] = turns[i]! + 1;
        filled++;
      }
    }
    let minPer = Infinity;
    let maxPer = 0;
    for (let i = 0; i < n; i++) {
      minPer = Math.min(minPer, turns[i]!);
      maxPer = Math.max(maxPer, turns[i]!);
    }
    for (let s = 0; s < m; s++) table[s] = table[s]! - 1;
    this.table = table;
    this.minEntriesPerHost = minPer;
    this.maxEntriesPerHost = maxPer;
  }

  chooseHost(context: LoadBalancerContext | undefined): HostDescription | undefined {
    if (this.hosts.length === 0) return undefined;
    const key = context?.hashKey;
    const h = key === undefined ? randomUint32(this.random) : key >>> 0;
    return this.hosts[this.table[h % this.tableSize]!];
  }
}
