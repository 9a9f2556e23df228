/**
 * The RPC router filter (Envoy's envoy.filters.dubbo.router, MetaProtocol's router),
 * protocol-neutral: resolve the route, pick a host in the cluster, send through the cluster's
 * upstream mode, forward the response, or answer with the protocol's error on any failure.
 *
 * What a route may add (MetaProtocol's route features, and the two its users asked for and
 * never got, issues #30 and #37): a consistent-hash key, a per-request timeout, retries after
 * a connect failure, request and response mutations, and mirror clusters.
 *
 * Retries: only a failure to connect is retried (the request never reached a server, so a
 * retry cannot run it twice), on a freshly chosen host, counted in upstream_rq_retry. The
 * timeout covers the whole request, retries included, as Envoy's route timeout does.
 */
import type { HostRequestCounters, ThreadLocalCluster, ThreadLocalClusterManager } from '../../api/cluster.js';
import type { HostDescription } from '../../api/load-balancer.js';
import { LocalReplyKind, RpcResponseStatus, type RpcFrame, type RpcProtocol } from '../../api/rpc-protocol.js';
import { ResponseFlag } from '../../api/stream-info.js';
import { RpcFilterStatus, type RpcDecoderFilter, type RpcFilterCallbacks } from './rpc-filter.js';
import type { UpstreamRequestHandle } from './rpc-upstream.js';
import type { RpcUpstreamPools } from './upstream-registry.js';

/** One request's routing decision (made per request: weights and fractions are drawn). */
export interface RpcRoute {
  readonly cluster: string;
  /** For RING_HASH and MAGLEV clusters: a 32-bit hash of the route's hash_policy keys. */
  readonly hashKey?: number;
  /** The request's timeout, overriding the cluster's request_timeout; 0 = none. */
  readonly timeoutMs?: number;
  /** Attempts after the first when connecting fails. */
  readonly connectRetries?: number;
  /** Pairs added to the request's mutation before it is encoded (route request_mutation). */
  readonly requestMutation?: ReadonlyMap<string, string>;
  /** Pairs applied to the response before it goes downstream (route response_mutation). */
  readonly responseMutation?: ReadonlyMap<string, string>;
  /** Clusters that get a copy of the request; their responses are dropped. */
  readonly mirrorClusters?: readonly string[];
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

type Outcome = 'rq_success' | 'rq_error' | 'rq_timeout' | undefined;

/**
 * The cluster a request's route names, or undefined after answering the request: no route
 * (flag NR) or a cluster this worker does not know (NC). Records the cluster in the stream
 * info. The router and MetaProtocol's stream opener both start here.
 */
export function routedCluster<Req extends RpcFrame>(
  cb: RpcFilterCallbacks<Req>,
  route: RpcRoute | undefined,
  config: Pick<RpcRouterConfig<Req>, 'protocol' | 'clusterManager' | 'describe'>,
): ThreadLocalCluster | undefined {
  const name = config.protocol.name;
  const info = cb.streamInfo;
  if (!route) {
    info.responseFlags.add(ResponseFlag.NoRouteFound);
    cb.sendLocalReply(LocalReplyKind.NoRoute, `${name} router: no route for ${config.describe(cb.request)}`);
    return undefined;
  }
  info.upstreamCluster = route.cluster;
  const cluster = config.clusterManager.getThreadLocalCluster(route.cluster);
  if (!cluster) {
    info.responseFlags.add(ResponseFlag.NoClusterFound);
    cb.sendLocalReply(LocalReplyKind.UnknownCluster, `${name} router: unknown cluster '${route.cluster}'`);
  }
  return cluster;
}

/** The load balancer context for a route's hash key (none: pick as the policy does). */
export function lbContext(hashKey: number | undefined): { hashKey: number } | undefined {
  return hashKey === undefined ? undefined : { hashKey };
}

export class RpcRouterFilter<Req extends RpcFrame> implements RpcDecoderFilter<Req> {
  readonly #config: RpcRouterConfig<Req>;
  constructor(config: RpcRouterConfig<Req>) {
    this.#config = config;
  }

  onMessageDecoded(cb: RpcFilterCallbacks<Req>): RpcFilterStatus {
    const config = this.#config;
    const request = cb.request;
    const route = config.route(request);
    const cluster = routedCluster(cb, route, config);
    if (!route || !cluster) return RpcFilterStatus.StopIteration;
    if (route.requestMutation) for (const [k, v] of route.requestMutation) cb.mutation.set(k, v);
    const mutation = cb.peekMutation();
    if (mutation && mutation.size > 0) config.protocol.applyMutation?.(request, mutation);
    if (route.mirrorClusters) for (const mirror of route.mirrorClusters) this.#mirror(request, cb.oneway, mirror, route.hashKey);
    new UpstreamAttempts(config, cb, route, cluster).start();
    return RpcFilterStatus.StopIteration;
  }

  /** Sends a copy of `request` to `clusterName`, answer dropped (MetaProtocol's ShadowWriter). */
  #mirror(request: Req, oneway: boolean, clusterName: string, hashKey: number | undefined): void {
    const config = this.#config;
    const cluster = config.clusterManager.getThreadLocalCluster(clusterName);
    const copy = config.protocol.copyFrame?.(request);
    if (!cluster || !copy) return;
    const host = cluster.chooseHost(lbContext(hashKey));
    if (!host) return;
    cluster.stats.upstream_rq_total.inc();
    const ignore = (): void => {};
    config.pools.poolFor(cluster).send(copy, oneway, cluster.tcpConnPool(host), { onResponse: ignore, onFailure: ignore, onSent: ignore });
  }
}

/** One routed request's attempts at its cluster, and their shared accounting. */
class UpstreamAttempts<Req extends RpcFrame> {
  readonly #config: RpcRouterConfig<Req>;
  readonly #cb: RpcFilterCallbacks<Req>;
  readonly #route: RpcRoute;
  readonly #cluster: ThreadLocalCluster;
  #retriesLeft: number;
  #handle: UpstreamRequestHandle | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ended = false;
  /** The request holds a slot of the cluster's request budget and its upstream_rq_active. */
  #counted = false;
  /** The host of the attempt in flight: its rq_active is counted. */
  #hostStats: HostRequestCounters | undefined;

  constructor(config: RpcRouterConfig<Req>, cb: RpcFilterCallbacks<Req>, route: RpcRoute, cluster: ThreadLocalCluster) {
    this.#config = config;
    this.#cb = cb;
    this.#route = route;
    this.#cluster = cluster;
    this.#retriesLeft = route.connectRetries ?? 0;
  }

  start(): void {
    const config = this.#config;
    const cb = this.#cb;
    const cluster = this.#cluster;
    const name = config.protocol.name;
    const host = this.#chooseHost();
    if (!host) return;
    const budget = cluster.requestBudget;
    if (!budget.canCreate()) {
      this.#ended = true;
      cluster.stats.upstream_rq_pending_overflow.inc();
      cb.streamInfo.responseFlags.add(ResponseFlag.UpstreamOverflow);
      cb.sendLocalReply(LocalReplyKind.Overflow, `${name} upstream request: too many requests`);
      return;
    }
    budget.inc();
    this.#counted = true;
    cluster.stats.upstream_rq_total.inc();
    cluster.stats.upstream_rq_active.inc();
    const timeoutMs = cb.oneway ? 0 : (this.#route.timeoutMs ?? config.pools.options(cluster).requestTimeoutMs);
    if (timeoutMs > 0) this.#timer = setTimeout(() => this.#onTimeout(timeoutMs), timeoutMs);
    cb.onReset(() => {
      this.#end(undefined);
      this.#handle?.cancel();
    });
    this.#attempt(host);
  }

  /** A host from the cluster's load balancer, or a no_healthy_upstream reply and undefined. */
  #chooseHost(): HostDescription | undefined {
    const host = this.#cluster.chooseHost(lbContext(this.#route.hashKey));
    if (host) return host;
    this.#end('rq_error');
    this.#cb.streamInfo.responseFlags.add(ResponseFlag.NoHealthyUpstream);
    this.#cluster.stats.upstream_cx_none_healthy.inc();
    this.#cb.sendLocalReply(LocalReplyKind.NoHealthyUpstream, `${this.#config.protocol.name} router: no healthy upstream`);
    return undefined;
  }

  #attempt(host: HostDescription): void {
    const config = this.#config;
    const cb = this.#cb;
    const cluster = this.#cluster;
    const name = config.protocol.name;
    const info = cb.streamInfo;
    info.upstreamHost = host.address;
    const tcpPool = cluster.tcpConnPool(host);
    // The host's rq_* count attempts; cluster.<name>.upstream_rq_* count requests.
    const hostStats = tcpPool.hostStats;
    hostStats.rq_total++;
    hostStats.rq_active++;
    this.#hostStats = hostStats;
    this.#handle = config.pools.poolFor(cluster).send(cb.request, cb.oneway, tcpPool, {
      onSent: () => {
        if (!cb.oneway) return;
        this.#end('rq_success');
        cb.complete();
      },
      onResponse: (response) => {
        this.#end(response.responseStatus === RpcResponseStatus.Error ? 'rq_error' : 'rq_success');
        const mutation = this.#route.responseMutation;
        if (mutation && mutation.size > 0) config.protocol.applyMutation?.(response, mutation);
        cb.sendResponse(response);
      },
      onFailure: (kind, message) => {
        if (this.#ended) return;
        if (kind === LocalReplyKind.ConnectionFailure && this.#retriesLeft > 0) {
          this.#retriesLeft--;
          this.#releaseHost('rq_error');
          cluster.stats.upstream_rq_retry.inc();
          const next = this.#chooseHost();
          if (next) this.#attempt(next);
          return;
        }
        this.#end('rq_error');
        if (kind === LocalReplyKind.Overflow) info.responseFlags.add(ResponseFlag.UpstreamOverflow);
        else if (kind === LocalReplyKind.ConnectionFailure) info.responseFlags.add(ResponseFlag.UpstreamConnectionFailure);
        else info.responseFlags.add(ResponseFlag.UpstreamConnectionTermination);
        cb.sendLocalReply(kind, `${name} upstream request: ${message}`);
      },
    });
  }

  #onTimeout(timeoutMs: number): void {
    this.#timer = undefined;
    if (this.#ended) return;
    this.#end('rq_timeout');
    this.#cluster.stats.upstream_rq_timeout.inc();
    this.#cb.streamInfo.responseFlags.add(ResponseFlag.UpstreamRequestTimeout);
    this.#handle?.cancel();
    this.#cb.sendLocalReply(LocalReplyKind.Timeout, `${this.#config.protocol.name} upstream request: timeout after ${timeoutMs} ms`);
  }

  #releaseHost(outcome: Outcome): void {
    const h = this.#hostStats;
    if (!h) return;
    this.#hostStats = undefined;
    h.rq_active--;
    if (outcome) h[outcome]++;
  }

  #end(outcome: Outcome): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#counted) {
      this.#cluster.requestBudget.dec();
      this.#cluster.stats.upstream_rq_active.dec();
    }
    this.#releaseHost(outcome);
  }
}
