/**
 * An EDS cluster's hosts (Envoy's EdsClusterImpl). MAIN process. One subscription per
 * cluster to its ClusterLoadAssignment (`service_name`, or the cluster's name) through the
 * shared subscription factory: over ADS every EDS cluster's name rides the one stream.
 * Stats are Envoy's, in the cluster's scope: `cluster.<name>.update_attempt`,
 * update_success, update_rejected, update_empty, update_failure, init_fetch_timeout, version.
 *
 * onConfigUpdate decides synchronously:
 * - no resource: nothing changes (a watched file without it counts update_empty);
 * - more than one, or another name: refused ("Unexpected EDS resource length: N",
 *   "Unexpected EDS cluster (expecting X): Y");
 * - the same content hash as the last accepted one: accepted, nothing posted;
 * - load-assignment.ts problems: refused with every field path, the last good hosts kept;
 * - otherwise the hosts go to the cluster manager.
 *
 * Warming (Envoy's): the cluster is not used until the first assignment, a rejected first
 * update, or initial_fetch_timeout — then it is used with what it has (maybe no host).
 */
import type { StatsScope } from '../api/stats.js';
import { ProblemCollector } from '../config/config-error.js';
import { parseLoadAssignment } from '../config/load-assignment.js';
import type { ClusterConfig } from '../config/server-config.js';
import { CLUSTER_LOAD_ASSIGNMENT } from '../xds/resource-type.js';
import type { XdsSubscriptionFactory } from '../xds/subscription-factory.js';
import type { DecodedResource, UpdateVerdict, XdsSubscription } from '../xds/subscription.js';
import { hostsOfEndpoints, type MembershipCallbacks, type MembershipSource } from './cluster-membership.js';

/** The last accepted assignment, for /config_dump?include_eds. */
export interface AcceptedAssignment {
  readonly versionInfo: string;
  readonly hash: string;
  readonly resource: Readonly<Record<string, unknown>>;
  readonly lastUpdatedMs: number;
}

export interface EdsMembershipOptions {
  readonly cluster: ClusterConfig;
  readonly factory: XdsSubscriptionFactory;
  /** `cluster.<stat name>.` */
  readonly scope: StatsScope;
  readonly log: (level: 'info' | 'warning' | 'debug', message: string) => void;
}

export class EdsMembership implements MembershipSource {
  readonly serviceName: string;
  readonly #opts: EdsMembershipOptions;
  #subscription: XdsSubscription | undefined;
  #callbacks: MembershipCallbacks | undefined;
  #current: AcceptedAssignment | undefined;
  #warm = false;

  constructor(opts: EdsMembershipOptions) {
    if (!opts.cluster.eds) throw new Error(`cluster ${opts.cluster.name} is not an EDS cluster`);
    this.#opts = opts;
    this.serviceName = opts.cluster.eds.serviceName;
  }

  get current(): AcceptedAssignment | undefined {
    return this.#current;
  }

  start(callbacks: MembershipCallbacks): void {
    this.#callbacks = callbacks;
    const name = this.#opts.cluster.name;
    this.#subscription = this.#opts.factory.subscriptionFromConfigSource(
      this.#opts.cluster.eds!.source,
      CLUSTER_LOAD_ASSIGNMENT.typeUrl,
      {
        onConfigUpdate: (resources, versionInfo) => this.#onConfigUpdate(resources, versionInfo),
        onConfigUpdateFailed: (reason, error) => {
          if (reason === 'connection') {
            this.#opts.log('debug', `eds ${name}: ${error ?? 'connection failure'}`);
            return;
          }
          this.#opts.log('warning', `eds ${name}: update ${reason}${error ? `: ${error}` : ''}`);
          // A first update refused, or none in time: the cluster is used as it is (Envoy).
          this.#warmUp();
        },
      },
      this.#opts.scope,
    );
    this.#subscription.start([this.serviceName]);
    if (this.#opts.cluster.eds!.source.initialFetchTimeoutMs === 0) {
      // Envoy would wait forever; Courier does not hold a cluster back without a bound.
      queueMicrotask(() => this.#warmUp());
    }
  }

  stop(): void {
    this.#callbacks = undefined;
    this.#subscription?.stop();
  }

  #warmUp(): void {
    if (this.#warm || !this.#callbacks) return;
    this.#warm = true;
    this.#callbacks.onWarm();
  }

  #onConfigUpdate(resources: DecodedResource[], versionInfo: string): UpdateVerdict {
    if (!this.#callbacks) return 'accept';
    if (resources.length === 0) return 'accept';
    if (resources.length !== 1) return { reject: `Unexpected EDS resource length: ${resources.length}` };
    const r = resources[0]!;
    if (r.name !== this.serviceName) return { reject: `Unexpected EDS cluster (expecting ${this.serviceName}): ${r.name}` };
    if (this.#current?.hash === r.hash) {
      this.#warmUp();
      return 'accept';
    }
    const problems = new ProblemCollector('resources[0]');
    const endpoints = parseLoadAssignment(r.resource, true, problems);
    if (!problems.ok) {
      const detail = problems.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
      return { reject: `EDS resource "${r.name}": ${detail}` };
    }
    this.#current = { versionInfo, hash: r.hash, resource: r.resource, lastUpdatedMs: Date.now() };
    this.#callbacks.onHosts(hostsOfEndpoints(endpoints));
    this.#warmUp();
    return 'accept';
  }
}
