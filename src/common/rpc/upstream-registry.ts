/**
 * A worker's RPC upstream pools, one per (cluster, upstream mode): the pools outlive any one
 * downstream connection, so requests from every client of the worker share upstream
 * connections (multiplexed) or reuse idle ones (exclusive).
 */
import type { ThreadLocalCluster } from '../../api/cluster.js';
import type { RpcProtocol } from '../../api/rpc-protocol.js';
import type { Counter } from '../../api/stats.js';
import type { RpcUpstreamPool } from './rpc-upstream.js';
import { ExclusivePool, MultiplexedPool } from './upstream-pools.js';

export interface RpcUpstreamOptions {
  mode: 'EXCLUSIVE' | 'MULTIPLEXED';
  requestTimeoutMs: number;
  connectionsPerHost: number;
}

export const DEFAULT_RPC_UPSTREAM_OPTIONS: RpcUpstreamOptions = { mode: 'EXCLUSIVE', requestTimeoutMs: 0, connectionsPerHost: 1 };

/** Gives each cluster host its pool; `options` reads the cluster's protocol options. */
export class RpcUpstreamPools {
  readonly #protocol: RpcProtocol;
  readonly #options: (cluster: ThreadLocalCluster) => RpcUpstreamOptions;
  readonly #responseDecodingError: Counter;
  readonly #pools = new Map<
    string,
    { key: string; cluster: ThreadLocalCluster; perHost: Map<string, RpcUpstreamPool>; facade: RpcUpstreamPool }
  >();

  constructor(protocol: RpcProtocol, options: (cluster: ThreadLocalCluster) => RpcUpstreamOptions, responseDecodingError: Counter) {
    this.#protocol = protocol;
    this.#options = options;
    this.#responseDecodingError = responseDecodingError;
  }

  options(cluster: ThreadLocalCluster): RpcUpstreamOptions {
    return this.#options(cluster);
  }

  /**
   * The pool serving `cluster` (per host pools are kept inside it by host address). Built
   * once per cluster object and upstream options, not per request.
   */
  poolFor(cluster: ThreadLocalCluster): RpcUpstreamPool {
    const opts = this.#options(cluster);
    const key = `${opts.mode}/${opts.connectionsPerHost}`;
    let entry = this.#pools.get(cluster.name);
    if (entry && entry.key === key && entry.cluster === cluster) return entry.facade;
    // A rebuilt cluster object (new membership) keeps the per-host pools of the same mode.
    const perHost = entry && entry.key === key ? entry.perHost : new Map<string, RpcUpstreamPool>();
    const ctx = {
      protocol: this.#protocol,
      clusterStats: cluster.stats,
      onResponseDecodingError: () => this.#responseDecodingError.inc(),
    };
    const facade: RpcUpstreamPool = {
      send: (request, oneway, tcpPool, callbacks) => {
        let pool = perHost.get(tcpPool.host.address);
        if (!pool) {
          pool = opts.mode === 'MULTIPLEXED' ? new MultiplexedPool(ctx, opts.connectionsPerHost) : new ExclusivePool(ctx);
          perHost.set(tcpPool.host.address, pool);
        }
        return pool.send(request, oneway, tcpPool, callbacks);
      },
    };
    entry = { key, cluster, perHost, facade };
    this.#pools.set(cluster.name, entry);
    return facade;
  }
}
