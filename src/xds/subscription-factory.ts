/**
 * Subscriptions from ConfigSources (Envoy's SubscriptionFactoryImpl). MAIN process; one
 * factory per server, made at bootstrap with the node identity and the ADS server.
 *
 * - `ads`: a watch on the one ADS mux (created on first use, one stream for every type and
 *   every ADS subscription; its `control_plane.connected_state` is in the root scope).
 * - `grpc`: a per-type SotW stream of the subscription's own (as Envoy makes a GrpcMux per
 *   api_config_source subscription); its `control_plane.connected_state` is in the
 *   subscription's scope.
 * - `path`: a watched file.
 * Sharing one subscription between several users of the same (source, name) is the caller's
 * job (RDS's provider manager, keyed by configSourceKey()).
 */
import type { StatsScope } from '../api/stats.js';
import type { BackoffOptions } from './backoff.js';
import type { XdsConfigSource, XdsGrpcServer } from './config-source.js';
import { adsMethod, sotwMethod } from './discovery-service.js';
import { GrpcMux, type XdsLogger } from './grpc-mux.js';
import type { XdsNode } from './node-identity.js';
import { resourceTypeFor } from './resource-type.js';
import { FileSubscription } from './subscription-file.js';
import { GrpcSubscription } from './subscription-grpc.js';
import type { SubscriptionCallbacks, XdsSubscription } from './subscription.js';

export interface XdsSubscriptionFactoryOptions {
  readonly node: XdsNode;
  /** The server's root scope (the ADS mux's control_plane.* stats). */
  readonly rootStats: StatsScope;
  /** dynamic_resources.ads_config, parsed (parseApiConfigSource(..., forAds = true)). */
  readonly ads?: XdsGrpcServer | undefined;
  readonly log?: XdsLogger | undefined;
  /** Stream retry backoff (default base 500 ms, max 30 s). */
  readonly backoff?: BackoffOptions | undefined;
  /** Watched-file debounce (default 50 ms). */
  readonly fileDebounceMs?: number | undefined;
}

export class XdsSubscriptionFactory {
  readonly #opts: XdsSubscriptionFactoryOptions;
  #adsMux: GrpcMux | undefined;
  readonly #subscriptions = new Set<XdsSubscription>();
  #stopped = false;

  constructor(opts: XdsSubscriptionFactoryOptions) {
    this.#opts = opts;
  }

  /**
   * MAIN. A subscription to `typeUrl` resources from `source`, not started: call start(names).
   * `stats` is the subscription's scope (update_attempt... go there). Throws for a type URL
   * Courier does not know, for an `ads` source without ads_config, and for a `grpc` source of a
   * type with no per-type service (Dubbo's drds: use ADS).
   */
  subscriptionFromConfigSource(source: XdsConfigSource, typeUrl: string, callbacks: SubscriptionCallbacks, stats: StatsScope): XdsSubscription {
    if (this.#stopped) throw new Error('xDS subscription factory is shut down');
    const type = resourceTypeFor(typeUrl);
    if (!type) throw new Error(`unknown xDS resource type ${typeUrl}`);
    let sub: XdsSubscription;
    switch (source.kind) {
      case 'ads': {
        sub = new GrpcSubscription({
          mux: this.adsMux(),
          ownsMux: false,
          type,
          callbacks,
          stats,
          initialFetchTimeoutMs: source.initialFetchTimeoutMs,
        });
        break;
      }
      case 'grpc': {
        const method = sotwMethod(type);
        if (!method) throw new Error(`${type.shortName} (${typeUrl}) has no per-type gRPC service; use ads: {}`);
        const mux = new GrpcMux({
          name: `${type.shortName.toLowerCase()}@${source.server.target}`,
          target: source.server.target,
          method,
          node: this.#opts.node,
          stats,
          backoff: source.server.backoff ?? this.#opts.backoff,
          log: this.#opts.log,
        });
        sub = new GrpcSubscription({ mux, ownsMux: true, type, callbacks, stats, initialFetchTimeoutMs: source.initialFetchTimeoutMs });
        break;
      }
      case 'path':
        sub = new FileSubscription({
          path: source.path,
          watchedDirectory: source.watchedDirectory,
          type,
          callbacks,
          stats,
          initialFetchTimeoutMs: source.initialFetchTimeoutMs,
          debounceMs: this.#opts.fileDebounceMs,
          log: this.#opts.log,
        });
        break;
    }
    const inner = sub;
    const tracked: XdsSubscription = {
      typeUrl: inner.typeUrl,
      start: (names) => inner.start(names),
      updateResourceNames: (names) => inner.updateResourceNames(names),
      stop: () => {
        this.#subscriptions.delete(tracked);
        inner.stop();
      },
    };
    this.#subscriptions.add(tracked);
    return tracked;
  }

  /** The ADS mux (made on first use). Throws when the bootstrap has no ads_config. */
  adsMux(): GrpcMux {
    if (this.#adsMux) return this.#adsMux;
    const ads = this.#opts.ads;
    if (!ads) throw new Error('a ConfigSource uses ads: {} but the bootstrap has no dynamic_resources.ads_config');
    this.#adsMux = new GrpcMux({
      name: `ads@${ads.target}`,
      target: ads.target,
      method: adsMethod(),
      node: this.#opts.node,
      stats: this.#opts.rootStats,
      backoff: ads.backoff ?? this.#opts.backoff,
      log: this.#opts.log,
    });
    return this.#adsMux;
  }

  /** MAIN. Stops every subscription made here and the ADS stream. Idempotent. */
  shutdown(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const s of this.#subscriptions) s.stop();
    this.#subscriptions.clear();
    this.#adsMux?.shutdown();
  }
}
