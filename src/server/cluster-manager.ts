/**
 * Main's cluster manager (Envoy's ClusterManagerImpl, control side). MAIN process. Holds the
 * bootstrap's static clusters and the clusters CDS adds, each with its membership source
 * (STATIC, STRICT_DNS, LOGICAL_DNS, EDS), and posts two slots to the workers: `clusters` (the active
 * configs) and `membership` (their usable hosts).
 *
 * Warming, as Envoy: a cluster added or changed is not used until its membership source
 * says it may be (STATIC at once, STRICT_DNS and LOGICAL_DNS after the first resolution, EDS after the first
 * assignment or initial_fetch_timeout). A changed cluster warms beside the old one, which
 * keeps serving until the new one takes its place. Static clusters are never replaced or
 * removed through the API (Envoy ignores such an update and keeps the static one).
 *
 * Slots are posted membership first, so a worker never sees an active cluster without its
 * hosts; on removal, clusters first.
 *
 * Stats: cluster_manager.{cluster_added, cluster_modified, cluster_removed} (counters),
 * cluster_manager.{active_clusters, warming_clusters} (gauges); per cluster
 * cluster.<name>.{membership_total, membership_healthy (gauges), membership_change}.
 */
import type { Counter, Gauge, StatsScope } from '../api/stats.js';
import type { PlainObject } from '../config/proto-json.js';
import type { ClusterConfig, ClusterMembership } from '../config/server-config.js';
import { isUsableHealth } from '../config/load-assignment.js';
import type { XdsSubscriptionFactory } from '../xds/subscription-factory.js';
import { stableHash } from '../xds/stable-hash.js';
import { StaticMembership, usableHosts, type MemberHost, type MembershipSource } from './cluster-membership.js';
import { LogicalDnsMembership, StrictDnsMembership } from './dns-membership.js';
import { EdsMembership } from './eds-membership.js';

/** One cluster entry, active or warming. */
export interface ClusterEntry {
  readonly config: ClusterConfig;
  readonly addedViaApi: boolean;
  /** The CDS response's version_info that carried it ('' for static clusters). */
  readonly versionInfo: string;
  /** Stable hash of the resource (CDS) or of the config (static). */
  readonly hash: string;
  /** The checked CDS resource, for /config_dump (undefined for static clusters). */
  readonly resource: PlainObject | undefined;
  readonly lastUpdatedMs: number;
  readonly source: MembershipSource;
  /** Every host the source reported, with health and priority ([] until the first result). */
  hosts: readonly MemberHost[];
  warm: boolean;
}

export type AddOrUpdateResult = 'added' | 'modified' | 'unchanged' | 'static';

export interface ClusterManagerOptions {
  readonly stats: StatsScope;
  readonly factory: XdsSubscriptionFactory;
  readonly publishClusters: (clusters: ClusterConfig[]) => void;
  readonly publishMembership: (membership: ClusterMembership[]) => void;
  readonly log: (level: 'info' | 'warning' | 'debug', message: string) => void;
}

export class ClusterManager {
  readonly #opts: ClusterManagerOptions;
  readonly #active = new Map<string, ClusterEntry>();
  readonly #warming = new Map<string, ClusterEntry>();
  readonly #waiters = new Set<() => void>();
  /** Names of every cluster, active or warming: live, for route validation (validate_clusters). */
  readonly #names = new Set<string>();
  readonly #added: Counter;
  readonly #modified: Counter;
  readonly #removed: Counter;
  readonly #activeGauge: Gauge;
  readonly #warmingGauge: Gauge;
  #stopped = false;

  constructor(opts: ClusterManagerOptions) {
    this.#opts = opts;
    const s = opts.stats.scope('cluster_manager');
    this.#added = s.counter('cluster_added');
    this.#modified = s.counter('cluster_modified');
    this.#removed = s.counter('cluster_removed');
    this.#activeGauge = s.gauge('active_clusters');
    this.#warmingGauge = s.gauge('warming_clusters');
    this.#updateGauges();
  }

  /** Every known cluster name (active or warming); the set is kept up to date in place. */
  get names(): ReadonlySet<string> {
    return this.#names;
  }

  /** Adds the bootstrap's clusters; resolves once none of them is warming. */
  async addStatic(clusters: readonly ClusterConfig[]): Promise<void> {
    for (const c of clusters) this.#add(c, false, '', stableHash(c), undefined);
    await this.warmingDone();
  }

  /**
   * CDS: adds `config`, or replaces the dynamic cluster of the same name when `hash`
   * differs. A static cluster of that name is left alone ('static'), as Envoy does.
   */
  addOrUpdateCluster(config: ClusterConfig, versionInfo: string, hash: string, resource: PlainObject): AddOrUpdateResult {
    const active = this.#active.get(config.name);
    const warming = this.#warming.get(config.name);
    if ((active && !active.addedViaApi) || (warming && !warming.addedViaApi)) return 'static';
    if (warming ? warming.hash === hash : active?.hash === hash) return 'unchanged';
    if (warming) warming.source.stop();
    this.#add(config, true, versionInfo, hash, resource);
    return active ? 'modified' : 'added';
  }

  /** CDS: removes a dynamic cluster (false for a static or unknown one). */
  removeCluster(name: string): boolean {
    const active = this.#active.get(name);
    const warming = this.#warming.get(name);
    if ((active && !active.addedViaApi) || (warming && !warming.addedViaApi) || (!active && !warming)) return false;
    warming?.source.stop();
    active?.source.stop();
    this.#warming.delete(name);
    this.#active.delete(name);
    this.#names.delete(name);
    this.#removed.inc();
    this.#opts.log('info', `cds: cluster '${name}' removed`);
    this.#updateGauges();
    if (active) this.#publish(true);
    this.#wakeWaiters();
    return true;
  }

  /** Resolves once no cluster is warming (immediately if none is). */
  warmingDone(): Promise<void> {
    if (this.#warming.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.#warming.size > 0) return;
        this.#waiters.delete(check);
        resolve();
      };
      this.#waiters.add(check);
    });
  }

  /** Active clusters in insertion order (static first, as added). */
  activeClusters(): ClusterEntry[] {
    return [...this.#active.values()];
  }

  warmingClusters(): ClusterEntry[] {
    return [...this.#warming.values()];
  }

  /** The active entry of a cluster. */
  get(name: string): ClusterEntry | undefined {
    return this.#active.get(name);
  }

  /** Accepted EDS assignments of active EDS clusters, for /config_dump?include_eds. */
  edsAssignments(): Array<{ cluster: string } & NonNullable<EdsMembership['current']>> {
    return this.activeClusters().flatMap((e) =>
      e.source instanceof EdsMembership && e.source.current ? [{ cluster: e.config.name, ...e.source.current }] : [],
    );
  }

  stop(): void {
    this.#stopped = true;
    for (const e of [...this.#active.values(), ...this.#warming.values()]) e.source.stop();
    this.#warming.clear();
    this.#wakeWaiters();
  }

  #add(config: ClusterConfig, addedViaApi: boolean, versionInfo: string, hash: string, resource: PlainObject | undefined): void {
    const scope = this.#opts.stats.scope(`cluster.${config.statName}`);
    const source: MembershipSource =
      config.type === 'EDS'
        ? new EdsMembership({ cluster: config, factory: this.#opts.factory, scope, log: this.#opts.log })
        : config.type === 'STRICT_DNS'
          ? new StrictDnsMembership(config, scope)
          : config.type === 'LOGICAL_DNS'
            ? new LogicalDnsMembership(config, scope)
            : new StaticMembership(config);
    const entry: ClusterEntry = { config, addedViaApi, versionInfo, hash, resource, lastUpdatedMs: Date.now(), source, hosts: [], warm: false };
    this.#warming.set(config.name, entry);
    this.#names.add(config.name);
    if (this.#active.has(config.name)) this.#modified.inc();
    else this.#added.inc();
    this.#updateGauges();
    source.start({
      onHosts: (hosts) => this.#onHosts(entry, hosts),
      onWarm: () => this.#onWarm(entry),
    });
  }

  #onHosts(entry: ClusterEntry, hosts: readonly MemberHost[]): void {
    if (this.#stopped || !this.#isCurrent(entry)) return;
    const scope = this.#opts.stats.scope(`cluster.${entry.config.statName}`);
    const changed = JSON.stringify(entry.hosts) !== JSON.stringify(hosts);
    entry.hosts = hosts;
    scope.gauge('membership_total').set(hosts.length);
    scope.gauge('membership_healthy').set(hosts.filter((h) => isUsableHealth(h.health)).length);
    if (changed) scope.counter('membership_change').inc();
    if (changed && entry.warm) this.#publish(false);
  }

  #onWarm(entry: ClusterEntry): void {
    if (this.#stopped || this.#warming.get(entry.config.name) !== entry) return;
    entry.warm = true;
    this.#warming.delete(entry.config.name);
    const previous = this.#active.get(entry.config.name);
    previous?.source.stop();
    this.#active.set(entry.config.name, entry);
    this.#opts.log('debug', `cluster '${entry.config.name}' warmed (${entry.hosts.length} host(s))`);
    this.#updateGauges();
    this.#publish(false);
    this.#wakeWaiters();
  }

  /** The entry is still held: warming, or active (an active one serves until its successor warms). */
  #isCurrent(entry: ClusterEntry): boolean {
    const name = entry.config.name;
    return this.#warming.get(name) === entry || this.#active.get(name) === entry;
  }

  #publish(removing: boolean): void {
    const active = [...this.#active.values()];
    const membership = active.map((e) => usableHosts(e.config.name, e.hosts));
    const clusters = active.map((e) => e.config);
    if (removing) {
      this.#opts.publishClusters(clusters);
      this.#opts.publishMembership(membership);
    } else {
      this.#opts.publishMembership(membership);
      this.#opts.publishClusters(clusters);
    }
  }

  #updateGauges(): void {
    this.#activeGauge.set(this.#active.size);
    this.#warmingGauge.set(this.#warming.size);
  }

  #wakeWaiters(): void {
    for (const w of [...this.#waiters]) w();
  }
}
