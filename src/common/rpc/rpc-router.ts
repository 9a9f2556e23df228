/**
 * The RPC router filter (Envoy's envoy.filters.dubbo.router), protocol-neutral: resolve the
 * route, pick a host in the cluster, send through the cluster's upstream mode, forward the
 * response, or answer with the protocol's error on any failure.
 */
import type { ThreadLocalClusterManager } from '../../api/cluster.js';
import { LocalReplyKind, RpcResponseStatus, type RpcFrame, type RpcProtocol } from '../../api/rpc-protocol.js';
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
    const budget = cluster.requestBudget;
    if (!budget.canCreate()) {
      cluster.stats.upstream_rq_pending_overflow.inc();
      info.responseFlags.add(ResponseFlag.UpstreamOverflow);
      cb.sendLocalReply(LocalReplyKind.Overflow, `${config.protocol.name} upstream request: too many requests`);
      return RpcFilterStatus.StopIteration;
    }
    budget.inc();
    const pool = config.pools.poolFor(cluster);
    const tcpPool = cluster.tcpConnPool(host);
    const timeoutMs = cb.oneway ? 0 : config.pools.options(cluster).requestTimeoutMs;
    // cluster.<name>.upstream_rq_* and the host's rq_* count requests, not connections.
    const hostStats = tcpPool.hostStats;
    cluster.stats.upstream_rq_total.inc();
    cluster.stats.upstream_rq_active.inc();
    hostStats.rq_total++;
    hostStats.rq_active++;
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const end = (outcome: 'rq_success' | 'rq_error' | 'rq_timeout' | undefined): void => {
      if (ended) return;
      ended = true;
      budget.dec();
      if (timer) clearTimeout(timer);
      cluster.stats.upstream_rq_active.dec();
      hostStats.rq_active--;
      if (outcome) hostStats[outcome]++;
    };
    const handle = pool.send(request, cb.oneway, tcpPool, {
      onSent: () => {
        if (!cb.oneway) return;
        end('rq_success');
        cb.complete();
      },
      onResponse: (response) => {
        end(response.responseStatus === RpcResponseStatus.Error ? 'rq_error' : 'rq_success');
        cb.sendResponse(response);
      },
      onFailure: (kind, message) => {
        end('rq_error');
        if (kind === LocalReplyKind.Overflow) info.responseFlags.add(ResponseFlag.UpstreamOverflow);
        else if (kind === LocalReplyKind.ConnectionFailure) info.responseFlags.add(ResponseFlag.UpstreamConnectionFailure);
        else info.responseFlags.add(ResponseFlag.UpstreamConnectionTermination);
        cb.sendLocalReply(kind, `${config.protocol.name} upstream request: ${message}`);
      },
    });
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        timer = undefined;
        end('rq_timeout');
        cluster.stats.upstream_rq_timeout.inc();
        info.responseFlags.add(ResponseFlag.UpstreamRequestTimeout);
        handle.cancel();
        cb.sendLocalReply(LocalReplyKind.Timeout, `${config.protocol.name} upstream request: timeout after ${timeoutMs} ms`);
      }, timeoutMs);
    }
    cb.onReset(() => {
      end(undefined);
      handle.cancel();
    });
    return RpcFilterStatus.StopIteration;
  }
}
