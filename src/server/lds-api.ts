/**
 * LDS (Envoy's LdsApiImpl). MAIN process. One wildcard subscription to Listener resources
 * from dynamic_resources.lds_config (ADS, a per-type gRPC stream or a watched file); stats
 * under `listener_manager.lds.` (update_attempt, update_success, update_rejected,
 * update_failure, update_empty, init_fetch_timeout, version).
 *
 * A SotW response is the whole set. onConfigUpdate decides synchronously:
 * - every listener goes through the bootstrap's translator (listener-config.ts and each
 *   network filter's parseConfig, with the cluster manager's live cluster names), then
 *   Envoy's listener-manager checks: no two listeners on one address, and an existing
 *   listener keeps its address. One problem anywhere refuses the whole update (NACK, every
 *   problem with its path under `resources[i]`);
 * - otherwise new RDS needs are started (their providers are shared with the HCMs already
 *   running), each listener is added or replaced when its content hash changed (it warms
 *   until its routes' first update), and dynamic listeners absent from the set are removed.
 *   A resource named like a static listener is ignored, as Envoy does.
 * Listeners do not wait for the clusters they name: tcp_proxy and the router take unknown
 * clusters (NC) as Envoy does; at start-up CDS is fetched before LDS, as in Envoy.
 */
import type { NetworkFilterConfigFactory } from '../api/network-filter.js';
import type { Registry } from '../api/registry.js';
import type { StatsScope } from '../api/stats.js';
import { listenerConfigContext } from '../config/bootstrap.js';
import { ProblemCollector } from '../config/config-error.js';
import { parseListener } from '../config/listener-config.js';
import type { ListenerConfig, RdsProviderConfig } from '../config/server-config.js';
import type { ConfigSourceContext, XdsConfigSource } from '../xds/config-source.js';
import { LISTENER } from '../xds/resource-type.js';
import type { XdsSubscriptionFactory } from '../xds/subscription-factory.js';
import type { DecodedResource, UpdateVerdict, XdsSubscription } from '../xds/subscription.js';
import type { ListenerManager } from './listener-manager.js';

export interface LdsApiOptions {
  readonly source: XdsConfigSource;
  readonly factory: XdsSubscriptionFactory;
  /** The server's root scope. */
  readonly stats: StatsScope;
  readonly listenerManager: ListenerManager;
  readonly filters: Registry<NetworkFilterConfigFactory>;
  /** The bootstrap's static clusters and ADS presence, for the HCMs' rds config sources. */
  readonly sources: ConfigSourceContext;
  /** Every cluster known now (static and CDS), for static route_config validate_clusters. */
  readonly clusterNames: ReadonlySet<string>;
  /** Starts the RDS providers the new listeners need (known keys are skipped) and resolves when they have had their first fetch. */
  readonly startRds: (configs: RdsProviderConfig[]) => Promise<void>;
  readonly log: (level: 'info' | 'warning' | 'debug', message: string) => void;
}

export class LdsApi {
  readonly #opts: LdsApiOptions;
  readonly #subscription: XdsSubscription;
  #versionInfo = '';
  #accepted = false;
  #initialDone!: () => void;
  /** The first update (accepted or refused) or initial_fetch_timeout; at once with a 0 timeout. */
  readonly initialFetchDone: Promise<void>;
  /** Warming of the listeners the first accepted update added (their RDS). */
  #firstWarm: Promise<void> = Promise.resolve();

  constructor(opts: LdsApiOptions) {
    this.#opts = opts;
    this.initialFetchDone = new Promise((r) => (this.#initialDone = r));
    this.#subscription = opts.factory.subscriptionFromConfigSource(
      opts.source,
      LISTENER.typeUrl,
      {
        onConfigUpdate: (resources, versionInfo) => this.#onConfigUpdate(resources, versionInfo),
        onConfigUpdateFailed: (reason, error) => {
          if (reason === 'connection') {
            opts.log('debug', `lds: ${error ?? 'connection failure'}`);
            return;
          }
          opts.log('warning', `lds: update ${reason}${error ? `: ${error}` : ''}`);
          this.#initialDone();
        },
      },
      opts.stats.scope('listener_manager.lds'),
    );
    if (opts.source.initialFetchTimeoutMs === 0) this.#initialDone();
  }

  get versionInfo(): string {
    return this.#versionInfo;
  }

  /** Resolves after the initial fetch and the warming of what it added. */
  async initialized(): Promise<void> {
    await this.initialFetchDone;
    await this.#firstWarm;
  }

  start(): void {
    this.#subscription.start([]);
  }

  stop(): void {
    this.#subscription.stop();
  }

  #onConfigUpdate(resources: DecodedResource[], versionInfo: string): UpdateVerdict {
    const lm = this.#opts.listenerManager;
    const rds = new Map<string, RdsProviderConfig>();
    const ctx = listenerConfigContext(this.#opts.sources, this.#opts.clusterNames, rds);
    const parsed: Array<{ r: DecodedResource; config: ListenerConfig }> = [];
    const errors: string[] = [];
    const addresses = new Map<string, string>();
    resources.forEach((r, i) => {
      const problems = new ProblemCollector(`resources[${i}]`);
      const config = parseListener(r.resource, problems, this.#opts.filters, ctx);
      if (config && problems.ok) this.#checkAddress(config, addresses, problems);
      if (!problems.ok || !config) {
        for (const p of problems.problems) errors.push(`LDS resource "${r.name}": ${p.path}: ${p.message}`);
        if (problems.ok) errors.push(`LDS resource "${r.name}": resources[${i}]: not a usable listener`);
        return;
      }
      parsed.push({ r, config });
    });
    if (errors.length > 0) {
      this.#initialDone();
      return { reject: errors.join('\n') };
    }
    const warmed = this.#opts.startRds([...rds.values()]);
    const names = new Set<string>();
    for (const { r, config } of parsed) {
      names.add(config.name);
      const result = lm.addOrUpdateListener(config, versionInfo, r.hash, r.resource, warmed);
      if (result === 'static') this.#opts.log('warning', `lds: listener '${config.name}' is static and cannot be updated via the API; ignored`);
      else if (result !== 'unchanged') this.#opts.log('info', `lds: listener '${config.name}' ${result} (version ${versionInfo})`);
    }
    for (const e of [...lm.dynamicActive(), ...lm.dynamicWarming()]) {
      if (!names.has(e.config.name) && lm.removeListener(e.config.name)) this.#opts.log('info', `lds: listener '${e.config.name}' removed`);
    }
    if (!this.#accepted) this.#firstWarm = warmed;
    this.#accepted = true;
    this.#versionInfo = versionInfo;
    this.#initialDone();
    return 'accept';
  }

  /** Envoy's checks: one listener per address (port 0 excepted), and a listener keeps its address. */
  #checkAddress(config: ListenerConfig, seen: Map<string, string>, problems: ProblemCollector): void {
    const { host, port } = config.address;
    const key = `${host}:${port}`;
    const current = this.#opts.listenerManager.get(config.name);
    if (current && current.addedViaApi && (current.config.address.host !== host || current.config.address.port !== port)) {
      problems.add(
        'address',
        `error updating listener: '${config.name}' has a different address '${key}' from existing listener address '${current.config.address.host}:${current.config.address.port}'`,
      );
      return;
    }
    if (port === 0) return;
    const inUpdate = seen.get(key);
    const other = inUpdate ?? this.#opts.listenerManager.others(config.name).find((e) => !e.addedViaApi && e.config.address.host === host && e.config.address.port === port)?.config.name;
    if (other !== undefined && other !== config.name) {
      problems.add('address', `error adding listener: '${config.name}' has duplicate address '${key}' as existing listener '${other}'`);
      return;
    }
    seen.set(key, config.name);
  }
}
