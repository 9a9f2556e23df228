/**
 * The RPC router filter (Envoy's envoy.filters.dubbo.router), protocol-neutral: resolve the
 * route, pick a host in the cluster, send through the cluster's upstream mode, forward the
 * response, or answer with the protocol's error on any failure.
 */
import type { ThreadLocalClusterManager } from '../../api/cluster.js';
import { LocalReplyKind, type RpcFrame, type RpcProtocol } from '../../api/rpc-protocol.js';
import { ResponseFlag } from '../../api/stream-info.js';
import { RpcFilterStatus, type RpcDecoderFilter, type RpcFilterCallbacks } from './rpc-filter.js';
import type { RpcUpstreamPools } from './upstream-registry.js';

export interface RpcRoute {
  readonly cluster: string;
}

export interface RpcRouterConfig<Req extends RpcFrame> {
  readonly protocol: RpcProtocol<Req>;
  readonly clusterManager: ThreadLocalClusterManager;
  readonly pools: RpcUpstreamPools;
  /** Resolves a request's route (the current route table is read here, once per request). */
  route(request: Req): RpcRoute | undefined;
  /** Text naming the request in error messages, e.g. the Dubbo interface. */
  describe(request: Req): string;
}

export class RpcRouterFilter<Req extends RpcFrame> implements RpcDecoderFilter<Req> {
  readonly #config: RpcRouterConfig<Req>;
  constructor(config: RpcRouterConfig<Req>) {
    this.#config = config;
  }

  onMessageDecoded(cb: RpcFilterCallbacks<Req>): RpcFilterStatus {
    const config = this.#config;
    const request = cb.request;
    const info = cb.streamInfo;
    const route = config.route(request);
    if (!route) {
      info.responseFlags.add(ResponseFlag.NoRouteFound);
      cb.sendLocalReply(LocalReplyKind.NoRoute, `${config.protocol.name} router: no route for ${config.describe(request)}`);
      return RpcFilterStatus.StopIteration;
    }
    info.upstreamCluster = route.cluster;
    const cluster = config.clusterManager.getThreadLocalCluster(route.cluster);
    if (!cluster) {
      info.responseFlags.add(ResponseFlag.NoClusterFound);
      cb.sendLocalReply(LocalReplyKind.UnknownCluster, `${config.protocol.name} router: unknown cluster '${route.cluster}'`);
      return RpcFilterStatus.StopIteration;
    }
    const host = cluster.chooseHost(undefined);
    if (!host) {
      info.responseFlags.add(ResponseFlag.NoHealthyUpstream);
      cluster.stats.upstream_cx_none_healthy.inc();
      cb.sendLocalReply(LocalReplyKind.NoHealthyUpstream, `${config.protocol.name} router: no healthy upstream`);
      return RpcFilterStatus.StopIteration;
    }
    info.upstreamHost = host.address;
    const pool = config.pools.poolFor(cluster);
    const timeoutMs = cb.oneway ? 0 : config.pools.options(cluster).requestTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const handle = pool.send(request, cb.oneway, cluster.tcpConnPool(host), {
      onSent: () => {
        if (cb.oneway) cb.complete();
      },
      onResponse: (response) => {
        if (timer) clearTimeout(timer);
        cb.sendResponse(response);
      },
      onFailure: (kind, message) => {
        if (timer) clearTimeout(timer);
        if (kind === LocalReplyKind.Overflow) info.responseFlags.add(ResponseFlag.UpstreamOverflow);
        else if (kind === LocalReplyKind.ConnectionFailure) info.responseFlags.add(ResponseFlag.UpstreamConnectionFailure);
        else info.responseFlags.add(ResponseFlag.UpstreamConnectionTermination);
        cb.sendLocalReply(kind, `${config.protocol.name} upstream request: ${message}`);
      },
    });
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        cluster.stats.upstream_rq_timeout.inc();
        info.responseFlags.add(ResponseFlag.UpstreamRequestTimeout);
        handle.cancel();
        cb.sendLocalReply(LocalReplyKind.Timeout, `${config.protocol.name} upstream request: timeout after ${timeoutMs} ms`);
      }, timeoutMs);
    }
    cb.onReset(() => {
      if (timer) clearTimeout(timer);
      handle.cancel();
    });
    return RpcFilterStatus.StopIteration;
  }
}
