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
 * 501, 505) and `connection: close`, then the connection closes (counted in
 * downstream_cx_protocol_error). Upstream failures become Envoy's local replies: 503 UH / UF /
 * UO / UC, 504 UT; after the response head was sent they can only reset (close) the connection.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ThreadLocalClusterManager } from '../../api/cluster.js';
import { CloseType, ConnectionEvent } from '../../api/connection.js';
import type { AccessLogger } from '../../api/access-logger.js';
import { FilterStatus, type ReadFilter, type ReadFilterCallbacks } from '../../api/network-filter.js';
import { newStreamInfo, ResponseFlag, type StreamInfo } from '../../api/stream-info.js';
import type { ConnectionImpl } from '../network/connection-impl.js';
import { applyHeaderMutations, type RouteMatch, type RouteTable } from '../router/route-table.js';
import { HeaderList } from './header-list.js';
import type { HcmStats } from './hcm-config.js';
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
import { statusClass, statusHasNoBody } from './http-status.js';
import type { UpstreamHttpPools, UpstreamHttpStream, UpstreamResetReason, UpstreamStreamCallbacks } from './upstream-http-pool.js';

/** Shared by every connection of one filter chain on one worker. */
export interface HcmShared {
  readonly stats: HcmStats;
  /** The current route table; called once per request (a later RDS slot plugs in here). */
  routeTable(): RouteTable;
  readonly clusterManager: ThreadLocalClusterManager;
  readonly pools: UpstreamHttpPools;
  readonly accessLoggers: readonly AccessLogger[];
}

/** Value of the `server` header on every response (Envoy writes `envoy`). */
export const SERVER_NAME = 'courier';

/** Hop-by-hop fields (RFC 9110 §7.6.1) never forwarded; framing is re-derived per hop. */
const REQUEST_HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'expect'];
const RESPONSE_HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection'];

/** Body chunks below this size are framed into one copied Buffer; larger ones go as three writes. */
const SMALL_CHUNK = 4096;

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

export class HttpConnectionManager implements ReadFilter {
  readonly #shared: HcmShared;
  #down!: ConnectionImpl;
  readonly #parser: Http1Parser<Http1RequestHead>;
  /** The request being answered; later pipelined requests wait in the paused parser. */
  #stream: ActiveStream | undefined;
  /** The parser is paused (and the socket read-disabled) because a response is still owed. */
  #pipelinePaused = false;
  #peerEnded = false;
  #closed = false;

  constructor(shared: HcmShared) {
    this.#shared = shared;
    this.#parser = Http1Parser.forRequests({
      onHead: (head) => {
        this.#stream = new ActiveStream(this, shared, this.#down, head);
        this.#stream.start();
      },
      onBody: (chunk) => this.#stream?.onRequestBody(chunk),
      onMessageComplete: (trailers) => {
        const stream = this.#stream;
        if (!stream) return;
        stream.onRequestComplete(trailers);
        if (this.#stream === stream && !this.#closed) {
          // The response is still owed: hold the next requests until it is written.
          this.#parser.pause();
          this.#down.readDisable(true);
          this.#pipelinePaused = true;
        }
      },
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
    this.#down.addCallbacks({
      onEvent: this.#onEvent,
      onAboveWriteBufferHighWatermark: () => this.#stream?.onDownstreamAboveHigh(),
      onBelowWriteBufferLowWatermark: () => this.#stream?.onDownstreamBelowLow(),
    });
    return FilterStatus.StopIteration;
  }

  onData(data: Buffer, endStream: boolean): FilterStatus {
    if (this.#closed) return FilterStatus.StopIteration;
    if (data.length > 0) {
      const r = this.#parser.execute(data);
      if (!r.ok) {
        this.#protocolError(r);
        return FilterStatus.StopIteration;
      }
    }
    if (endStream) {
      this.#peerEnded = true;
      const stream = this.#stream;
      if (stream && !stream.requestDone) {
        // The client half-closed in the middle of a request: it cannot be completed.
        stream.resetByDownstream();
        this.close(CloseType.NoFlush);
      } else {
        this.#maybeCloseAfterPeerEnd();
      }
    }
    return FilterStatus.StopIteration;
  }

  /** @internal A stream finished both ways: go on with the next pipelined request, or close. */
  streamDone(stream: ActiveStream, closeConnection: boolean): void {
    if (this.#stream !== stream) return;
    this.#stream = undefined;
    if (closeConnection) {
      this.close(CloseType.FlushWrite);
      return;
    }
    if (this.#pipelinePaused) {
      this.#pipelinePaused = false;
      this.#down.readDisable(false);
      const r = this.#parser.resume();
      if (!r.ok) {
        this.#protocolError(r);
        return;
      }
    }
    this.#maybeCloseAfterPeerEnd();
  }

  #maybeCloseAfterPeerEnd(): void {
    if (this.#peerEnded && this.#stream === undefined && !this.#pipelinePaused) this.close(CloseType.FlushWrite);
  }

  /** A request did not parse: answer with the parser's status and close (Envoy's codec error). */
  #protocolError(err: Http1ParseError): void {
    this.#shared.stats.downstream_cx_protocol_error.inc();
    const stream = this.#stream;
    if (stream) {
      stream.failRequest(err);
    } else {
      countResponseClass(this.#shared.stats, err.status);
      this.#down.write(
        encodeLocalReply({ statusCode: err.status, body: 'Bad Request', close: true, headers: ['date', httpDate(), 'server', SERVER_NAME] }),
        false,
      );
    }
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
  #timer: NodeJS.Timeout | undefined;
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

  constructor(hcm: HttpConnectionManager, shared: HcmShared, down: ConnectionImpl, head: Http1RequestHead) {
    this.#hcm = hcm;
    this.#shared = shared;
    this.#down = down;
    this.#head = head;
    this.#headers = new HeaderList(head.headers);
    this.#closeAfter = !head.keepAlive;
    const info = newStreamInfo(down.remoteAddress, down.localAddress);
    info.protocol = head.versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0';
    info.requestHeader = (name) => this.#requestHeaderForLog(name);
    info.responseHeader = (name) => this.#responseHeaders?.get(name);
    this.info = info;
    const stats = shared.stats;
    stats.downstream_rq_total.inc();
    stats.downstream_rq_http1_total.inc();
    stats.downstream_rq_active.inc();
    stats.rq_total.inc();
  }

  #requestHeaderForLog(name: string): string | undefined {
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

  start(): void {
    const head = this.#head;
    const headers = this.#headers;
    if (head.upgrade) {
      // Upgrade / CONNECT need upgrade_configs, which Courier does not implement yet.
      this.#localReply(403, '', undefined, true);
      return;
    }
    if (head.versionMinor === 0) {
      // Envoy refuses HTTP/1.0 with 426 unless http_protocol_options.accept_http_10, which
      // Courier does not implement yet.
      this.#localReply(426, '', undefined, true);
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
    if (this.#authority === '') {
      // HTTP/1.1 requires Host (RFC 9112 §3.2); Envoy answers 400 (missing_host_header).
      this.#localReply(400, 'missing host header', undefined, true);
      return;
    }
    // x-forwarded-proto and x-request-id as Envoy's HCM sets them before routing.
    if (!headers.has('x-forwarded-proto')) headers.set('x-forwarded-proto', 'http');
    if (!headers.has('x-request-id')) headers.append('x-request-id', randomUUID());
    const stats = this.#shared.stats;
    const table = this.#shared.routeTable();
    for (const name of table.internalOnlyHeaders) headers.remove(name);
    const match = table.match(
      {
        authority: this.#authority,
        path: this.#path,
        method: head.method,
        header: (n) => headers.get(n),
        firstHeader: (n) => headers.first(n),
      },
      Math.random(),
    );
    if (!match) {
      stats.no_route.inc();
      this.info.responseFlags.add(ResponseFlag.NoRouteFound);
      this.#localReply(404, '');
      return;
    }
    this.#route = match;
    const action = match.action;
    if (action.kind === 'direct_response') {
      stats.rq_direct_response.inc();
      const extra = new HeaderList([]);
      applyHeaderMutations(match.responseHeaderMutations, extra);
      this.#localReply(action.status, action.body ?? '', extra.flat);
      return;
    }
    if (action.kind === 'redirect') {
      stats.rq_redirect.inc();
      const scheme = headers.first('x-forwarded-proto') ?? 'http';
      this.#localReply(action.responseCode, '', ['location', match.route.redirectUrl(this.#authority, this.#path, scheme)]);
      return;
    }
    this.info.upstreamCluster = match.cluster || undefined;
    const cluster = match.cluster === '' ? undefined : this.#shared.clusterManager.getThreadLocalCluster(match.cluster);
    if (!cluster) {
      stats.no_cluster.inc();
      this.info.responseFlags.add(ResponseFlag.NoClusterFound);
      this.#localReply(action.clusterNotFoundResponseCode, '');
      return;
    }
    const host = cluster.chooseHost(undefined);
    if (!host) {
      cluster.stats.upstream_cx_none_healthy.inc();
      this.info.responseFlags.add(ResponseFlag.NoHealthyUpstream);
      this.#localReply(503, 'no healthy upstream');
      return;
    }
    this.info.upstreamHost = host.address;
    const upstream = this.#shared.pools.newStream(cluster, host, head.method, this);
    if (!upstream) {
      this.info.responseFlags.add(ResponseFlag.UpstreamOverflow);
      this.#localReply(503, RESET_PREFIX + 'overflow');
      return;
    }
    this.#upstream = upstream;
    if (head.expectContinue) {
      // Envoy's default (proxy_100_continue false): answer 100 Continue here, strip Expect.
      this.#down.write(CONTINUE_100, false);
    }
    upstream.write(this.#upstreamHead(match));
  }

  /** The request head as sent upstream: hop-by-hop fields out, forwarding fields and rewrites in. */
  #upstreamHead(match: RouteMatch): Buffer {
    const head = this.#head;
    const headers = this.#headers;
    for (const name of REQUEST_HOP_BY_HOP) headers.remove(name);
    const xff = headers.get('x-forwarded-for');
    const ip = addressIp(this.#down.remoteAddress);
    headers.set('x-forwarded-for', xff === undefined ? ip : `${xff}, ${ip}`);
    if (match.hostRewrite !== undefined) headers.set('host', match.hostRewrite);
    const action = match.action;
    const path = (action.kind === 'route' ? match.route.rewritePath(this.#path) : undefined) ?? this.#path;
    applyHeaderMutations(match.requestHeaderMutations, headers);
    if (head.bodyKind === 'chunked') {
      headers.append('transfer-encoding', 'chunked');
      this.#chunkedUp = true;
    }
    return encodeRequestHead(head.method, path, headers.flat, 1);
  }

  onRequestBody(chunk: Buffer): void {
    this.info.bytesReceived += chunk.length;
    const up = this.#upstream;
    if (!up || this.#responseDone) return; // a local reply was sent: the body is read and dropped
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

  onRequestComplete(trailers: string[] | undefined): void {
    this.requestDone = true;
    const up = this.#upstream;
    if (up && !this.#responseDone) {
      if (this.#chunkedUp) up.write(encodeLastChunk(trailers));
      up.endRequest();
      // Envoy's route timeout runs from the end of the downstream request.
      const timeoutMs = this.#route?.action.kind === 'route' ? this.#route.action.timeoutMs : 0;
      if (timeoutMs > 0) this.#timer = setTimeout(this.#onTimeout, timeoutMs);
    }
    this.#maybeFinish();
  }

  #onTimeout = (): void => {
    this.#timer = undefined;
    if (this.#responseDone) return;
    this.info.responseFlags.add(ResponseFlag.UpstreamRequestTimeout);
    this.#upstream?.timeout();
    this.#upstream = undefined;
    this.#upstreamReset(504, 'upstream request timeout');
  };

  // --- upstream callbacks --------------------------------------------------------------------

  onResponseHead(head: Http1ResponseHead): void {
    if (this.#responseDone) return;
    this.#responseStarted = true;
    const req = this.#head;
    this.info.responseCode = head.statusCode;
    this.info.upstreamLocalAddress = this.#upstream?.upstreamLocalAddress;
    const headers = new HeaderList(head.headers);
    this.#responseHeaders = headers;
    for (const name of RESPONSE_HOP_BY_HOP) headers.remove(name);
    if (head.bodyKind === 'chunked' || head.bodyKind === 'until-close') {
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
    if (this.#route) applyHeaderMutations(this.#route.responseHeaderMutations, headers);
    headers.set('server', SERVER_NAME);
    if (!headers.has('date')) headers.append('date', httpDate());
    this.#appendConnectionHeader(headers);
    this.#down.write(encodeResponseHead(head.statusCode, headers.flat, undefined, req.versionMinor), false);
  }

  onResponseBody(chunk: Buffer): void {
    if (this.#responseDone) return;
    this.info.bytesSent += chunk.length;
    const down = this.#down;
    if (!this.#chunkedDown) {
      down.write(chunk, false);
    } else if (chunk.length < SMALL_CHUNK) {
      down.write(encodeChunk(chunk), false);
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
    if (this.#chunkedDown) this.#down.write(encodeLastChunk(trailers), false);
    // Answered before the whole request was sent: that upstream connection cannot be reused
    // (reset closes it); the rest of the request body is read and dropped.
    if (!this.requestDone) this.#upstream?.reset();
    this.#upstream = undefined;
    this.#endResponse();
  }

  onReset(reason: UpstreamResetReason, details: string): void {
    this.#upstream = undefined;
    if (this.#responseDone) return;
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
        this.info.responseFlags.add(ResponseFlag.UpstreamConnectionTermination);
        this.#upstreamReset(503, RESET_PREFIX + 'protocol error', details);
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
    this.#localReply(status, body, undefined, !this.requestDone);
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
    if (this.#closeAfter) headers.append('connection', 'close');
    else if (this.#head.versionMinor === 0) headers.append('connection', 'keep-alive');
  }

  #localReply(status: number, body: string | Buffer, extra?: readonly string[], close = false): void {
    if (close) this.#closeAfter = true;
    this.info.responseCode = status;
    this.#responseStarted = true;
    const headers = new HeaderList(extra ? [...extra] : []);
    headers.set('date', httpDate());
    headers.set('server', SERVER_NAME);
    this.#responseHeaders = headers;
    if (this.#head.versionMinor === 0 && !this.#closeAfter) headers.append('connection', 'keep-alive');
    this.info.bytesSent += typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    this.#down.write(
      encodeLocalReply({
        statusCode: status,
        body,
        headers: headers.flat,
        close: this.#closeAfter,
        headRequest: this.#head.method === 'HEAD',
        versionMinor: this.#head.versionMinor,
      }),
      false,
    );
    this.#endResponse();
  }

  #endResponse(): void {
    this.#responseDone = true;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    if (this.requestDone && this.#responseDone) this.#finish();
  }

  /** Stats, access log, and hand the connection back to the manager. Once. */
  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#downstreamReadDisabled) {
      this.#downstreamReadDisabled = false;
      this.#down.readDisable(false);
    }
    // An upstream stream still open here was abandoned midway (its request unfinished).
    this.#upstream?.reset();
    this.#upstream = undefined;
    const stats = this.#shared.stats;
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

