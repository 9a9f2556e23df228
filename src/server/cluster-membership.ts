/**
 * Where a cluster's hosts come from, on MAIN (Envoy resolves DNS and runs EDS on the main
 * thread too). One MembershipSource per cluster entry of the ClusterManager:
 * - STATIC: the load_assignment's hosts, at once;
 * - STRICT_DNS: every endpoint hostname resolved each dns_refresh_rate, the union of the
 *   answers; a failed resolution keeps the previous hosts (as Envoy) and counts update_failure;
 * - EDS: src/server/eds-membership.ts.
 *
 * A source reports every host with its priority and health (for /clusters and the
 * membership_* stats); `usableHosts` picks what workers balance over.
 */
import dns from 'node:dns';
import type { StatsScope } from '../api/stats.js';
import { formatAddress } from '../config/address.js';
import { isUsableHealth } from '../config/load-assignment.js';
import type { ClusterConfig, ClusterMembership, DnsLookupFamily, EndpointConfig, HostHealth } from '../config/server-config.js';

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

function hostOf(e: EndpointConfig, ip: string, hostname: string): MemberHost {
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

export class DnsMembership implements MembershipSource {
  readonly #config: ClusterConfig;
  readonly #scope: StatsScope;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #last = '';

  /** `scope` is `cluster.<stat name>.`. */
  constructor(config: ClusterConfig, scope: StatsScope) {
    this.#config = config;
    this.#scope = scope;
  }

  start(callbacks: MembershipCallbacks): void {
    const tick = async (first: boolean): Promise<void> => {
      if (this.#stopped) return;
      const hosts = await this.#resolve();
      if (this.#stopped) return;
      const json = hosts ? JSON.stringify(hosts) : undefined;
      if (hosts && json !== this.#last) {
        this.#last = json!;
        callbacks.onHosts(hosts);
      }
      // Warm after the first attempt, answered or not (Envoy's strict DNS cluster does the same).
      if (first) callbacks.onWarm();
      if (!this.#stopped) this.#timer = setTimeout(() => void tick(false), this.#config.dnsRefreshRateMs).unref();
    };
    void tick(true);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  async #resolve(): Promise<MemberHost[] | undefined> {
    this.#scope.counter('update_attempt').inc();
    try {
      const perEndpoint = await Promise.all(
        this.#config.endpoints.map(async (e) => (await lookup(e.address, this.#config.dnsLookupFamily)).map((ip) => hostOf(e, ip, e.address))),
      );
      this.#scope.counter('update_success').inc();
      return dedupe(perEndpoint.flat());
    } catch {
      this.#scope.counter('update_failure').inc();
      return undefined;
    }
  }
}

async function lookup(hostname: string, family: DnsLookupFamily): Promise<string[]> {
  const all = await dns.promises.lookup(hostname, { all: true, verbatim: true });
  const v4 = all.filter((a) => a.family === 4).map((a) => a.address);
  const v6 = all.filter((a) => a.family === 6).map((a) => a.address);
  switch (family) {
    case 'V4_ONLY':
      return v4;
    case 'V6_ONLY':
      return v6;
    case 'V4_PREFERRED':
      return v4.length ? v4 : v6;
    case 'ALL':
      return [...v4, ...v6];
    case 'AUTO':
    default:
      // Envoy's AUTO prefers IPv6 and falls back to IPv4.
      return v6.length ? v6 : v4;
  }
}

function dedupe(hosts: MemberHost[]): MemberHost[] {
  const seen = new Set<string>();
  return hosts.filter((h) => (seen.has(h.address) ? false : (seen.add(h.address), true)));
}
