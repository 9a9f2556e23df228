/**
 * One cluster as a worker sees it: immutable config + hosts, a load balancer built from
 * them, and one TCP pool per host. A membership change builds a new ThreadLocalClusterImpl
 * that takes over the pools (and their stats) of hosts that stayed.
 *
 * LOGICAL_DNS: the cluster's one logical host keeps its pool object when DNS gives it a new
 * address; the pool connects to the new address from then on, and the connections it made
 * before (pooled HTTP keep-alive ones too) stay open and usable, as in Envoy, where "a single
 * logical connection pool may contain physical connections to a variety of different
 * upstream hosts" and connections are never drained on a DNS change.
 */
import type { ClusterTrafficStats, TcpConnPool, ThreadLocalCluster } from '../../api/cluster.js';
import type { HostDescription, LoadBalancer, LoadBalancerContext } from '../../api/load-balancer.js';
import type { StatsScope } from '../../api/stats.js';
import type { ClusterConfig, ClusterMembership } from '../../config/server-config.js';
import { createClusterTrafficStats } from './cluster-stats.js';
import { newHostStats, type HostStats } from './host-stats.js';
import { createLoadBalancer } from './load-balancer.js';
import { ResourceManager, type ResourceLimit } from './resource-manager.js';
import { TcpConnPoolImpl } from './tcp-conn-pool.js';

export class ThreadLocalClusterImpl implements ThreadLocalCluster {
  readonly name: string;
  readonly config: ClusterConfig;
  readonly stats: ClusterTrafficStats;
  readonly resources: ResourceManager;
  readonly hosts: readonly HostDescription[];
  readonly #lb: LoadBalancer;
  readonly #pools = new Map<string, TcpConnPoolImpl>();

  constructor(
    config: ClusterConfig,
    membership: ClusterMembership | undefined,
    scope: StatsScope,
    workerCount: number,
    previous: ThreadLocalClusterImpl | undefined,
  ) {
    this.name = config.name;
    this.config = config;
    this.stats = createClusterTrafficStats(scope.scope(`cluster.${config.statName}`));
    // Limits and counts carry over so a membership update does not reset the breakers.
    this.resources =
      previous && sameBreakers(previous.config, config) ? previous.resources : new ResourceManager(config.circuitBreakers, workerCount);
    this.hosts = (membership?.hosts ?? []).map((h) => Object.freeze({ ...h }));
    const logical = config.type === 'LOGICAL_DNS' && previous?.config.type === 'LOGICAL_DNS' ? [...previous.#pools.values()][0] : undefined;
    for (const host of this.hosts) {
      if (logical) {
        logical.retarget(host, this);
        this.#pools.set(host.address, logical);
        continue;
      }
      const old = previous?.poolFor(host.address);
      const hostStats = old?.hostStats ?? newHostStats();
      this.#pools.set(host.address, new TcpConnPoolImpl(host, this, hostStats));
    }
    this.#lb = createLoadBalancer(this.hosts, config.lb, {
      activeRequests: (h) => this.#pools.get(h.address)?.hostStats.rq_active ?? 0,
    });
  }

  get requestBudget(): ResourceLimit {
    return this.resources.requests;
  }

  get retryBudget(): ResourceLimit {
    return this.resources.retries;
  }

  get protocolOptions(): Readonly<Record<string, unknown>> {
    return this.config.protocolOptions;
  }

  get connectTimeoutMs(): number {
    return this.config.connectTimeoutMs;
  }

  get bufferLimitBytes(): number {
    return this.config.bufferLimitBytes;
  }

  chooseHost(context: LoadBalancerContext | undefined): HostDescription | undefined {
    return this.#lb.chooseHost(context);
  }

  poolFor(address: string): TcpConnPoolImpl | undefined {
    return this.#pools.get(address);
  }

  tcpConnPool(host: HostDescription): TcpConnPool {
    let pool = this.#pools.get(host.address);
    if (!pool) {
      pool = new TcpConnPoolImpl(host, this, newHostStats());
      this.#pools.set(host.address, pool);
    }
    return pool;
  }

  /** Per-host counters for /clusters. */
  hostStats(): Record<string, HostStats> {
    const out: Record<string, HostStats> = {};
    for (const [addr, pool] of this.#pools) out[addr] = { ...pool.hostStats };
    return out;
  }
}

function sameBreakers(a: ClusterConfig, b: ClusterConfig): boolean {
  return JSON.stringify(a.circuitBreakers) === JSON.stringify(b.circuitBreakers);
}
