/**
 * The HTTP connection manager (Envoy's envoy.filters.network.http_connection_manager) for
 * HTTP/1.1, as the terminal read filter of a downstream connection, with the router built in
 * (the only HTTP filter supported yet is envoy.filters.http.router).
 *
 * One connection, many requests, strictly one at a time:
 *
 *   bytes → Http1Parser.forRequests ─onHead→ ActiveStream: route (table read once)
 *                 ▲                              ├─ direct_response / redirect / no route → local reply
 *                 │ resume when the              └─ forward: UpstreamHttpPools.newStream → head, body →
 *                 │ stream is done                       ← response head, body (streamed) ← upstream
 *                 └─ onMessageComplete: pause while the response is still owed (pipelining)
 *
 * A stream is done when its request has been read to the end AND its response written to the
 * end; only then does the parser go on to the next pipelined request, so responses leave in
 * request order. Bodies are never buffered whole: each chunk is written as it comes, and each
 * side's full write buffer stops the other side's reads (watermarks), as in tcp_proxy.
 *
 * Errors: a request that does not parse is answered with the parser's status (400, 431, 414,
 * 501) and `connection: close`, then the connection closes (counted in
 * downstream_cx_protocol_error). Upstream failures become Envoy's local replies: 503 UH / UF /
 * UO / UC, 504 UT; after the response head was sent they can only reset (close) the connection.
 *
 * Upgrades (websocket): an `Upgrade` request whose type the HCM's upgrade_configs or the
 * route's enable (Envoy's table: a route's setting wins) goes upstream on a dedicated
 * connection with its Connection/Upgrade fields; every byte after its head is the tunnel's
 * and is forwarded as it comes. A 101 switches both sides to raw bytes: backpressure as for
 * bodies, a FIN passed on as a half-close, the stream done when both sides have ended (then
 * the access log). Any other answer is forwarded as a response and the connection closes (the
 * bytes after the request are not HTTP). A refused upgrade is a 403 (upgrade_failed) and a
 * close. Envoy counts downstream_cx_upgrades_total/active when an upgrade is allowed.
 *
 * stream_idle_timeout (route idle_timeout overrides it): one timer per connection, re-armed
 * lazily from the last activity of its stream; "stream timeout" (SI) before the response,
 * 504 if the request was read whole, else 408; after the response started, a reset (close).
 *
 * Connection timeouts (connection-timers.ts, one more timer per connection): a request head
 * that does not complete within request_headers_timeout (or stream_idle_timeout) gets 408 and
 * a close; no stream for idle_timeout closes the connection; max_connection_duration and
 * max_requests_per_connection make the stream in flight the last (`connection: close`).
 *
 * Before routing, in Envoy's order, each in its own module: headers_with_underscores_action
 * (underscore-headers.ts, on the parsed head), path normalisation (path-normalizer.ts), the
 * forwarding headers and the internal/external decision (forwarded-headers.ts), x-request-id
 * (request-id.ts); request_timeout is armed then. Every response gets its `server` header
 * (server-header.ts) and, if configured, x-request-id.
 *
 * HTTP/1.0 is refused with Envoy's codec error (426 on an HTTP/1.1 status line) unless
 * http_protocol_options.accept_http_10; then it is answered on HTTP/1.0 and the connection
 * closes after the response unless the request asked for keep-alive and the response has a
 * length.
 *
 * Retries (route retry_policy, plus x-envoy-retry-on / x-envoy-max-retries from the client):
 * a request whose body was read whole and fits RETRY_BUFFER_LIMIT is tried again, after a
 * jittered exponential back-off, on a connect failure, a reset before the response head, a
 * per-try timeout (as a 504) or a retriable status; the decision is taken on the status line,
 * and a retried response's body is dropped with its connection. The route timeout bounds all
 * tries; each retry holds one unit of the cluster's max_retries budget.
 */
import net from 'node:net';
import type { OverloadView } from '../../api/overload.js';
import { OverloadActionName } from '../../config/overload-config.js';
import { performance } from 'node:perf_hooks';
import type { ThreadLocalCluster, ThreadLocalClusterManager } from '../../api/cluster.js';
import { CloseType, ConnectionEvent } from '../../api/connection.js';
import type { AccessLogger } from '../../api/access-logger.js';
import { FilterStatus, type ReadFilter, type ReadFilterCallbacks } from '../../api/network-filter.js';
import { ResponseFlag, StreamInfoImpl, type ResponseFlagCode, type StreamInfo } from '../../api/stream-info.js';
import type { ConnectionImpl } from '../network/connection-impl.js';
import { RETRY_ON_CONDITIONS, type RetryOnCondition } from '../router/route-config.js';
import {
  applyHeaderMutations,
  type ForwardAction,
  type HeaderToAdd,
  type RouteAction,
  type RouteMatch,
  type RouteRequest,
  type RouteTable,
} from '../router/route-table.js';
import { formatParts } from '../access-log/substitution-format.js';
import { ConnectionTimers, type ConnectionTimerCallbacks, type HeadTimeoutKind } from './connection-timers.js';
import { HeaderList } from './header-list.js';
import type { HcmStats, Http1CodecStats } from './hcm-config.js';
import { Http1Parser, type Http1ParseError, type Http1RequestHead, type Http1ResponseHead } from './http1-parser.js';
import {
  CONTINUE_100,
  CRLF,
  encodeChunk,
  encodeChunkHeader,
  encodeLastChunk,
  encodeLocalReply,
  encodeRequestHead,
  encodeResponseHead,
} from './http1-encoder.js';
import { sanitizeTrailers } from './header-sanitizer.js';
import type { ForwardedHeaders } from './forwarded-headers.js';
import { normalizationNeeded, normalizeRequestPath, type PathNormalizationConfig } from './path-normalizer.js';
import { applyRequestId, requestIdForResponse, type RequestIdConfig } from './request-id.js';
import { applyServerHeader, serverFieldFor, type ServerHeaderConfig } from './server-header.js';
import { applyUnderscoreAction, type HeadersWithUnderscoresAction } from './underscore-headers.js';
import { statusClass, statusHasNoBody } from './http-status.js';
import type { UpstreamHttpPools, UpstreamHttpStream, UpstreamResetReason, UpstreamStreamCallbacks } from './upstream-http-pool.js';

/** The HCM's own settings, as the worker uses them. */
export interface HcmOptions {
  /** upgrade_configs: lower-case upgrade type → enabled. */
  readonly upgrades: ReadonlyMap<string, boolean>;
  readonly acceptHttp10: boolean;
  /** '' = none. */
  readonly defaultHostForHttp10: string;
  /** 0 = none. */
  readonly streamIdleTimeoutMs: number;
  /** request_headers_timeout; 0 = none. */
  readonly requestHeadersTimeoutMs: number;
  /** common_http_protocol_options.idle_timeout; 0 = none. */
  readonly idleTimeoutMs: number;
  /** common_http_protocol_options.max_connection_duration; 0 = none. */
  readonly maxConnectionDurationMs: number;
  /** common_http_protocol_options.max_requests_per_connection; 0 = no limit. */
  readonly maxRequestsPerConnection: number;
  /**
   * http_protocol_options.enable_trailers: forward trailers (sanitised) both ways. Envoy's
   * default, false, drops them: a trailer section an upstream might merge into the head
   * (a second Host or Content-Length) never reaches it.
   */
  readonly enableTrailers: boolean;
  /** http_protocol_options.allow_custom_methods: methods beyond Envoy's list are accepted. */
  readonly allowCustomMethods: boolean;
  /** common_http_protocol_options.max_headers_count. */
  readonly maxHeadersCount: number;
  /** max_request_headers_kb, in bytes. */
  readonly maxRequestHeaderBytes: number;
  readonly headersWithUnderscoresAction: HeadersWithUnderscoresAction;
  /** use_remote_address, xff_num_trusted_hops, skip_xff_append, internal_address_config. */
  readonly forwarding: ForwardedHeaders;
  readonly requestId: RequestIdConfig;
  readonly serverHeader: ServerHeaderConfig;
  readonly pathNormalization: PathNormalizationConfig;
  /** request_timeout; 0 = none. */
  readonly requestTimeoutMs: number;
  /** common_http_protocol_options.max_stream_duration; 0 = none. */
  readonly maxStreamDurationMs: number;
}

/** Shared by every connection of one filter chain on one worker. */
export interface HcmShared {
  readonly options: HcmOptions;
  readonly stats: HcmStats;
  /** http1.* (headers_with_underscores_action). */
  readonly codecStats: Http1CodecStats;
  /** The current route table; called once per request (a later RDS slot plugs in here). */
  routeTable(): RouteTable;
  readonly clusterManager: ThreadLocalClusterManager;
  readonly pools: UpstreamHttpPools;
  readonly accessLoggers: readonly AccessLogger[];
  /** Overload action states on this worker (stop_accepting_requests, disable_http_keepalive). */
  readonly overload: OverloadView;
}

/** Hop-by-hop fields (RFC 9110 §7.6.1) never forwarded; framing is re-derived per hop. */
const REQUEST_HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'expect']);
const RESPONSE_HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection']);
/** An upgrade keeps Connection and Upgrade both ways (Envoy forwards them verbatim). */
const UPGRADE_REQUEST_HOP_BY_HOP: ReadonlySet<string> = new Set(['keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'expect']);
const UPGRADE_RESPONSE_HOP_BY_HOP: ReadonlySet<string> = new Set(['keep-alive', 'proxy-connection']);

/** The defaults of a stream's retry state, shared (never modified). */
const NO_RETRY_ON: ReadonlySet<RetryOnCondition> = new Set();
const NO_STATUS_CODES: ReadonlySet<number> = new Set();

const EMPTY = Buffer.alloc(0);

/**
 * A header value with %OPERATOR%s (compiled once per route table), expanded against the
 * stream: Envoy's header formatter, where a value that is not available is ''.
 */
function expandHeaderValue(h: HeaderToAdd, info: StreamInfo): string {
  return h.parts === undefined ? h.format : formatParts(h.parts, info, '');
}

/** Body chunks below this size are framed into one copied Buffer; larger ones go as three writes. */
const SMALL_CHUNK = 4096;

/** Request body kept for replay on a retry; a longer body is not retried (Envoy's buffer limit). */
const RETRY_BUFFER_LIMIT = 64 * 1024;

/** Request headers that steer the router; consumed (and removed) before forwarding. */
const ROUTER_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'x-envoy-retry-on',
  'x-envoy-max-retries',
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms',
]);
/** What every name in ROUTER_REQUEST_HEADERS starts with: one scan tells whether any is there. */
const ROUTER_HEADER_PREFIX = 'x-envoy-';

/** A non-negative integer header value, else undefined. */
function headerInt(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  return /^\d{1,9}$/.test(t) ? Number(t) : undefined;
}

const RESET_PREFIX = 'upstream connect error or disconnect/reset before headers. reset reason: ';

let cachedDateSecond = -1;
let cachedDate = '';
/** The IMF-fixdate for the `date` header, computed once a second. */
function httpDate(): string {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  if (sec !== cachedDateSecond) {
    cachedDateSecond = sec;
    cachedDate = new Date(now).toUTCString();
  }
  return cachedDate;
}

/** "ip" of an "ip:port" or "[ip6]:port" address. */
function addressIp(address: string): string {
  if (address.startsWith('[')) {
    const end = address.indexOf(']');
    return end > 0 ? address.slice(1, end) : address;
  }
  const colon = address.lastIndexOf(':');
  return colon > 0 ? address.slice(0, colon) : address;
}

export class HttpConnectionManager implements ReadFilter, ConnectionTimerCallbacks {
  readonly #shared: HcmShared;
  #down!: ConnectionImpl;
  readonly #parser: Http1Parser<Http1RequestHead>;
  /** The request being answered; later pipelined requests wait in the paused parser. */
  #stream: ActiveStream | undefined;
  /**
   * The parser is paused because a response is still owed. The socket is read-disabled only
   * once the client sends more meanwhile (#pipelineReadDisabled): a client that waits for each
   * response, the common case, costs no pause and resume of the socket per request.
   */
  #pipelinePaused = false;
  #pipelineReadDisabled = false;
  /** The client's FIN arrived while paused: handled after what it sent before it is parsed. */
  #endDeferred = false;
  #peerEnded = false;
  #closed = false;
  /** The client's IP (x-forwarded-for), worked out once per connection. */
  #remoteIp: string | undefined;
  // The route timeout (Envoy's, from the end of the request): one timer per connection,
  // re-armed lazily like the idle timer, rather than a timer created and cleared per request.
  #routeTimer: NodeJS.Timeout | undefined;
  #routeFireAt = 0;
  /** performance.now() time the current stream's route timeout fires at; 0 = none. */
  #routeDeadline = 0;
  // stream_idle_timeout: one timer per connection, re-armed from the last activity.
  #idleTimer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (performance.now() time). */
  #idleFireAt = 0;
  /** The current stream's idle timeout; 0 = none. */
  #idleMs = 0;
  #lastActivity = 0;
  /** The head, idle and max-duration timeouts of the connection (one timer). */
  readonly #timers: ConnectionTimers;
  /** Request heads received so far (max_requests_per_connection). */
  #requests = 0;
  /**
   * max_connection_duration or max_requests_per_connection was reached: the stream in flight
   * answers with `connection: close` (if its head is not sent yet) and the connection closes
   * after it.
   */
  #closeAfterStream = false;

  constructor(shared: HcmShared) {
    this.#shared = shared;
    this.#timers = new ConnectionTimers(shared.options, this);
    this.#parser = Http1Parser.forRequests({
      onHead: (head) => {
        if (this.#closed) return;
        this.#timers.streamStarted();
        const underscores = applyUnderscoreAction(head.headers, shared.options.headersWithUnderscoresAction);
        if (underscores === 'reject') {
          // Envoy's codec refuses the request as a protocol error (400, then close).
          // Envoy's details: http1.unexpected_underscore (no stream exists to log it).
          shared.codecStats.requests_rejected_with_underscores_in_headers.inc();
          shared.stats.downstream_cx_protocol_error.inc();
          this.#parser.pause();
          this.#codecErrorReply(400);
          return;
        }
        if (underscores > 0) shared.codecStats.dropped_headers_with_underscores.inc(underscores);
        const maxRequests = shared.options.maxRequestsPerConnection;
        if (maxRequests > 0 && ++this.#requests >= maxRequests && !this.#closeAfterStream) {
          this.#closeAfterStream = true;
          shared.stats.downstream_cx_max_requests_reached.inc();
        }
        this.#stream = new ActiveStream(this, shared, this.#down, head);
        this.#stream.start();
      },
      onBody: (chunk) => this.#stream?.onRequestBody(chunk),
      onMessageComplete: (trailers) => {
        const stream = this.#stream;
        if (!stream) return;
        stream.onRequestComplete(trailers);
        if (this.#stream === stream && !this.#closed) {
          // The response is still owed: hold the next requests until it is written (the socket
          // stops being read when more arrives: see onData).
          this.#parser.pause();
          this.#pipelinePaused = true;
        }
      },
    }, {
      allowCustomMethods: shared.options.allowCustomMethods,
      maxHeaderCount: shared.options.maxHeadersCount,
      maxHeaderBytes: shared.options.maxRequestHeaderBytes,
    });
  }

  initializeReadFilterCallbacks(cb: ReadFilterCallbacks): void {
    this.#down = cb.connection as ConnectionImpl;
  }

  onNewConnection(): FilterStatus {
    const stats = this.#shared.stats;
    stats.downstream_cx_total.inc();
    stats.downstream_cx_active.inc();
    stats.downstream_cx_http1_total.inc();
    stats.downstream_cx_http1_active.inc();
    this.#down.setByteCounters(stats.downstream_cx_rx_bytes_total, stats.downstream_cx_tx_bytes_total);
    this.#timers.start(performance.now());
    this.#down.addCallbacks({
      onEvent: this.#onEvent,
      onAboveWriteBufferHighWatermark: () => this.#stream?.onDownstreamAboveHigh(),
      onBelowWriteBufferLowWatermark: () => this.#stream?.onDownstreamBelowLow(),
      // Draining: an idle keep-alive connection closes now; a busy one after its response,
      // which says `connection: close` (ActiveStream checks `draining`).
      onDrain: () => {
        if (this.#stream || this.#closed) return;
        this.#shared.stats.downstream_cx_drain_close.inc();
        this.close(CloseType.FlushWrite);
      },
    });
    return FilterStatus.StopIteration;
  }

  onData(data: Buffer, endStream: boolean): FilterStatus {
    if (this.#closed) return FilterStatus.StopIteration;
    if (this.#pipelinePaused) {
      // More from the client while a response is owed (pipelining): the parser holds it, and
      // the socket is not read again until the response is written, as if it had been
      // read-disabled from the request's end; a FIN is handled after the bytes before it.
      if (!this.#pipelineReadDisabled) {
        this.#pipelineReadDisabled = true;
        this.#down.readDisable(true);
      }
      if (data.length > 0) {
        const r = this.#parser.execute(data);
        if (!r.ok) {
          this.#protocolError(r);
          return FilterStatus.StopIteration;
        }
      }
      if (endStream) this.#endDeferred = true;
      return FilterStatus.StopIteration;
    }
    if (data.length > 0) {
      const r = this.#parser.execute(data);
      if (!r.ok) {
        this.#protocolError(r);
        return FilterStatus.StopIteration;
      }
      // A head that did not come whole in this read is timed (a whole one costs nothing here).
      if (this.#stream === undefined && !this.#closed && !this.#timers.headUnderWay && this.#parser.bufferedBytes > 0) {
        this.#timers.headStarted(performance.now());
      }
    }
    if (endStream) this.#onPeerEnd();
    return FilterStatus.StopIteration;
  }

  /** The client's FIN, once everything it sent before it has been parsed. */
  #onPeerEnd(): void {
    this.#peerEnded = true;
    const stream = this.#stream;
    if (stream && !stream.requestDone && stream.tunnelRequest) {
      // The client's FIN ends an upgrade request's payload: passed on as a half-close.
      const r = this.#parser.finish();
      if (!r.ok) this.#protocolError(r);
      return;
    }
    if (stream && !stream.requestDone) {
      // The client half-closed in the middle of a request: it cannot be completed.
      stream.resetByDownstream();
      this.close(CloseType.NoFlush);
    } else {
      this.#maybeCloseAfterPeerEnd();
    }
  }

  /** @internal A stream finished both ways: go on with the next pipelined request, or close. */
  streamDone(stream: ActiveStream, closeConnection: boolean): void {
    if (this.#stream !== stream) return;
    this.#stream = undefined;
    if (closeConnection || this.#closeAfterStream) {
      this.close(CloseType.FlushWrite);
      return;
    }
    if (this.#pipelinePaused) {
      this.#pipelinePaused = false;
      if (this.#pipelineReadDisabled) {
        this.#pipelineReadDisabled = false;
        this.#down.readDisable(false);
      }
      const r = this.#parser.resume();
      if (!r.ok) {
        this.#protocolError(r);
        return;
      }
      if (this.#endDeferred && !this.#pipelinePaused && !this.#closed) {
        this.#endDeferred = false;
        this.#onPeerEnd();
        return;
      }
    }
    if (this.#stream === undefined && !this.#closed) {
      // No stream now: the connection idles from the stream's end, or times the next head.
      if (this.#parser.bufferedBytes > 0) this.#timers.headStarted(performance.now());
      else this.#timers.streamsDone(stream.info.endMonoMs ?? performance.now());
    }
    this.#maybeCloseAfterPeerEnd();
  }

  /** @internal max_connection_duration / max_requests_per_connection: this stream is the last. */
  get closeAfterStream(): boolean {
    return this.#closeAfterStream;
  }

  /**
   * @internal A request head did not come whole in time (request_headers_timeout, or
   * stream_idle_timeout, which runs from a head's first byte as in Envoy): 408, then close.
   */
  onHeadTimeout(kind: HeadTimeoutKind): void {
    if (this.#stream !== undefined || this.#closed) return;
    const stats = this.#shared.stats;
    if (kind === 'request_headers_timeout') {
      stats.downstream_rq_header_timeout.inc();
      this.#replyAndClose(408, 'request header timeout');
    } else {
      stats.downstream_rq_idle_timeout.inc();
      this.#replyAndClose(408, 'stream timeout');
    }
  }

  /** @internal common_http_protocol_options.idle_timeout: no stream for that long. */
  onIdleTimeout(): void {
    if (this.#stream !== undefined || this.#closed) return;
    this.#shared.stats.downstream_cx_idle_timeout.inc();
    this.close(CloseType.FlushWrite);
  }

  /** @internal max_connection_duration: close now if idle, else after the stream in flight. */
  onMaxConnectionDuration(): void {
    if (this.#closed) return;
    this.#shared.stats.downstream_cx_max_duration_reached.inc();
    if (this.#stream === undefined) this.close(CloseType.FlushWrite);
    else this.#closeAfterStream = true;
  }

  /** A local reply outside any stream (the request head never completed), then close. */
  #replyAndClose(status: number, body: string): void {
    countResponseClass(this.#shared.stats, status);
    this.#down.write(encodeLocalReply({ statusCode: status, body, close: true, headers: ['date', httpDate(), ...serverFieldFor(this.#shared.options.serverHeader)] }), false);
    this.close(CloseType.FlushWrite);
  }

  /** @internal The connection's peer IP (forwarded-headers.ts works out the client from it). */
  get remoteIp(): string {
    return (this.#remoteIp ??= addressIp(this.#down.remoteAddress));
  }

  /**
   * @internal The current stream's route timeout runs out `ms` from now. The connection's one
   * timer is only re-created when it would fire too late; otherwise it re-checks when it fires.
   */
  armRouteTimer(ms: number): void {
    if (this.#closed) return;
    const now = performance.now();
    const deadline = now + ms;
    this.#routeDeadline = deadline;
    if (this.#routeTimer !== undefined) {
      if (this.#routeFireAt <= deadline) return;
      clearTimeout(this.#routeTimer);
    }
    this.#routeFireAt = deadline;
    this.#routeTimer = setTimeout(this.#onRouteTimer, ms);
  }

  /** @internal The current stream no longer has a route timeout (its timer is left to lapse). */
  disarmRouteTimer(): void {
    this.#routeDeadline = 0;
  }

  #onRouteTimer = (): void => {
    this.#routeTimer = undefined;
    const deadline = this.#routeDeadline;
    const stream = this.#stream;
    if (deadline === 0 || stream === undefined || this.#closed) return;
    const left = deadline - performance.now();
    if (left > 0) {
      // Armed for an earlier stream's deadline: wait for this one's (never fire early).
      this.#routeFireAt = deadline;
      this.#routeTimer = setTimeout(this.#onRouteTimer, Math.max(1, left));
      return;
    }
    this.#routeDeadline = 0;
    stream.onRouteTimeout();
  };

  /** @internal Activity on the current stream: stream_idle_timeout counts from the last one. */
  touch(): void {
    this.#lastActivity = performance.now();
  }

  /**
   * @internal The current stream's idle timeout is `ms` from now (0: none; `now` if the caller
   * has just read the clock). The timer is only re-created when it would fire too late;
   * otherwise it re-checks when it fires.
   */
  armIdleTimer(ms: number, now = performance.now()): void {
    this.#idleMs = ms;
    if (ms <= 0 || this.#closed) return;
    this.#lastActivity = now;
    const fireAt = now + ms;
    if (this.#idleTimer !== undefined) {
      if (this.#idleFireAt <= fireAt) return;
      clearTimeout(this.#idleTimer);
    }
    this.#idleFireAt = fireAt;
    this.#idleTimer = setTimeout(this.#onIdleTimer, ms);
  }

  #onIdleTimer = (): void => {
    this.#idleTimer = undefined;
    const stream = this.#stream;
    const ms = this.#idleMs;
    if (stream === undefined || ms <= 0 || this.#closed) return;
    const now = performance.now();
    const left = this.#lastActivity + ms - now;
    if (left >= 1) {
      this.#idleFireAt = now + left;
      this.#idleTimer = setTimeout(this.#onIdleTimer, left);
      return;
    }
    stream.onIdleTimeout();
  };

  #maybeCloseAfterPeerEnd(): void {
    if (this.#peerEnded && this.#stream === undefined && !this.#pipelinePaused) this.close(CloseType.FlushWrite);
  }

  /** A request did not parse: answer with the parser's status and close (Envoy's codec error). */
  #protocolError(err: Http1ParseError): void {
    this.#shared.stats.downstream_cx_protocol_error.inc();
    const stream = this.#stream;
    if (stream) {
      stream.failRequest(err);
      this.close(CloseType.FlushWrite);
    } else {
      this.#codecErrorReply(err.status);
    }
  }

  /**
   * A request the codec refused before it became a stream (the caller has counted
   * downstream_cx_protocol_error): `status` with "Bad Request", then close.
   */
  #codecErrorReply(status: number): void {
    const stats = this.#shared.stats;
    countResponseClass(stats, status);
    const headers = ['date', httpDate(), ...serverFieldFor(this.#shared.options.serverHeader)];
    this.#down.write(encodeLocalReply({ statusCode: status, body: 'Bad Request', close: true, headers }), false);
    this.close(CloseType.FlushWrite);
  }

  close(type: CloseType): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#down.close(type);
  }

  #onEvent = (event: ConnectionEvent): void => {
    if (event === ConnectionEvent.Connected) return;
    this.#closed = true;
    this.#timers.stop();
    if (this.#idleTimer !== undefined) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
    if (this.#routeTimer !== undefined) {
      clearTimeout(this.#routeTimer);
      this.#routeTimer = undefined;
    }
    const stats = this.#shared.stats;
    this.#stream?.resetByDownstream();
    this.#stream = undefined;
    stats.downstream_cx_active.dec();
    stats.downstream_cx_http1_active.dec();
    stats.downstream_cx_destroy.inc();
  };
}

function countResponseClass(stats: HcmStats, code: number): void {
  const cls = statusClass(code);
  if (cls) stats.byClass[cls].inc();
}

/**
 * A request's StreamInfo: newStreamInfo()'s fields and the HTTP ones, with the header lookups
 * for %REQ()% / %RESP()% as methods. A class rather than the object literal newStreamInfo()
 * returns, on purpose: V8 tracks an allocation site per literal, and that one also makes each
 * connection's long-lived StreamInfo, so V8 could decide to allocate it in the old generation
 * ("pretenure" it). A per-request info made there then kept everything its closures reached
 * alive through young-generation GCs: about 3 MB promoted per scavenge, a mark-compact every
 * few thousand requests, and twice the CPU per request (bench/http/hcm-bench.mjs). Objects made
 * with `new` have no allocation site, so nothing per request is ever pretenured.
 */
class HttpStreamInfo extends StreamInfoImpl {
  protocol: string;
  responseCode: number | undefined = undefined;
  readonly #stream: ActiveStream;

  constructor(stream: ActiveStream, downstreamRemote: string, downstreamLocal: string, protocol: string) {
    super(downstreamRemote, downstreamLocal);
    this.#stream = stream;
    this.protocol = protocol;
  }

  requestHeader(name: string): string | undefined {
    return this.#stream.requestHeaderForLog(name);
  }

  responseHeader(name: string): string | undefined {
    return this.#stream.responseHeaderForLog(name);
  }
}

/** What the route table reads of a request: one object per request, no closures. */
class HeaderRouteRequest implements RouteRequest {
  readonly authority: string;
  readonly path: string;
  readonly method: string;
  readonly #headers: HeaderList;

  constructor(authority: string, path: string, method: string, headers: HeaderList) {
    this.authority = authority;
    this.path = path;
    this.method = method;
    this.#headers = headers;
  }

  header(name: string): string | undefined {
    return this.#headers.get(name);
  }

  firstHeader(name: string): string | undefined {
    return this.#headers.first(name);
  }
}

/**
 * One request and its response (Envoy's ActiveStream plus its router filter). Owns the
 * request's StreamInfo, the upstream stream and the route timeout.
 */
class ActiveStream implements UpstreamStreamCallbacks {
  readonly #hcm: HttpConnectionManager;
  readonly #shared: HcmShared;
  readonly #down: ConnectionImpl;
  readonly #head: Http1RequestHead;
  readonly #headers: HeaderList;
  readonly info: StreamInfo;
  #authority = '';
  #path = '';
  #route: RouteMatch | undefined;
  #upstream: UpstreamHttpStream | undefined;
  /** This stream's route timeout is armed on the connection's timer. */
  #routeTimerArmed = false;
  /** Request read to the end (its body, if any, forwarded or discarded). */
  requestDone = false;
  #responseStarted = false;
  #responseDone = false;
  /** The connection closes after this response (request said so, or the framing needs it). */
  #closeAfter: boolean;
  #finished = false;
  /** Request body chunks are sent upstream chunk-framed. */
  #chunkedUp = false;
  /** Response body chunks are sent downstream chunk-framed. */
  #chunkedDown = false;
  #upstreamReadDisabled = false;
  #downstreamReadDisabled = false;
  #responseHeaders: HeaderList | undefined;
  // --- retries (Envoy's router retry state) ---
  #cluster: ThreadLocalCluster | undefined;
  /** The encoded request head, built once and sent on every try. */
  #requestHead: Buffer | undefined;
  #routeTimeoutMs = 0;
  #perTryTimeoutMs = 0;
  #retryOn: ReadonlySet<RetryOnCondition> = NO_RETRY_ON;
  #retriableCodes: ReadonlySet<number> = NO_STATUS_CODES;
  #retriesLeft = 0;
  #baseIntervalMs = 25;
  #maxIntervalMs = 250;
  /** Tries started so far. */
  #attempt = 0;
  /** The request body kept for replay; undefined when the request cannot be retried. */
  #replay: Buffer[] | undefined;
  #replayBytes = 0;
  #requestTrailers: string[] | undefined;
  #perTryTimer: NodeJS.Timeout | undefined;
  #backoffTimer: NodeJS.Timeout | undefined;
  /** This stream holds one unit of the cluster's max_retries budget. */
  #holdingRetry = false;
  // --- upgrades ---
  /** Every byte after this request's head is upgrade payload (Upgrade or CONNECT request). */
  readonly tunnelRequest: boolean;
  /** The upgrade was allowed: it holds downstream_cx_upgrades_active. */
  #upgradeAllowed = false;
  /** The upstream answered 101: raw bytes both ways until both sides have ended. */
  #tunnel = false;
  /**
   * A response head held back for the body that follows (a small content-length body, which
   * usually comes in the same read): written with it as one Buffer, one write, or at the end
   * of the read (onReadEnd).
   */
  #pendingHead: Buffer | undefined;
  /** HTTP minor version of the status lines written (1 for a refused HTTP/1.0, as Envoy). */
  #replyVersion: 0 | 1;
  /** The request path as sent upstream (after prefix_rewrite). */
  #upstreamPath = '';
  /** request_timeout, from the head until the request is read whole or the response starts. */
  #requestTimer: NodeJS.Timeout | undefined;
  /** max_stream_duration, from the head until the stream ends. */
  #durationTimer: NodeJS.Timeout | undefined;

  constructor(hcm: HttpConnectionManager, shared: HcmShared, down: ConnectionImpl, head: Http1RequestHead) {
    this.#hcm = hcm;
    this.#shared = shared;
    this.#down = down;
    this.#head = head;
    this.#headers = new HeaderList(head.headers);
    this.#closeAfter = !head.keepAlive;
    this.tunnelRequest = head.bodyKind === 'tunnel';
    this.#replyVersion = head.versionMinor;
    this.info = new HttpStreamInfo(this, down.remoteAddress, down.localAddress, head.versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0');
    const stats = shared.stats;
    stats.downstream_rq_total.inc();
    stats.downstream_rq_http1_total.inc();
    stats.downstream_rq_active.inc();
    stats.rq_total.inc();
  }

  /** @internal %REQ(name)% */
  requestHeaderForLog(name: string): string | undefined {
    switch (name) {
      case ':method':
        return this.#head.method;
      case ':path':
        return this.#path || this.#head.path;
      case ':authority':
        return this.#authority || undefined;
      default:
        return this.#headers.get(name);
    }
  }

  /** @internal %RESP(name)% */
  responseHeaderForLog(name: string): string | undefined {
    return this.#responseHeaders?.get(name);
  }

  start(): void {
    const head = this.#head;
    const headers = this.#headers;
    const options = this.#shared.options;
    this.#hcm.armIdleTimer(options.streamIdleTimeoutMs, this.info.startMonoMs); // the stream starts now
    if (head.versionMinor === 0 && !options.acceptHttp10) {
      // Envoy's codec refuses HTTP/1.0 unless http_protocol_options.accept_http_10: a protocol
      // error (low_version) answered "Upgrade Required" on an HTTP/1.1 status line, then close.
      this.#shared.stats.downstream_cx_protocol_error.inc();
      this.#replyVersion = 1;
      this.#localReply(426, 'Upgrade Required', undefined, true);
      return;
    }
    if (this.#shared.overload.shouldShed(OverloadActionName.StopAcceptingRequests)) {
      // Envoy drops the request as soon as its headers are decoded, before any routing.
      this.#shared.stats.downstream_rq_overload_close.inc();
      this.info.responseFlags.add(ResponseFlag.OverloadManager);
      this.#localReply(503, 'envoy overloaded');
      return;
    }
    if (head.upgrade && head.method === 'CONNECT') {
      // CONNECT needs upgrade_configs CONNECT and connect_matcher, which Courier does not have yet.
      this.#localReply(403, '', undefined, true);
      return;
    }
    this.#authority = headers.first('host') ?? '';
    this.#path = head.path;
    if (this.#path.startsWith('http://') || this.#path.startsWith('https://')) {
      // absolute-form (RFC 9112 §3.2.2): the target's authority wins over Host.
      try {
        const url = new URL(this.#path);
        this.#authority = url.host;
        this.#path = url.pathname + url.search;
        headers.set('host', url.host);
      } catch {
        /* the parser accepted it; route it as sent */
      }
    }
    if (this.#authority === '' && head.versionMinor === 0 && options.defaultHostForHttp10 !== '') {
      this.#authority = options.defaultHostForHttp10;
      headers.set('host', this.#authority);
    }
    if (this.#authority === '') {
      // HTTP/1.1 requires Host (RFC 9112 §3.2); Envoy answers 400 (missing_host_header).
      this.#localReply(400, 'missing host header', undefined, true);
      return;
    }
    const stats = this.#shared.stats;
    // Envoy's order: the path is normalised first (path-normalizer.ts), then the forwarding
    // headers and x-request-id are worked out (forwarded-headers.ts, request-id.ts), then routing.
    if (normalizationNeeded(this.#path, options.pathNormalization) && !this.#normalizePath()) return;
    const table = this.#shared.routeTable();
    const client = options.forwarding.apply(headers, this.#hcm.remoteIp, 'http', table.internalOnlyHeaders);
    if (client.fromXff) this.info.downstreamRemoteAddress = net.isIPv6(client.remoteIp) ? `[${client.remoteIp}]:0` : `${client.remoteIp}:0`;
    applyRequestId(headers, options.requestId, client.edge);
    if (options.requestTimeoutMs > 0) this.#requestTimer = setTimeout(this.#onRequestTimeout, options.requestTimeoutMs);
    if (options.maxStreamDurationMs > 0) this.#durationTimer = setTimeout(this.#onMaxStreamDuration, options.maxStreamDurationMs);
    const match = table.match(new HeaderRouteRequest(this.#authority, this.#path, head.method, headers), Math.random());
    if (!match) {
      stats.no_route.inc();
      this.info.responseFlags.add(ResponseFlag.NoRouteFound);
      this.#localReply(404, '');
      return;
    }
    this.#route = match;
    const action = match.action;
    if (head.upgrade) {
      if (!this.#isUpgradeAllowed(action)) {
        // Envoy: 403 (upgrade_failed), and no further request on this connection.
        stats.downstream_rq_ws_on_non_ws_route.inc();
        this.#localReply(403, '', undefined, true);
        return;
      }
      stats.downstream_cx_upgrades_total.inc();
      stats.downstream_cx_upgrades_active.inc();
      this.#upgradeAllowed = true;
    }
    if (action.kind === 'route' && action.idleTimeoutMs !== undefined) this.#hcm.armIdleTimer(action.idleTimeoutMs);
    if (action.kind === 'direct_response') {
      stats.rq_direct_response.inc();
      const extra = new HeaderList([]);
      this.info.responseCode = action.status;
      applyHeaderMutations(match.responseHeaderMutations, extra, expandHeaderValue, this.info);
      this.#localReply(action.status, action.body ?? '', extra.flat);
      return;
    }
    if (action.kind === 'redirect') {
      stats.rq_redirect.inc();
      const scheme = headers.first('x-forwarded-proto') ?? 'http';
      this.#localReply(action.responseCode, '', ['location', match.route.redirectUrl(this.#authority, this.#path, scheme)]);
      return;
    }
    this.#setupRetries(action);
    this.info.upstreamCluster = match.cluster || undefined;
    const cluster = match.cluster === '' ? undefined : this.#shared.clusterManager.getThreadLocalCluster(match.cluster);
    if (!cluster) {
      stats.no_cluster.inc();
      this.info.responseFlags.add(ResponseFlag.NoClusterFound);
      this.#localReply(action.clusterNotFoundResponseCode, '');
      return;
    }
    this.#cluster = cluster;
    this.#prepareUpstreamRequest(match);
    if (!this.#startTry()) return;
    if (head.expectContinue && !head.upgrade) {
      // Envoy's default (proxy_100_continue false): answer 100 Continue here, strip Expect.
      this.#down.write(CONTINUE_100, false);
    }
  }

  /**
   * normalize_path, merge_slashes and path_with_escaped_slashes_action on this request's path.
   * False when the request was answered instead (400, or a 307 to the normalised path).
   */
  #normalizePath(): boolean {
    const result = normalizeRequestPath(this.#path, this.#shared.options.pathNormalization);
    const stats = this.#shared.stats;
    // gRPC clients do not follow redirects: Envoy refuses them instead.
    if (result.action === 'reject' || (result.action === 'redirect' && (this.#headers.first('content-type') ?? '').startsWith('application/grpc'))) {
      stats.downstream_rq_failed_path_normalization.inc();
      this.#localReply(400, '');
      return false;
    }
    if (result.action === 'redirect') {
      stats.downstream_rq_redirected_with_normalized_path.inc();
      this.#localReply(307, '', ['location', result.path]);
      return false;
    }
    this.#path = result.path;
    return true;
  }

  /** request_timeout: the whole request was not received in time (Envoy's onRequestTimeout). */
  #onRequestTimeout = (): void => {
    this.#requestTimer = undefined;
    if (this.requestDone || this.#responseStarted || this.#responseDone || this.#finished) return;
    this.#shared.stats.downstream_rq_timeout.inc();
    this.#timeOut(408, 'request timeout');
  };

  /** common_http_protocol_options.max_stream_duration (Envoy's onStreamMaxDurationReached). */
  #onMaxStreamDuration = (): void => {
    this.#durationTimer = undefined;
    if (this.#finished) return;
    this.#shared.stats.downstream_rq_max_duration_reached.inc();
    this.#timeOut(408, 'downstream duration timeout');
  };

  #clearRequestTimer(): void {
    if (this.#requestTimer === undefined) return;
    clearTimeout(this.#requestTimer);
    this.#requestTimer = undefined;
  }

  /**
   * Envoy's HttpConnectionManagerConfig::createUpgradeFilterChain: the route's upgrade_configs
   * entry for the type decides when there is one (false refuses, true allows); otherwise the
   * HCM's must list the type as enabled. Types match without case.
   */
  #isUpgradeAllowed(action: RouteAction): boolean {
    const type = (this.#headers.first('upgrade') ?? '').toLowerCase();
    if (action.kind === 'route') {
      const onRoute = action.upgrades.get(type);
      if (onRoute !== undefined) return onRoute;
    }
    return this.#shared.options.upgrades.get(type) === true;
  }

  /**
   * The route's retry policy and timeouts, merged with the request's x-envoy-retry-on,
   * x-envoy-max-retries, x-envoy-upstream-rq-timeout-ms and
   * x-envoy-upstream-rq-per-try-timeout-ms (Envoy honours them from non-edge clients), which
   * are then removed.
   */
  #setupRetries(action: ForwardAction): void {
    const headers = this.#headers;
    const policy = action.retryPolicy;
    this.#retryOn = policy.retryOn;
    this.#retriableCodes = policy.retriableStatusCodes;
    this.#retriesLeft = policy.numRetries;
    this.#baseIntervalMs = policy.baseIntervalMs;
    this.#maxIntervalMs = policy.maxIntervalMs;
    this.#routeTimeoutMs = action.timeoutMs;
    this.#perTryTimeoutMs = policy.perTryTimeoutMs;
    // Most requests carry none of these: one scan for the prefix instead of eight.
    if (headers.hasNamePrefix(ROUTER_HEADER_PREFIX)) {
      const onHeader = headers.get('x-envoy-retry-on');
      if (onHeader !== undefined) {
        const retryOn = new Set(policy.retryOn);
        for (const part of onHeader.split(',')) {
          const name = part.trim();
          if ((RETRY_ON_CONDITIONS as readonly string[]).includes(name)) retryOn.add(name as RetryOnCondition);
        }
        this.#retryOn = retryOn;
      }
      this.#retriesLeft = headerInt(headers.get('x-envoy-max-retries')) ?? policy.numRetries;
      this.#routeTimeoutMs = headerInt(headers.get('x-envoy-upstream-rq-timeout-ms')) ?? action.timeoutMs;
      this.#perTryTimeoutMs = headerInt(headers.get('x-envoy-upstream-rq-per-try-timeout-ms')) ?? policy.perTryTimeoutMs;
      headers.removeAll(ROUTER_REQUEST_HEADERS);
    }
    const retryOn = this.#retryOn;
    // An upgrade's payload is a stream, never replayed: upgrades are not retried.
    if (retryOn.size > 0 && this.#retriesLeft > 0 && !this.tunnelRequest) this.#replay = [];
  }

  /** Starts one try (the first, or a retry with the buffered body). False if it ended the stream. */
  #startTry(): boolean {
    const cluster = this.#cluster;
    const match = this.#route;
    if (!cluster || !match) return false;
    this.#attempt++;
    const host = cluster.chooseHost(undefined);
    if (!host) {
      cluster.stats.upstream_cx_none_healthy.inc();
      this.info.responseFlags.add(ResponseFlag.NoHealthyUpstream);
      this.#localReply(503, 'no healthy upstream', this.#attemptCountHeader());
      return false;
    }
    this.info.upstreamHost = host.address;
    const upstream = this.#shared.pools.newStream(cluster, host, this.#head.method, this, this.#upgradeAllowed);
    if (!upstream) {
      this.info.responseFlags.add(ResponseFlag.UpstreamOverflow);
      this.#localReply(503, RESET_PREFIX + 'overflow', this.#attemptCountHeader());
      return false;
    }
    this.#upstream = upstream;
    this.#upstreamReadDisabled = false;
    // A first try of a request that is all head writes nothing more in this tick: no need to
    // wait for the tick's end to coalesce (a retry replays its body right after).
    upstream.write(this.#encodeRequestHead(match), !this.requestDone && this.#head.bodyKind === 'none');
    if (this.requestDone) {
      // A retry: replay the whole buffered request.
      const body = Buffer.concat(this.#replay ?? []);
      if (this.#chunkedUp) {
        if (body.length > 0) upstream.write(encodeChunk(body));
        upstream.write(encodeLastChunk(this.#requestTrailers));
      } else if (body.length > 0) {
        upstream.write(body);
      }
      upstream.endRequest();
      this.#startPerTryTimer();
    }
    return true;
  }

  #counter(suffix: string) {
    return this.#shared.pools.codeCounter(this.#cluster?.name ?? '', suffix);
  }

  #startPerTryTimer(): void {
    if (this.#perTryTimeoutMs > 0 && !this.#perTryTimer) this.#perTryTimer = setTimeout(this.#onPerTryTimeout, this.#perTryTimeoutMs);
  }

  #clearPerTryTimer(): void {
    if (this.#perTryTimer) {
      clearTimeout(this.#perTryTimer);
      this.#perTryTimer = undefined;
    }
  }

  #clearRetryTimers(): void {
    this.#clearPerTryTimer();
    if (this.#backoffTimer) {
      clearTimeout(this.#backoffTimer);
      this.#backoffTimer = undefined;
    }
  }

  #releaseRetryBudget(): void {
    if (!this.#holdingRetry) return;
    this.#holdingRetry = false;
    this.#cluster?.retryBudget.dec();
  }

  /** retry_on for a response status (a per-try timeout counts as 504, as in Envoy). */
  #wantsRetryOnStatus(code: number): boolean {
    const on = this.#retryOn;
    return (
      (on.has('5xx') && code >= 500 && code <= 599) ||
      (on.has('gateway-error') && code >= 502 && code <= 504) ||
      (on.has('retriable-status-codes') && this.#retriableCodes.has(code))
    );
  }

  /** retry_on for a reset before the response head (Envoy counts resets as 5xx). */
  #wantsRetryOnReset(reason: UpstreamResetReason): boolean {
    if (reason === 'overflow') return false;
    const on = this.#retryOn;
    if (on.has('reset') || on.has('5xx') || on.has('gateway-error')) return true;
    return reason === 'connection_failure' && on.has('connect-failure');
  }

  /**
   * A try failed in a way the policy may retry (`wanted`): schedules the retry after Envoy's
   * jittered back-off and returns true, or returns false (the failure goes to the client).
   */
  #maybeRetry(wanted: boolean): boolean {
    this.#releaseRetryBudget();
    if (!wanted) return false;
    if (this.#replay === undefined || !this.requestDone || this.#responseStarted || this.#responseDone) return false;
    if (this.#retriesLeft <= 0) {
      this.info.responseFlags.add(ResponseFlag.UpstreamRetryLimitExceeded);
      this.#counter('retry_limit_exceeded').inc();
      return false;
    }
    const cluster = this.#cluster;
    if (!cluster) return false;
    if (!cluster.retryBudget.canCreate()) {
      this.#counter('retry_overflow').inc();
      return false;
    }
    cluster.retryBudget.inc();
    this.#holdingRetry = true;
    this.#retriesLeft--;
    this.#counter('retry').inc();
    // Envoy's back-off: random in [0, min(base * 2^(n-1), max)) for the n-th retry.
    const ceiling = Math.min(this.#baseIntervalMs * 2 ** (this.#attempt - 1), this.#maxIntervalMs);
    this.#backoffTimer = setTimeout(this.#onBackoff, Math.floor(Math.random() * ceiling));
    return true;
  }

  #onBackoff = (): void => {
    this.#backoffTimer = undefined;
    if (this.#responseDone || this.#finished) return;
    this.#startTry();
  };

  #onPerTryTimeout = (): void => {
    this.#perTryTimer = undefined;
    const up = this.#upstream;
    if (this.#responseDone || this.#responseStarted || !up) return;
    this.#counter('per_try_timeout').inc();
    up.timeout(false);
    this.#upstream = undefined;
    if (this.#maybeRetry(this.#wantsRetryOnStatus(504))) return;
    this.info.responseFlags.add(ResponseFlag.UpstreamRequestTimeout);
    this.#upstreamReset(504, 'upstream request timeout');
  };

  /**
   * The request as it goes upstream, once per request (Envoy's finalizeRequestHeaders, before
   * a host is chosen, so %UPSTREAM_REMOTE_ADDRESS% is '' in request headers as in Envoy):
   * hop-by-hop fields out (an upgrade keeps Connection and Upgrade), rewrites and header
   * mutations in (the forwarding fields were set in start()).
   */
  #prepareUpstreamRequest(match: RouteMatch): void {
    const head = this.#head;
    const headers = this.#headers;
    headers.removeAll(head.upgrade ? UPGRADE_REQUEST_HOP_BY_HOP : REQUEST_HOP_BY_HOP);
    if (match.hostRewrite !== undefined) headers.set('host', match.hostRewrite);
    const action = match.action;
    this.#upstreamPath = (action.kind === 'route' ? match.route.rewritePath(this.#path) : undefined) ?? this.#path;
    // Most routes have none (the table leaves empty levels out): skip the call and its loops.
    if (match.requestHeaderMutations.length > 0) applyHeaderMutations(match.requestHeaderMutations, headers, expandHeaderValue, this.info);
    if (head.bodyKind === 'chunked') {
      headers.append('transfer-encoding', 'chunked');
      this.#chunkedUp = true;
    }
  }

  /**
   * The encoded head for this try: built once, or once per try with the virtual host's
   * include_request_attempt_count (x-envoy-attempt-count, 1 for the first try).
   */
  #encodeRequestHead(match: RouteMatch): Buffer {
    if (match.virtualHost.includeAttemptCountInRequest) {
      this.#headers.set('x-envoy-attempt-count', String(this.#attempt));
      return encodeRequestHead(this.#head.method, this.#upstreamPath, this.#headers.flat, 1);
    }
    return (this.#requestHead ??= encodeRequestHead(this.#head.method, this.#upstreamPath, this.#headers.flat, 1));
  }

  /** include_attempt_count_in_response: the field for a router reply, once a try started. */
  #attemptCountHeader(): string[] | undefined {
    return this.#attempt > 0 && this.#route?.virtualHost.includeAttemptCountInResponse ? ['x-envoy-attempt-count', String(this.#attempt)] : undefined;
  }

  onRequestBody(chunk: Buffer): void {
    this.info.bytesReceived += chunk.length;
    this.#hcm.touch();
    if (this.#replay) {
      if (this.#replayBytes + chunk.length <= RETRY_BUFFER_LIMIT) {
        this.#replay.push(Buffer.from(chunk));
        this.#replayBytes += chunk.length;
      } else {
        this.#replay = undefined; // too long to replay: this request is not retried
      }
    }
    const up = this.#upstream;
    // After a local reply the body is read and dropped; a tunnel goes on after the upstream's FIN.
    if (!up || (this.#responseDone && !this.#tunnel)) return;
    if (this.#chunkedUp) {
      if (chunk.length < SMALL_CHUNK) {
        up.write(encodeChunk(chunk));
      } else {
        up.write(encodeChunkHeader(chunk.length));
        up.write(chunk);
        up.write(CRLF);
      }
    } else {
      up.write(chunk);
    }
  }

  /** Trailers go on, sanitised, only with http_protocol_options.enable_trailers (Envoy's default drops them). */
  #trailersToForward(received: string[] | undefined): string[] | undefined {
    return this.#shared.options.enableTrailers ? sanitizeTrailers(received) : undefined;
  }

  onRequestComplete(received: string[] | undefined): void {
    this.requestDone = true;
    this.#clearRequestTimer();
    const trailers = this.#trailersToForward(received);
    this.#requestTrailers = trailers;
    const up = this.#upstream;
    if (up && this.#tunnel) {
      up.endRequest(); // the client's FIN, passed on
    } else if (up && !this.#responseDone) {
      if (this.#chunkedUp) up.write(encodeLastChunk(trailers));
      up.endRequest();
      // Envoy's route timeout runs from the end of the downstream request and bounds every try.
      if (this.#routeTimeoutMs > 0) {
        this.#hcm.armRouteTimer(this.#routeTimeoutMs);
        this.#routeTimerArmed = true;
      }
      if (!this.#responseStarted) this.#startPerTryTimer();
    }
    this.#maybeFinish();
  }

  /** @internal The route timeout ran out (the connection's timer, armed for this stream). */
  onRouteTimeout(): void {
    this.#routeTimerArmed = false;
    if (this.#responseDone) return;
    this.info.responseFlags.add(ResponseFlag.UpstreamRequestTimeout);
    this.#upstream?.timeout();
    this.#upstream = undefined;
    this.#upstreamReset(504, 'upstream request timeout');
  }

  #disarmRouteTimer(): void {
    if (!this.#routeTimerArmed) return;
    this.#routeTimerArmed = false;
    this.#hcm.disarmRouteTimer();
  }

  // --- upstream callbacks --------------------------------------------------------------------

  onResponseHead(head: Http1ResponseHead): void {
    if (this.#responseDone) return;
    this.#clearPerTryTimer();
    if (this.#maybeRetry(this.#wantsRetryOnStatus(head.statusCode))) {
      // Decided on the status line: this response's body is discarded with its connection.
      const up = this.#upstream;
      this.#upstream = undefined;
      up?.reset();
      return;
    }
    if (this.#attempt > 1 && !this.info.responseFlags.has(ResponseFlag.UpstreamRetryLimitExceeded)) this.#counter('retry_success').inc();
    this.#responseStarted = true;
    this.#clearRequestTimer();
    this.#hcm.touch();
    const req = this.#head;
    this.info.responseCode = head.statusCode;
    this.info.upstreamLocalAddress = this.#upstream?.upstreamLocalAddress;
    const headers = new HeaderList(head.headers);
    this.#responseHeaders = headers;
    // The pool passes a 101 only for an upgrade request it gave a dedicated connection.
    const switching = head.upgrade && this.#upgradeAllowed;
    if (switching) {
      // Switching protocols: from the next byte on, raw both ways; no route timeout applies.
      this.#tunnel = true;
      this.#disarmRouteTimer();
      headers.removeAll(UPGRADE_RESPONSE_HOP_BY_HOP);
    } else {
      headers.removeAll(RESPONSE_HOP_BY_HOP);
    }
    if (switching) {
      // No framing: what follows the head is the other protocol's.
    } else if (head.bodyKind === 'chunked' || head.bodyKind === 'until-close') {
      headers.remove('transfer-encoding');
      if (req.versionMinor === 1) {
        headers.append('transfer-encoding', 'chunked');
        this.#chunkedDown = true;
      } else {
        this.#closeAfter = true; // HTTP/1.0: the body ends with the connection
      }
    } else if (head.bodyKind === 'none' && !headers.has('content-length') && !statusHasNoBody(head.statusCode) && req.method !== 'HEAD') {
      headers.append('content-length', '0');
    }
    const route = this.#route;
    if (route) {
      if (route.responseHeaderMutations.length > 0) applyHeaderMutations(route.responseHeaderMutations, headers, expandHeaderValue, this.info);
      if (route.virtualHost.includeAttemptCountInResponse) headers.set('x-envoy-attempt-count', String(this.#attempt));
    }
    this.#finalizeResponseHeaders(headers);
    if (!headers.has('date')) headers.append('date', httpDate());
    if (!switching) this.#appendConnectionHeader(headers);
    const encoded = encodeResponseHead(head.statusCode, headers.flat, undefined, this.#replyVersion);
    if (head.bodyKind === 'length' && head.contentLength !== null && head.contentLength < SMALL_CHUNK) {
      this.#pendingHead = encoded; // sent with the body, or at the end of this read
    } else {
      // Coalesced with the body written in the same tick: one writev for head + body.
      this.#down.writeCoalesced(encoded);
    }
  }

  onReadEnd(): void {
    this.#flushPendingHead();
  }

  #flushPendingHead(): void {
    const pending = this.#pendingHead;
    if (pending === undefined) return;
    this.#pendingHead = undefined;
    this.#down.writeCoalesced(pending);
  }

  onResponseBody(chunk: Buffer): void {
    if (this.#responseDone) return;
    this.info.bytesSent += chunk.length;
    this.#hcm.touch();
    const down = this.#down;
    const pending = this.#pendingHead;
    if (pending !== undefined) {
      // The head held back and (the first part of) its small body: one Buffer, written now.
      this.#pendingHead = undefined;
      const both = Buffer.allocUnsafe(pending.length + chunk.length);
      pending.copy(both, 0);
      chunk.copy(both, pending.length);
      down.write(both, false);
    } else if (!this.#chunkedDown) {
      down.writeCoalesced(chunk);
    } else if (chunk.length < SMALL_CHUNK) {
      down.writeCoalesced(encodeChunk(chunk));
    } else {
      down.socket.cork();
      down.write(encodeChunkHeader(chunk.length), false);
      down.write(chunk, false);
      down.write(CRLF, false);
      down.socket.uncork();
    }
  }

  onResponseComplete(trailers: string[] | undefined): void {
    if (this.#responseDone) return;
    if (this.#tunnel) {
      // The upstream's FIN: passed on as a half-close; the client may still be sending.
      this.#down.write(EMPTY, true);
      this.#endResponse();
      return;
    }
    this.#flushPendingHead();
    if (this.#chunkedDown) {
      this.#down.writeCoalesced(encodeLastChunk(this.#trailersToForward(trailers)));
    }
    // Answered before the whole request was sent: that upstream connection cannot be reused
    // (reset closes it); the rest of the request body is read and dropped.
    if (!this.requestDone) this.#upstream?.reset();
    this.#upstream = undefined;
    this.#endResponse();
  }

  onReset(reason: UpstreamResetReason, details: string): void {
    this.#upstream = undefined;
    if (this.#tunnel && !this.#finished) {
      // A tunnel's upstream closed without a FIN, or failed: close the client too.
      this.info.responseFlags.add(ResponseFlag.UpstreamConnectionTermination);
      this.#upstreamReset(503, '', details);
      return;
    }
    if (this.#responseDone) return;
    this.#clearPerTryTimer();
    if (!this.#responseStarted && this.#maybeRetry(this.#wantsRetryOnReset(reason))) return;
    switch (reason) {
      case 'overflow':
        this.info.responseFlags.add(ResponseFlag.UpstreamOverflow);
        this.#upstreamReset(503, RESET_PREFIX + 'overflow');
        return;
      case 'connection_failure':
        this.info.responseFlags.add(ResponseFlag.UpstreamConnectionFailure);
        this.#upstreamReset(503, RESET_PREFIX + 'connection failure', details);
        return;
      case 'protocol_error':
        // Envoy answers an invalid upstream response 502 UPE (503 UC before 1.18).
        this.info.responseFlags.add(ResponseFlag.UpstreamProtocolError);
        this.#upstreamReset(502, RESET_PREFIX + 'protocol error', details);
        return;
      default:
        this.info.responseFlags.add(ResponseFlag.UpstreamConnectionTermination);
        this.#upstreamReset(503, RESET_PREFIX + 'connection termination', details);
    }
  }

  onAboveWriteBufferHighWatermark(): void {
    if (this.#downstreamReadDisabled) return;
    this.#downstreamReadDisabled = true;
    this.#down.readDisable(true);
  }

  onBelowWriteBufferLowWatermark(): void {
    if (!this.#downstreamReadDisabled) return;
    this.#downstreamReadDisabled = false;
    this.#down.readDisable(false);
  }

  /** The client's write buffer is full: stop reading the upstream response. */
  onDownstreamAboveHigh(): void {
    if (this.#upstreamReadDisabled || !this.#upstream) return;
    this.#upstreamReadDisabled = true;
    this.#upstream.readDisable(true);
  }

  onDownstreamBelowLow(): void {
    if (!this.#upstreamReadDisabled) return;
    this.#upstreamReadDisabled = false;
    this.#upstream?.readDisable(false);
  }

  // --- endings -------------------------------------------------------------------------------

  /** An upstream failure: a local reply if nothing was sent yet, else the connection is reset. */
  #upstreamReset(status: number, body: string, details?: string): void {
    if (details !== undefined) this.info.connectionTerminationDetails = details;
    if (this.#responseStarted) {
      this.#responseDone = true;
      this.#hcm.close(CloseType.NoFlush);
      this.#finish();
      return;
    }
    // The rest of an unsent request body is read and dropped; if the client stops sending it,
    // the connection must close rather than wait.
    this.#localReply(status, body, this.#attemptCountHeader(), !this.requestDone);
  }

  /** stream_idle_timeout (or the route's idle_timeout) passed without activity: Envoy's onIdleTimeout. */
  onIdleTimeout(): void {
    if (this.#finished) return;
    this.#shared.stats.downstream_rq_idle_timeout.inc();
    this.info.responseFlags.add(ResponseFlag.StreamIdleTimeout);
    // Envoy's maybeRequestTimeoutCode: 504 once the request was read whole, else 408.
    this.#timeOut(this.requestDone ? 504 : 408, 'stream timeout');
  }

  /**
   * A stream ran out of time: the upstream is reset; before the response, a local reply
   * (an unfinished request is given up: the connection closes after the reply); after it, too
   * late for a reply: an HTTP/1 stream is reset by closing its connection.
   */
  #timeOut(status: number, body: string): void {
    const up = this.#upstream;
    this.#upstream = undefined;
    up?.reset();
    if (this.#responseStarted || this.#responseDone) {
      const flush = this.#responseDone && !this.#tunnel;
      this.#responseDone = true;
      this.#hcm.close(flush ? CloseType.FlushWrite : CloseType.NoFlush);
      this.#finish();
      return;
    }
    const unfinished = !this.requestDone;
    this.#localReply(status, body, undefined, unfinished);
    if (unfinished && !this.#finished) {
      this.requestDone = true;
      this.#maybeFinish();
    }
  }

  /** A request whose body failed to parse midway. */
  failRequest(err: Http1ParseError): void {
    this.#upstream?.reset();
    this.#upstream = undefined;
    if (!this.#responseStarted && !this.#responseDone) {
      this.#localReply(err.status, 'Bad Request', undefined, true);
    }
    this.#responseDone = true;
    this.requestDone = true;
    this.#finish();
  }

  /** The downstream connection closed or half-closed mid-stream. */
  resetByDownstream(): void {
    if (this.#finished) return;
    this.info.responseFlags.add(ResponseFlag.DownstreamConnectionTermination);
    this.#upstream?.reset();
    this.#upstream = undefined;
    this.#finish();
  }

  #appendConnectionHeader(headers: HeaderList): void {
    this.#closeIfDraining();
    if (this.#closeAfter) headers.append('connection', 'close');
    else if (this.#head.versionMinor === 0) headers.append('connection', 'keep-alive');
  }

  /**
   * A draining connection closes after this response (Envoy's downstream_cx_drain_close), and
   * so does one picked by the overload action disable_http_keepalive.
   */
  #closeIfDraining(): void {
    if (this.#closeAfter) return;
    if (this.#hcm.closeAfterStream) {
      this.#closeAfter = true; // the connection's last stream (counted where it was decided)
      return;
    }
    if (this.#down.draining) {
      this.#closeAfter = true;
      this.#shared.stats.downstream_cx_drain_close.inc();
      return;
    }
    if (this.#shared.overload.shouldShed(OverloadActionName.DisableHttpKeepAlive)) {
      // Envoy drains the connection: for HTTP/1 this response says connection: close.
      this.#closeAfter = true;
      this.#shared.stats.downstream_cx_overload_disable_keepalive.inc();
    }
  }

  #localReply(status: number, body: string | Buffer, extra?: readonly string[], close = false): void {
    if (close) this.#closeAfter = true;
    this.#closeIfDraining();
    this.info.responseCode = status;
    this.#responseStarted = true;
    this.#clearRequestTimer();
    const headers = new HeaderList(extra ? [...extra] : []);
    headers.set('date', httpDate());
    this.#finalizeResponseHeaders(headers);
    this.#responseHeaders = headers;
    if (this.#replyVersion === 0 && !this.#closeAfter) headers.append('connection', 'keep-alive');
    this.info.bytesSent += typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    this.#down.write(
      encodeLocalReply({
        statusCode: status,
        body,
        headers: headers.flat,
        close: this.#closeAfter,
        headRequest: this.#head.method === 'HEAD',
        versionMinor: this.#replyVersion,
      }),
      false,
    );
    this.#endResponse();
  }

  /** What the HCM sets on every response it encodes: `server` and, if configured, x-request-id. */
  #finalizeResponseHeaders(headers: HeaderList): void {
    const options = this.#shared.options;
    applyServerHeader(headers, options.serverHeader);
    const requestId = requestIdForResponse(this.#headers, options.requestId);
    if (requestId !== undefined) headers.set('x-request-id', requestId);
  }

  #endResponse(): void {
    this.#responseDone = true;
    // An upgrade request that was not switched: what follows its head is not HTTP, so the
    // stream ends with its response and the connection closes (#closeAfter is already set).
    if (this.tunnelRequest && !this.#tunnel) this.requestDone = true;
    this.#clearRetryTimers();
    this.#releaseRetryBudget();
    this.#disarmRouteTimer();
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    if (this.requestDone && this.#responseDone) this.#finish();
  }

  /** Stats, access log, and hand the connection back to the manager. Once. */
  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#clearRequestTimer();
    if (this.#durationTimer !== undefined) {
      clearTimeout(this.#durationTimer);
      this.#durationTimer = undefined;
    }
    this.#disarmRouteTimer();
    this.#clearRetryTimers();
    this.#releaseRetryBudget();
    if (this.#downstreamReadDisabled) {
      this.#downstreamReadDisabled = false;
      this.#down.readDisable(false);
    }
    // An upstream stream still open here was abandoned midway (its request unfinished), or is
    // a tunnel that ended both ways (closed once its last bytes are written).
    const up = this.#upstream;
    this.#upstream = undefined;
    if (up && this.#tunnel && this.requestDone && this.#responseDone) up.closeTunnel();
    else up?.reset();
    const stats = this.#shared.stats;
    if (this.#upgradeAllowed) {
      this.#upgradeAllowed = false;
      stats.downstream_cx_upgrades_active.dec();
    }
    const info = this.info;
    info.endMonoMs = performance.now();
    stats.downstream_rq_active.dec();
    stats.downstream_rq_completed.inc();
    if (info.responseCode !== undefined) countResponseClass(stats, info.responseCode);
    stats.downstream_rq_time.record(info.endMonoMs - info.startMonoMs);
    for (const logger of this.#shared.accessLoggers) logger.log(info);
    this.#hcm.streamDone(this, this.#closeAfter);
  }
}

