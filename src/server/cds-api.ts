/**
 * CDS (Envoy's CdsApiImpl + CdsApiHelper). MAIN process. One wildcard subscription to
 * Cluster resources from dynamic_resources.cds_config (ADS, a per-type gRPC stream or a
 * watched file); stats under `cluster_manager.cds.` (update_attempt, update_success,
 * update_rejected, update_failure, update_empty, init_fetch_timeout, version).
 *
 * A SotW response is the whole set. onConfigUpdate decides synchronously:
 * - every cluster goes through the bootstrap's translator (cluster-config.ts): one problem
 *   anywhere refuses the whole update (NACK, every problem with its path under
 *   `resources[i]`), and the clusters in use stay as they were;
 * - otherwise each cluster is added or, when its content hash changed, replaced (it warms
 *   first; unchanged ones are not touched), and dynamic clusters absent from the set are
 *   removed. A resource named like a static cluster is ignored, as Envoy does.
 */
import type { StatsScope } from '../api/stats.js';
import { ProblemCollector } from '../config/config-error.js';
import type { PlainObject } from '../config/proto-json.js';
import type { ClusterConfig } from '../config/server-config.js';
import type { XdsConfigSource } from '../xds/config-source.js';
import { CLUSTER } from '../xds/resource-type.js';
import type { XdsSubscriptionFactory } from '../xds/subscription-factory.js';
import type { DecodedResource, UpdateVerdict, XdsSubscription } from '../xds/subscription.js';
import type { ClusterManager } from './cluster-manager.js';

export interface CdsApiOptions {
  readonly source: XdsConfigSource;
  readonly factory: XdsSubscriptionFactory;
  /** The server's root scope. */
  readonly stats: StatsScope;
  readonly clusterManager: ClusterManager;
  /** The cluster translator (parseCluster with the bootstrap's filters and config sources). */
  readonly parse: (resource: PlainObject, problems: ProblemCollector) => ClusterConfig | undefined;
  readonly log: (level: 'info' | 'warning' | 'debug', message: string) => void;
}

export class CdsApi {
  readonly #opts: CdsApiOptions;
  readonly #subscription: XdsSubscription;
  #versionInfo = '';
  #lastUpdatedMs: number | undefined;
  #initialDone!: () => void;
  /** The first update (accepted or refused) or initial_fetch_timeout; at once with a 0 timeout. */
  readonly initialFetchDone: Promise<void>;

  constructor(opts: CdsApiOptions) {
    this.#opts = opts;
    this.initialFetchDone = new Promise((r) => (this.#initialDone = r));
    this.#subscription = opts.factory.subscriptionFromConfigSource(
      opts.source,
      CLUSTER.typeUrl,
      {
        onConfigUpdate: (resources, versionInfo) => this.#onConfigUpdate(resources, versionInfo),
        onConfigUpdateFailed: (reason, error) => {
          if (reason === 'connection') {
            opts.log('debug', `cds: ${error ?? 'connection failure'}`);
            return;
          }
          opts.log('warning', `cds: update ${reason}${error ? `: ${error}` : ''}`);
          this.#initialDone();
        },
      },
      opts.stats.scope('cluster_manager.cds'),
    );
    if (opts.source.initialFetchTimeoutMs === 0) this.#initialDone();
  }

  /** The last accepted version_info ('' before the first). */
  get versionInfo(): string {
    return this.#versionInfo;
  }

  get lastUpdatedMs(): number | undefined {
    return this.#lastUpdatedMs;
  }

  start(): void {
    this.#subscription.start([]);
  }

  stop(): void {
    this.#subscription.stop();
  }

  #onConfigUpdate(resources: DecodedResource[], versionInfo: string): UpdateVerdict {
    this.#initialDone();
    const parsed: Array<{ r: DecodedResource; config: ClusterConfig }> = [];
    const errors: string[] = [];
    resources.forEach((r, i) => {
      const problems = new ProblemCollector(`resources[${i}]`);
      const config = this.#opts.parse(r.resource, problems);
      if (!problems.ok || !config) {
        for (const p of problems.problems) errors.push(`CDS resource "${r.name}": ${p.path}: ${p.message}`);
        if (problems.ok) errors.push(`CDS resource "${r.name}": resources[${i}]: not a usable cluster`);
        return;
      }
      parsed.push({ r, config });
    });
    if (errors.length > 0) return { reject: errors.join('\n') };
    const cm = this.#opts.clusterManager;
    const names = new Set<string>();
    for (const { r, config } of parsed) {
      names.add(config.name);
      const result = cm.addOrUpdateCluster(config, versionInfo, r.hash, r.resource);
      if (result === 'static') this.#opts.log('warning', `cds: cluster '${config.name}' is static and cannot be updated via the API; ignored`);
      else if (result !== 'unchanged') this.#opts.log('info', `cds: cluster '${config.name}' ${result} (version ${versionInfo})`);
    }
    for (const e of [...cm.activeClusters(), ...cm.warmingClusters()]) {
      if (e.addedViaApi && !names.has(e.config.name)) cm.removeCluster(e.config.name);
    }
    this.#versionInfo = versionInfo;
    this.#lastUpdatedMs = Date.now();
    return 'accept';
  }
}
