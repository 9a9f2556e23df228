/**
 * Load balancing: the plug-in surface. A load balancer lives on one worker, is built from
 * one immutable host set, and is rebuilt (not mutated) when membership changes.
 */

/** One upstream endpoint as the data plane sees it. Immutable. */
export interface HostDescription {
  /** "ip:port", also the key in /clusters output. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** load_balancing_weight, 1 when unset. */
  readonly weight: number;
  /** Hostname the address came from (STRICT_DNS), else equal to host. */
  readonly hostname: string;
}

/** Per-choice context: a hash for hash-based balancers, when the filter has one. */
export interface LoadBalancerContext {
  /** A 32-bit unsigned hash (tcp_proxy hash_policy source_ip), or undefined to pick at random. */
  readonly hashKey?: number | undefined;
}

export interface LoadBalancer {
  /**
   * Picks a host, or undefined when there is none. `activeRequests` gives each host's current
   * load (outstanding connections or requests), for LEAST_REQUEST.
   */
  chooseHost(context: LoadBalancerContext | undefined): HostDescription | undefined;
}

/** How a worker's pools report load to LEAST_REQUEST. */
export interface HostLoad {
  activeRequests(host: HostDescription): number;
}

export type LbPolicyName = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'RING_HASH' | 'MAGLEV';

/** Policy options after config decoding (plain data). */
export interface LbPolicyConfig {
  policy: LbPolicyName;
  /** LEAST_REQUEST: choice_count (default 2). */
  choiceCount?: number;
  /** RING_HASH: minimum_ring_size (default 1024) and maximum_ring_size (default 8M). */
  minimumRingSize?: number;
  maximumRingSize?: number;
  /** MAGLEV: table_size, a prime (default 65537). */
  tableSize?: number;
}

export type LoadBalancerFactory = (
  hosts: readonly HostDescription[],
  config: LbPolicyConfig,
  load: HostLoad,
) => LoadBalancer;
