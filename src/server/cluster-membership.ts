/**
 * Main's side of cluster membership (Envoy resolves DNS on the main thread too): STATIC
 * clusters have fixed hosts; STRICT_DNS clusters resolve every endpoint hostname each
 * dns_refresh_rate and post the union of the answers. A failed resolution keeps the
 * previous hosts (Envoy keeps them as well) and counts update_failure.
 */
import dns from 'node:dns';
import type { StatsScope } from '../api/stats.js';
import { formatAddress } from '../config/address.js';
import type { ClusterConfig, ClusterMembership, DnsLookupFamily } from '../config/server-config.js';

type Host = ClusterMembership['hosts'][number];

export class ClusterMembershipManager {
  readonly #stats: StatsScope;
  readonly #publish: (all: ClusterMembership[]) => void;
  #membership = new Map<string, ClusterMembership>();
  #timers: NodeJS.Timeout[] = [];
  #stopped = false;

  constructor(stats: StatsScope, publish: (all: ClusterMembership[]) => void) {
    this.#stats = stats;
    this.#publish = publish;
  }

  /** Resolves every cluster once (so workers start with hosts), then keeps DNS ones fresh. */
  async start(clusters: readonly ClusterConfig[]): Promise<void> {
    this.#stats.gauge('cluster_manager.active_clusters').set(clusters.length);
    await Promise.all(clusters.map((c) => this.#refresh(c, false)));
    this.#publishAll();
    for (const c of clusters) {
      if (c.type !== 'STRICT_DNS') continue;
      const tick = async (): Promise<void> => {
        if (this.#stopped) return;
        await this.#refresh(c, true);
        if (!this.#stopped) this.#timers.push(setTimeout(tick, c.dnsRefreshRateMs).unref());
      };
      this.#timers.push(setTimeout(tick, c.dnsRefreshRateMs).unref());
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
  }

  get(name: string): ClusterMembership | undefined {
    return this.#membership.get(name);
  }

  async #refresh(c: ClusterConfig, publishOnChange: boolean): Promise<void> {
    const scope = this.#stats.scope(`cluster.${c.statName}`);
    let hosts: Host[];
    if (c.type === 'STATIC') {
      hosts = c.endpoints.map((e) => ({ address: formatAddress(e.address, e.port), host: e.address, port: e.port, weight: e.weight, hostname: '' }));
    } else {
      scope.counter('update_attempt').inc();
      try {
        const perEndpoint = await Promise.all(
          c.endpoints.map(async (e) => {
            const answers = await lookup(e.address, c.dnsLookupFamily);
            return answers.map((ip) => ({ address: formatAddress(ip, e.port), host: ip, port: e.port, weight: e.weight, hostname: e.address }));
          }),
        );
        hosts = dedupe(perEndpoint.flat());
        scope.counter('update_success').inc();
      } catch {
        scope.counter('update_failure').inc();
        return;
      }
    }
    const previous = this.#membership.get(c.name);
    const changed = !previous || JSON.stringify(previous.hosts) !== JSON.stringify(hosts);
    if (changed && previous) scope.counter('membership_change').inc();
    if (!previous) scope.counter('membership_change').inc();
    scope.gauge('membership_total').set(hosts.length);
    scope.gauge('membership_healthy').set(hosts.length);
    this.#membership.set(c.name, { cluster: c.name, hosts });
    if (changed && publishOnChange) this.#publishAll();
  }

  #publishAll(): void {
    this.#publish([...this.#membership.values()]);
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

function dedupe(hosts: Host[]): Host[] {
  const seen = new Set<string>();
  return hosts.filter((h) => (seen.has(h.address) ? false : (seen.add(h.address), true)));
}
