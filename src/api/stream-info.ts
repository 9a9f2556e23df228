/**
 * What one proxied connection (later: one request) did, read by access loggers.
 * Filled in by the filter that owns the stream; loggers only read it, at the end.
 */

/** Envoy's response flags, short form as printed by %RESPONSE_FLAGS%. */
export const ResponseFlag = {
  /** UF: upstream connection failure. */
  UpstreamConnectionFailure: 'UF',
  /** URX: upstream retry limit (or connect attempts) exceeded. */
  UpstreamRetryLimitExceeded: 'URX',
  /** UH: no healthy upstream host. */
  NoHealthyUpstream: 'UH',
  /** NC: no cluster found (named cluster unknown). */
  NoClusterFound: 'NC',
  /** UO: upstream overflow (circuit breaking). */
  UpstreamOverflow: 'UO',
  /** UT: upstream request timeout. */
  UpstreamRequestTimeout: 'UT',
  /** UC: upstream connection termination. */
  UpstreamConnectionTermination: 'UC',
  /** DC: downstream connection termination. */
  DownstreamConnectionTermination: 'DC',
  /** SI: stream idle timeout. */
  StreamIdleTimeout: 'SI',
  /** DT: a duration limit (max_downstream_connection_duration) was reached. */
  DurationTimeout: 'DT',
  /** NR: no route. */
  NoRouteFound: 'NR',
  /** RL: rate limited locally. */
  RateLimited: 'RL',
  /** UPE: the upstream's response was not valid for its protocol. */
  UpstreamProtocolError: 'UPE',
  /** OM: the overload manager refused the request (stop_accepting_requests). */
  OverloadManager: 'OM',
} as const;
export type ResponseFlagCode = (typeof ResponseFlag)[keyof typeof ResponseFlag];

/** Envoy's order for printing response flags, joined by commas. */
export const RESPONSE_FLAG_ORDER: readonly ResponseFlagCode[] = [
  'UH', 'UF', 'UO', 'NR', 'URX', 'NC', 'DT', 'DC', 'UC', 'UT', 'RL', 'SI', 'UPE', 'OM',
];

export interface StreamInfo {
  /** Wall-clock start, ms since the epoch. */
  readonly startTimeMs: number;
  /** Monotonic start (performance.now()), for durations. */
  readonly startMonoMs: number;
  /** Monotonic end, set when the stream completes; undefined while it runs. */
  endMonoMs: number | undefined;
  /** Bytes received from downstream. */
  bytesReceived: number;
  /** Bytes sent to downstream. */
  bytesSent: number;
  /**
   * "ip:port" of the client: the downstream peer, or for HTTP the address the connection
   * manager took from x-forwarded-for ("ip:0", as Envoy).
   */
  downstreamRemoteAddress: string;
  /** "ip:port" of the downstream peer, whatever x-forwarded-for says (unset: downstreamRemoteAddress). */
  readonly downstreamDirectRemoteAddress?: string;
  /** "ip:port" the downstream connection arrived on. */
  downstreamLocalAddress: string;
  /** "ip:port" of the chosen upstream host, when one was chosen. */
  upstreamHost: string | undefined;
  /** Local "ip:port" of the upstream connection, once connected. */
  upstreamLocalAddress: string | undefined;
  /** Name of the cluster chosen, when one was. */
  upstreamCluster: string | undefined;
  /** Response flags set so far (a set: each flag at most once). */
  readonly responseFlags: Set<ResponseFlagCode>;
  /** Free text explaining why the connection closed, if it was closed by the proxy. */
  connectionTerminationDetails: string | undefined;
  /** HTTP fields for later flows; absent for TCP. */
  protocol?: string;
  responseCode?: number;
  /**
   * A request header by lower-case name (":method", ":path", ":authority" too), several values
   * joined with ","; read by %REQ(X)%. RPC proxies give the request's string metadata here.
   */
  requestHeader?(name: string): string | undefined;
  /** A response header (or RPC response metadata) by lower-case name; read by %RESP(X)%. */
  responseHeader?(name: string): string | undefined;
}

/**
 * The one StreamInfo implementation (a class, not an object literal: V8 gave a per-request
 * literal one allocation site, pretenured it into the old generation under load, and the
 * closures hanging off it then kept every request's objects alive through scavenges). Proxies
 * with more to say extend it (the HTTP connection manager's adds the protocol, the response
 * code and header lookups).
 */
export class StreamInfoImpl implements StreamInfo {
  readonly startTimeMs = Date.now();
  readonly startMonoMs = performance.now();
  endMonoMs: number | undefined = undefined;
  bytesReceived = 0;
  bytesSent = 0;
  downstreamRemoteAddress: string;
  readonly downstreamDirectRemoteAddress: string;
  downstreamLocalAddress: string;
  upstreamHost: string | undefined = undefined;
  upstreamLocalAddress: string | undefined = undefined;
  upstreamCluster: string | undefined = undefined;
  connectionTerminationDetails: string | undefined = undefined;
  #responseFlags: Set<ResponseFlagCode> | undefined;

  constructor(downstreamRemote: string, downstreamLocal: string) {
    this.downstreamRemoteAddress = downstreamRemote;
    this.downstreamDirectRemoteAddress = downstreamRemote;
    this.downstreamLocalAddress = downstreamLocal;
  }

  /** Made on first use: most streams end without a flag. */
  get responseFlags(): Set<ResponseFlagCode> {
    return (this.#responseFlags ??= new Set());
  }
}

export function newStreamInfo(downstreamRemote: string, downstreamLocal: string): StreamInfo {
  return new StreamInfoImpl(downstreamRemote, downstreamLocal);
}
