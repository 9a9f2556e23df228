/**
 * A worker's clusters, rebuilt from the `clusters` and `membership` slots. A cluster whose
 * config and hosts are unchanged keeps its object; a changed one is rebuilt and takes over
 * the pools of hosts that stayed. Connections in flight keep the cluster object they began
 * with (its pools stay valid until their sockets close).
 */
import type { ThreadLocalCluster, ThreadLocalClusterManager } from '../../api/cluster.js';
import type { StatsScope } from '../../api/stats.js';
import type { ClusterConfig, ClusterMembership } from '../../config/server-config.js';
import type { HostStats } from './host-stats.js';
import { ThreadLocalClusterImpl } from './thread-local-cluster.js';

export class ThreadLocalClusterManagerImpl implements ThreadLocalClusterManager {
  readonly #scope: StatsScope;
  readonly #workerCount: number;
  #clusters = new Map<string, ThreadLocalClusterImpl>();
  #configs = new Map<string, { json: string; config: ClusterConfig }>();
  #membership = new Map<string, { json: string; value: ClusterMembership }>();

  constructor(scope: StatsScope, workerCount: number) {
    this.#scope = scope;
    this.#workerCount = workerCount;
  }

  getThreadLocalCluster(name: string): ThreadLocalCluster | undefined {
    return this.#clusters.get(name);
  }

  /** Slot update: the full list of cluster configs. */
  setClusters(configs: readonly ClusterConfig[]): void {
    const next = new Map<string, { json: string; config: ClusterConfig }>();
    for (const c of configs) next.set(c.name, { json: JSON.stringify(c), config: c });
    this.#configs = next;
    this.#rebuild();
  }

  /** Slot update: hosts of every cluster. */
  setMembership(all: readonly ClusterMembership[]): void {
    const next = new Map<string, { json: string; value: ClusterMembership }>();
    for (const m of all) next.set(m.cluster, { json: JSON.stringify(m.hosts), value: m });
    this.#membership = next;
    this.#rebuild();
  }

  #built = new Map<string, string>();

  #rebuild(): void {
    const clusters = new Map<string, ThreadLocalClusterImpl>();
    const built = new Map<string, string>();
    for (const [name, { json, config }] of this.#configs) {
      const membership = this.#membership.get(name);
      const key = `${json}|${membership?.json ?? ''}`;
      const previous = this.#clusters.get(name);
      if (previous && this.#built.get(name) === key) {
        clusters.set(name, previous);
      } else {
        clusters.set(name, new ThreadLocalClusterImpl(config, membership?.value, this.#scope, this.#workerCount, previous));
      }
      built.set(name, key);
    }
    this.#clusters = clusters;
    this.#built = built;
  }

  /** Per-host counters of every cluster, for /clusters. */
  hostStats(): Record<string, Record<string, HostStats>> {
    const out: Record<string, Record<string, HostStats>> = {};
    for (const [name, c] of this.#clusters) out[name] = c.hostStats();
    return out;
  }
}
