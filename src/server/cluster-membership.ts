/**
 * Where a cluster's hosts come from, on MAIN (Envoy resolves DNS and runs EDS on the main
 * thread too). One MembershipSource per cluster entry of the ClusterManager:
 * - STATIC: the load_assignment's hosts, at once;
 * - STRICT_DNS and LOGICAL_DNS: src/server/dns-membership.ts;
 * - EDS: src/server/eds-membership.ts.
 *
 * A source reports every host with its priority and health (for /clusters and the
 * membership_* stats); `usableHosts` picks what workers balance over.
 */
import { formatAddress } from '../config/address.js';
import { isUsableHealth } from '../config/load-assignment.js';
import type { ClusterConfig, ClusterMembership, EndpointConfig, HostHealth } from '../config/server-config.js';

/** One host as main knows it. */
export interface MemberHost {
  /** `ip:port` (IPv6 in brackets): the host's identity. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  /** The endpoint's hostname: the DNS name a STRICT_DNS host was resolved from, or Endpoint.hostname. */
  readonly hostname: string;
  readonly priority: number;
  readonly health: HostHealth;
}

export interface MembershipCallbacks {
  /** A new host list (called only when it differs from the last one). */
  onHosts(hosts: readonly MemberHost[]): void;
  /**
   * The cluster may be used: its first result came, or failed, or (EDS) the initial fetch
   * timed out. Called once, after the first onHosts when there is one.
   */
  onWarm(): void;
}

/** Lifecycle: start once → stop once (idempotent); no callback after stop. */
export interface MembershipSource {
  start(callbacks: MembershipCallbacks): void;
  stop(): void;
}

/** Hosts of a load assignment whose addresses are IPs already (STATIC, EDS). */
export function hostsOfEndpoints(endpoints: readonly EndpointConfig[]): MemberHost[] {
  return dedupe(endpoints.map((e) => hostOf(e, e.address, e.hostname ?? '')));
}

export function hostOf(e: EndpointConfig, ip: string, hostname: string): MemberHost {
  return {
    address: formatAddress(ip, e.port),
    host: ip,
    port: e.port,
    weight: e.weight,
    hostname,
    priority: e.priority ?? 0,
    health: e.health ?? 'UNKNOWN',
  };
}

/**
 * What workers balance over: the HEALTHY and UNKNOWN hosts of the lowest priority that has
 * any. (Envoy spills load to the next priority gradually as a level's health drops below
 * 1/1.4; Courier moves it all once a level has no usable host.)
 */
export function usableHosts(cluster: string, hosts: readonly MemberHost[]): ClusterMembership {
  const usable = hosts.filter((h) => isUsableHealth(h.health));
  const top = usable.reduce((min, h) => Math.min(min, h.priority), Number.POSITIVE_INFINITY);
  return {
    cluster,
    hosts: usable
      .filter((h) => h.priority === top)
      .map((h) => ({ address: h.address, host: h.host, port: h.port, weight: h.weight, hostname: h.hostname })),
  };
}

export class StaticMembership implements MembershipSource {
  readonly #hosts: MemberHost[];
  #stopped = false;

  constructor(config: ClusterConfig) {
    this.#hosts = hostsOfEndpoints(config.endpoints);
  }

  start(callbacks: MembershipCallbacks): void {
    // Asynchronous like the others, so the caller has finished registering the entry.
    queueMicrotask(() => {
      if (this.#stopped) return;
      callbacks.onHosts(this.#hosts);
      callbacks.onWarm();
    });
  }

  stop(): void {
    this.#stopped = true;
  }
}

/** Drops later hosts of an address already listed. */
export function dedupe(hosts: MemberHost[]): MemberHost[] {
  const seen = new Set<string>();
  return hosts.filter((h) => (seen.has(h.address) ? false : (seen.add(h.address), true)));
}
