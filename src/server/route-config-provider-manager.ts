/**
 * The one RouteConfigProviderManager of the server (Envoy's RouteConfigProviderManagerImpl).
 * MAIN process.
 *
 * The bootstrap already folded every HCM `rds` into one RdsProviderConfig per (config source,
 * route_config_name) key; the manager makes one RdsRouteConfigProvider (one subscription) per
 * key. Whenever a provider accepts a new config, the manager posts the whole `routes` slot —
 * a fresh, immutable map of every provider's accepted config — to the workers, which swap
 * their tables (src/worker/route-tables.ts). Static route configs never come here: they
 * travel inside the listeners slot.
 */
import type { StatsScope } from '../api/stats.js';
import type { RdsProviderConfig } from '../config/server-config.js';
import type { XdsSubscriptionFactory } from '../xds/subscription-factory.js';
import { RdsRouteConfigProvider, type AcceptedRouteConfig } from './rds-route-config-provider.js';
import type { RoutesSlotEntry, SlotValues } from './worker-protocol.js';

export interface RouteConfigProviderManagerOptions {
  readonly factory: XdsSubscriptionFactory;
  readonly stats: StatsScope;
  readonly clusterNames: ReadonlySet<string>;
  /** Posts the `routes` slot to every worker (WorkerPool.publish). */
  readonly publish: (routes: SlotValues['routes']) => void;
  readonly log: (level: 'info' | 'warning' | 'debug', message: string) => void;
}

export class RouteConfigProviderManager {
  readonly #opts: RouteConfigProviderManagerOptions;
  readonly #providers = new Map<string, RdsRouteConfigProvider>();

  constructor(opts: RouteConfigProviderManagerOptions) {
    this.#opts = opts;
  }

  /** Makes and starts one provider per distinct key (a repeated key reuses its provider). */
  start(configs: readonly RdsProviderConfig[]): void {
    for (const config of configs) {
      if (this.#providers.has(config.key)) continue;
      const provider = new RdsRouteConfigProvider({
        config,
        factory: this.#opts.factory,
        stats: this.#opts.stats,
        clusterNames: this.#opts.clusterNames,
        onChange: () => this.#opts.publish(this.snapshot()),
        log: this.#opts.log,
      });
      this.#providers.set(config.key, provider);
      provider.start();
    }
  }

  /**
   * Stops and forgets the providers whose key is not in `keys` (an LDS update dropped the
   * last listener naming them), and tells the workers. Envoy frees a provider when its last
   * user goes; Courier's listeners are plain data, so the LDS update says which keys live.
   */
  retainOnly(keys: ReadonlySet<string>): void {
    let removed = 0;
    for (const [key, provider] of this.#providers) {
      if (keys.has(key)) continue;
      provider.stop();
      this.#providers.delete(key);
      removed++;
    }
    if (removed > 0) this.#opts.publish(this.snapshot());
  }

  /** Resolves when every provider had its first update or its initial_fetch_timeout. */
  initialFetchDone(): Promise<void> {
    return Promise.all([...this.#providers.values()].map((p) => p.initialFetchDone)).then(() => undefined);
  }

  /** Every accepted config by provider key: the `routes` slot value (a new object each call). */
  snapshot(): SlotValues['routes'] {
    const out: Record<string, RoutesSlotEntry> = {};
    for (const [key, p] of this.#providers) {
      const c = p.current;
      if (c) out[key] = { version: c.versionInfo, hash: c.hash, kind: p.kind, config: c.config };
    }
    return out;
  }

  /** Accepted dynamic route configs, for /config_dump (one per provider that has one). */
  dynamicRouteConfigs(): Array<{ name: string } & AcceptedRouteConfig> {
    return [...this.#providers.values()].flatMap((p) => (p.current ? [{ name: p.routeConfigName, ...p.current }] : []));
  }

  get providerCount(): number {
    return this.#providers.size;
  }

  stop(): void {
    for (const p of this.#providers.values()) p.stop();
  }
}
