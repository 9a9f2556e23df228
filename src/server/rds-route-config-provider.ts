/**
 * One RDS route config provider (Envoy's RdsRouteConfigSubscription + RdsRouteConfigProviderImpl).
 * MAIN process. Made by the RouteConfigProviderManager, one per (config source,
 * route_config_name), shared by every HCM naming that pair, so the stream names the resource
 * once.
 *
 * Its subscription's onConfigUpdate decides synchronously, as Envoy does:
 * - no resource: nothing to do (a file subscription counts update_empty);
 * - more than one, or one with another name: reject with Envoy's messages
 *   ("Unexpected RDS resource length: N", "Unexpected RDS configuration (expecting X): Y");
 * - the same content hash as the current config: accept, no reload (no config_reload, no
 *   post to workers, version_info unchanged, as Envoy's onRdsUpdate);
 * - route-config.ts problems (or unknown clusters with validate_clusters: true): reject
 *   with every problem's path;
 * - otherwise keep it, count config_reload and config_reload_time_ms, and tell the manager,
 *   which posts the whole `routes` slot to the workers.
 * A rejected config is never kept, so it never reaches a worker or /config_dump.
 *
 * `initialFetchDone` resolves on the first update (accepted or rejected) or on
 * initial_fetch_timeout, so the server can hold listeners back that long and no longer; with
 * initial_fetch_timeout 0 it resolves at once (Courier does not wait forever, Envoy would).
 */
import type { Counter, Gauge, StatsScope } from '../api/stats.js';
import { ROUTE_CONFIG_KINDS } from '../extensions/route-config-kinds.js';
import { ProblemCollector } from '../config/config-error.js';
import type { RdsProviderConfig, RouteConfigKindName } from '../config/server-config.js';
import type { XdsSubscriptionFactory } from '../xds/subscription-factory.js';
import type { DecodedResource, UpdateVerdict, XdsSubscription } from '../xds/subscription.js';

/** The accepted state of a provider. */
export interface AcceptedRouteConfig {
  readonly versionInfo: string;
  readonly hash: string;
  /** The plain config its kind's parse() made (an HTTP RouteConfig, or MetaProtocol routes). */
  readonly config: unknown;
  /** The checked resource (decodeMessage output), for /config_dump. */
  readonly resource: Readonly<Record<string, unknown>>;
  readonly lastUpdatedMs: number;
}

export interface RdsProviderOptions {
  readonly config: RdsProviderConfig;
  readonly factory: XdsSubscriptionFactory;
  /** The server's root stats scope. */
  readonly stats: StatsScope;
  /** Static cluster names, for validate_clusters: true. */
  readonly clusterNames: ReadonlySet<string>;
  /** Called after a new config was accepted (synchronously, inside onConfigUpdate). */
  readonly onChange: () => void;
  readonly log: (level: 'info' | 'warning' | 'debug', message: string) => void;
}

/** Envoy's stat name for a route config name: ':' is the tag separator, so it becomes '_'. */
export function rdsStatName(routeConfigName: string): string {
  return routeConfigName.replaceAll(':', '_');
}

export class RdsRouteConfigProvider {
  readonly key: string;
  readonly routeConfigName: string;
  readonly kind: RouteConfigKindName;
  readonly #opts: RdsProviderOptions;
  readonly #configReload: Counter;
  readonly #configReloadTime: Gauge;
  readonly #subscription: XdsSubscription;
  #current: AcceptedRouteConfig | undefined;
  #initialDone!: () => void;
  readonly initialFetchDone: Promise<void>;

  constructor(opts: RdsProviderOptions) {
    this.#opts = opts;
    this.key = opts.config.key;
    this.routeConfigName = opts.config.routeConfigName;
    this.kind = opts.config.kind;
    this.initialFetchDone = new Promise((r) => (this.#initialDone = r));
    const kind = ROUTE_CONFIG_KINDS[opts.config.kind];
    const scope = opts.stats.scope(`${kind.statRoot}.${opts.config.statPrefix}.${kind.statSegment}.${rdsStatName(this.routeConfigName)}`);
    this.#configReload = scope.counter('config_reload');
    this.#configReloadTime = scope.gauge('config_reload_time_ms');
    this.#subscription = opts.factory.subscriptionFromConfigSource(
      opts.config.source,
      kind.typeUrl,
      {
        onConfigUpdate: (resources, versionInfo) => this.#onConfigUpdate(resources, versionInfo),
        onConfigUpdateFailed: (reason, error) => {
          if (reason === 'connection') opts.log('debug', `rds ${this.routeConfigName}: ${error ?? 'connection failure'}`);
          else opts.log('warning', `rds ${this.routeConfigName}: update ${reason}${error ? `: ${error}` : ''}`);
          if (reason !== 'connection') this.#initialDone();
        },
      },
      scope,
    );
    if (opts.config.source.initialFetchTimeoutMs === 0) this.#initialDone();
  }

  get current(): AcceptedRouteConfig | undefined {
    return this.#current;
  }

  start(): void {
    this.#subscription.start([this.routeConfigName]);
  }

  stop(): void {
    this.#subscription.stop();
  }

  #onConfigUpdate(resources: DecodedResource[], versionInfo: string): UpdateVerdict {
    this.#initialDone();
    if (resources.length === 0) return 'accept';
    if (resources.length !== 1) return { reject: `Unexpected RDS resource length: ${resources.length}` };
    const r = resources[0]!;
    if (r.name !== this.routeConfigName) {
      return { reject: `Unexpected RDS configuration (expecting ${this.routeConfigName}): ${r.name}` };
    }
    if (this.#current?.hash === r.hash) return 'accept';
    const problems = new ProblemCollector('resources[0]');
    const kind = ROUTE_CONFIG_KINDS[this.#opts.config.kind];
    const config = kind.parse(r.resource, problems);
    if (config) {
      const { names, strict } = kind.clusters(config);
      if (strict) {
        for (const name of names) {
          if (!this.#opts.clusterNames.has(name)) problems.at('virtual_hosts').add('', `route references unknown cluster '${name}'`);
        }
      }
    }
    if (!config || !problems.ok) {
      const detail = problems.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
      return { reject: `RDS resource "${r.name}": ${detail}` };
    }
    this.#current = { versionInfo, hash: r.hash, config, resource: r.resource, lastUpdatedMs: Date.now() };
    this.#configReload.inc();
    this.#configReloadTime.set(this.#current.lastUpdatedMs);
    this.#opts.log('debug', `rds ${this.routeConfigName}: config ${versionInfo} accepted`);
    this.#opts.onChange();
    return 'accept';
  }
}
