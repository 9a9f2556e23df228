/**
 * A subscription over a gRPC SotW stream: a watch on a GrpcMux (Envoy's GrpcSubscriptionImpl).
 * MAIN process. For ADS the mux is shared and owned by the subscription factory; for a
 * per-type ConfigSource (api_config_source GRPC) the subscription owns a mux of its own and
 * shuts it down on stop().
 *
 * It adds what is per subscription: the initial_fetch_timeout timer (armed by start(), ended
 * by the first update, accepted or rejected; fires onConfigUpdateFailed('fetch_timeout')
 * once), the stats (subscription-stats.ts), and the callbacks' contract (subscription.ts).
 */
import type { StatsScope } from '../api/stats.js';
import type { GrpcMux, MuxWatch, MuxWatcher } from './grpc-mux.js';
import type { DecodedResource } from './resource-decoder.js';
import type { XdsResourceType } from './resource-type.js';
import type { SubscriptionCallbacks, UpdateVerdict, XdsSubscription } from './subscription.js';
import { armInitialFetchTimeout, recordAccepted, recordFailure, recordRejected, subscriptionStats, type SubscriptionStats } from './subscription-stats.js';

export interface GrpcSubscriptionOptions {
  readonly mux: GrpcMux;
  /** True when this subscription made the mux (per-type source) and must shut it down. */
  readonly ownsMux: boolean;
  readonly type: XdsResourceType;
  readonly callbacks: SubscriptionCallbacks;
  /** Scope of the subscription's stats (`http.<prefix>.rds.<name>.` for RDS). */
  readonly stats: StatsScope;
  /** 0 disables. Envoy's default is 15 s. */
  readonly initialFetchTimeoutMs: number;
}

export type SubscriptionState = 'created' | 'started' | 'stopped';

export class GrpcSubscription implements XdsSubscription, MuxWatcher {
  readonly typeUrl: string;
  readonly #opts: GrpcSubscriptionOptions;
  readonly #stats: SubscriptionStats;
  #state: SubscriptionState = 'created';
  #watch: MuxWatch | undefined;
  #initTimer: NodeJS.Timeout | undefined;

  constructor(opts: GrpcSubscriptionOptions) {
    this.#opts = opts;
    this.typeUrl = opts.type.typeUrl;
    this.#stats = subscriptionStats(opts.stats);
  }

  start(resourceNames: readonly string[]): void {
    if (this.#state !== 'created') throw new Error(`xDS subscription for ${this.typeUrl} already ${this.#state}`);
    this.#state = 'started';
    this.#initTimer = armInitialFetchTimeout(
      this.#opts.initialFetchTimeoutMs,
      this.#stats,
      () => {
        this.#initTimer = undefined;
        return this.#state === 'started';
      },
      () => this.#opts.callbacks.onConfigUpdateFailed('fetch_timeout'),
    );
    this.#watch = this.#opts.mux.addWatch(this.#opts.type, resourceNames, this);
  }

  updateResourceNames(resourceNames: readonly string[]): void {
    if (this.#state !== 'started') return;
    this.#watch?.updateNames(resourceNames);
  }

  stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#endInitialFetch();
    this.#watch?.cancel();
    this.#watch = undefined;
    if (this.#opts.ownsMux) this.#opts.mux.shutdown();
  }

  /** @internal MuxWatcher: called by the mux. */
  onUpdate(resources: DecodedResource[], versionInfo: string): UpdateVerdict {
    if (this.#state !== 'started') return 'accept';
    this.#endInitialFetch();
    let verdict: UpdateVerdict;
    try {
      verdict = this.#opts.callbacks.onConfigUpdate(resources, versionInfo);
    } catch (e) {
      verdict = { reject: e instanceof Error ? e.message : String(e) };
    }
    if (verdict === 'accept') {
      recordAccepted(this.#stats, versionInfo, resources.length === 0);
    } else {
      recordRejected(this.#stats);
      if (this.#state === 'started') this.#opts.callbacks.onConfigUpdateFailed('rejected', verdict.reject);
    }
    return verdict;
  }

  /** @internal MuxWatcher. */
  onRejected(message: string): void {
    if (this.#state !== 'started') return;
    this.#endInitialFetch();
    recordRejected(this.#stats);
    this.#opts.callbacks.onConfigUpdateFailed('rejected', message);
  }

  /** @internal MuxWatcher. */
  onConnectionFailure(message: string): void {
    if (this.#state !== 'started') return;
    recordFailure(this.#stats);
    this.#opts.callbacks.onConfigUpdateFailed('connection', message);
  }

  #endInitialFetch(): void {
    if (this.#initTimer) clearTimeout(this.#initTimer);
    this.#initTimer = undefined;
  }
}
