/**
 * Upstream HTTP/1.1 connection pools: per worker, per cluster host, keep-alive connections
 * with an idle list (Envoy's Http1::ConnPoolImpl). Each connection carries one request at a
 * time; it goes back to the idle list only after a complete response that allows keep-alive
 * and a complete request, so a connection is never shared while any byte of an exchange is
 * in flight. Connections come from the host's TcpConnPool with asStream: false: the TCP pool
 * counts connections, this pool counts requests (cluster upstream_rq_*, host rq_*).
 *
 *   newStream → idle connection? ──yes──→ write head ──→ response parsed (forResponses)
 *                  │ no                                      │ complete + keep-alive → idle list
 *                  └→ TcpConnPool.newConnection (writes queued until connected)
 *
 * Upgrades (websocket): an upgrade request gets a dedicated connection, never pooled. If the
 * upstream answers 101, the connection becomes a tunnel: response bytes go to onResponseBody
 * raw, the upstream's FIN is onResponseComplete, request bytes still flow after it, endRequest()
 * half-closes the upstream, and the owner ends it with closeTunnel() once both ways are done.
 * Any other answer to an upgrade request leaves the connection unusable: it is closed after.
 *
 * Failures are reported once per stream through onReset: overflow (circuit breaker
 * max_requests), connection_failure (the connect failed), connection_termination (the
 * connection closed or reset mid-exchange), protocol_error (the upstream's response did not
 * parse). The caller (the connection manager) turns them into local replies or resets.
 *
 * Worker-only.
 */
import { PoolFailureReason, type ThreadLocalCluster, type TcpConnPool, type TcpPoolCallbacks, type HostRequestCounters } from '../../api/cluster.js';
import { CloseType, ConnectionEvent, type Connection } from '../../api/connection.js';
import type { HostDescription } from '../../api/load-balancer.js';
import type { Counter, StatsScope } from '../../api/stats.js';
import type { ConnectionImpl } from '../network/connection-impl.js';
import { Http1Parser, type Http1ResponseHead } from './http1-parser.js';
import { isInterimStatus, upstreamRqClassStat } from './http-status.js';

export type UpstreamResetReason = 'overflow' | 'connection_failure' | 'connection_termination' | 'protocol_error';

/** What the owner of a stream hears back. Called asynchronously, never from newStream(). */
export interface UpstreamStreamCallbacks {
  /** The final response head (1xx interim responses are not passed on: see the connection manager). */
  onResponseHead(head: Http1ResponseHead): void;
  /** De-chunked body bytes: a view of the socket's chunk. */
  onResponseBody(chunk: Buffer): void;
  onResponseComplete(trailers: string[] | undefined): void;
  /** The stream failed; no other callback follows. */
  onReset(reason: UpstreamResetReason, details: string): void;
  /**
   * The callbacks above for one read of the upstream socket are done (the owner may have held
   * back a response head to send it with the body that usually follows in the same read).
   */
  onReadEnd(): void;
  /** The upstream connection's write buffer is full: stop reading the downstream. */
  onAboveWriteBufferHighWatermark(): void;
  onBelowWriteBufferLowWatermark(): void;
}

/** Bytes queued while connecting beyond which the stream reports a high watermark. */
const CONNECTING_BUFFER_LIMIT = 1024 * 1024;

/**
 * One request/response exchange on an upstream connection. Counts the request in the cluster
 * and host stats from creation to its end (complete, reset or timeout).
 */
export class UpstreamHttpStream {
  readonly host: HostDescription;
  #conn: UpstreamHttpConnection | undefined;
  readonly #cb: UpstreamStreamCallbacks;
  readonly #cluster: ThreadLocalCluster;
  readonly #hostStats: HostRequestCounters;
  readonly #pools: UpstreamHttpPools;
  #ended = false;
  /** The caller has written the whole request. */
  requestComplete = false;
  /**
   * The upstream answered 101 to this upgrade request: bytes flow both ways raw; writes and
   * watermarks keep working after the response "completed" (the upstream's FIN).
   */
  tunnel = false;
  /** This stream holds one read-disable on its connection (downstream backpressure). */
  #readDisabled = false;

  constructor(pools: UpstreamHttpPools, cluster: ThreadLocalCluster, tcpPool: TcpConnPool, cb: UpstreamStreamCallbacks) {
    this.#pools = pools;
    this.#cluster = cluster;
    this.host = tcpPool.host;
    this.#hostStats = tcpPool.hostStats;
    this.#cb = cb;
    cluster.requestBudget.inc();
    cluster.stats.upstream_rq_total.inc();
    cluster.stats.upstream_rq_active.inc();
    this.#hostStats.rq_total++;
    this.#hostStats.rq_active++;
  }

  /**
   * @internal The stream is given a connection, or leaves it (undefined). A read-disable the
   * stream holds is its own, never its connection's: it is released as the stream leaves, so
   * a connection goes back to the pool reading (the response may complete in the very read
   * whose bytes put the downstream above its high watermark).
   */
  attach(conn: UpstreamHttpConnection | undefined): void {
    if (conn === undefined && this.#readDisabled) {
      this.#readDisabled = false;
      this.#conn?.readDisable(false);
    }
    this.#conn = conn;
  }

  /** The upstream connection's local address, once connected. */
  get upstreamLocalAddress(): string | undefined {
    return this.#conn?.localAddress;
  }

  /**
   * Request bytes, already framed by the caller (head, chunk framing), or tunnel bytes. Writes
   * made in one tick go out together (one writev), unless `alone`: the caller writes nothing
   * more in this tick (a request that is all head), so it is written at once, without the
   * cork and the tick it would wait for.
   */
  write(data: Buffer, alone = false): void {
    if (!this.#ended || this.tunnel) this.#conn?.write(data, alone);
  }

  /**
   * The request's last bytes have been written; the connection may be reused after the
   * response. On a dedicated (upgrade) connection: half-closes the upstream instead.
   */
  endRequest(): void {
    this.requestComplete = true;
    this.#conn?.maybeRelease();
  }

  /** A tunnel finished both ways: close the upstream once what is queued is written. */
  closeTunnel(): void {
    if (!this.#ended) this.#finish('rq_success');
    this.#conn?.closeGracefully();
  }

  /**
   * Stop (true) or resume (false) reading the response: downstream backpressure. Not counted:
   * one call stops, one resumes; the hold ends with the stream (attach).
   */
  readDisable(disable: boolean): void {
    if (disable === this.#readDisabled || this.#conn === undefined) return;
    this.#readDisabled = disable;
    this.#conn.readDisable(disable);
  }

  /**
   * The route timeout fired: counted as upstream_rq_timeout (unless `countRouteTimeout` is
   * false: a per-try timeout, which the caller counts); the connection is closed.
   */
  timeout(countRouteTimeout = true): void {
    if (this.#ended) return;
    if (countRouteTimeout) this.#cluster.stats.upstream_rq_timeout.inc();
    this.#finish('rq_timeout');
    this.#conn?.abandon();
  }

  /** The caller gives up (downstream reset): the connection cannot be reused, it is closed. */
  reset(): void {
    // Also after a complete response whose request was not fully sent: the connection still
    // holds this stream and cannot be reused. The caller asked: no onReset follows.
    this.tunnel = false;
    if (!this.#ended) this.#finish(undefined);
    this.#conn?.abandon();
  }

  // --- from the connection -------------------------------------------------------------------

  /** @internal */
  head(head: Http1ResponseHead): void {
    if (this.#ended) return;
    this.#pools.countStatus(this.#cluster.name, head.statusCode);
    this.#cb.onResponseHead(head);
  }

  /** @internal */
  body(chunk: Buffer): void {
    if (!this.#ended) this.#cb.onResponseBody(chunk);
  }

  /** @internal */
  complete(trailers: string[] | undefined, statusCode: number): void {
    if (this.#ended) return;
    this.#finish(statusCode >= 500 ? 'rq_error' : 'rq_success');
    this.#cb.onResponseComplete(trailers);
  }

  /** @internal */
  failed(reason: UpstreamResetReason, details: string): void {
    if (this.#ended && !this.tunnel) return;
    if (!this.#ended) this.#finish('rq_error');
    this.tunnel = false; // once
    this.#cb.onReset(reason, details);
  }

  /** @internal */
  readEnd(): void {
    this.#cb.onReadEnd();
  }

  /** @internal */
  aboveHigh(): void {
    if (!this.#ended || this.tunnel) this.#cb.onAboveWriteBufferHighWatermark();
  }

  /** @internal */
  belowLow(): void {
    if (!this.#ended || this.tunnel) this.#cb.onBelowWriteBufferLowWatermark();
  }

  get ended(): boolean {
    return this.#ended;
  }

  #finish(outcome: 'rq_success' | 'rq_error' | 'rq_timeout' | undefined): void {
    this.#ended = true;
    this.#cluster.requestBudget.dec();
    this.#cluster.stats.upstream_rq_active.dec();
    this.#hostStats.rq_active--;
    if (outcome) this.#hostStats[outcome]++;
  }
}

type ConnState = 'connecting' | 'busy' | 'idle' | 'closed';

const EMPTY = Buffer.alloc(0);

/** One upstream HTTP/1.1 connection. */
class UpstreamHttpConnection implements TcpPoolCallbacks {
  state: ConnState = 'connecting';
  #conn: ConnectionImpl | undefined;
  #stream: UpstreamHttpStream | undefined;
  readonly #hostPool: HostHttpPool;
  /** For one upgrade request: never idle, never reused. */
  readonly #dedicated: boolean;
  /** A 101 arrived: raw bytes both ways from here on. */
  #tunnel = false;
  /** Our side was half-closed (endRequest on a dedicated connection); queued until connected. */
  #writeEnded = false;
  #queued: Buffer[] = [];
  #queuedBytes = 0;
  #queuedAboveHigh = false;
  #interim = false;
  #statusCode = 0;
  #keepAlive = false;
  #responseComplete = false;
  #responseTrailers: string[] | undefined;
  readonly #parser = Http1Parser.forResponses({
    onHead: (head) => {
      this.#interim = isInterimStatus(head.statusCode);
      // Interim responses (100 Continue) are dropped: the connection manager answers
      // Expect: 100-continue itself, as Envoy does by default.
      if (this.#interim) return;
      this.#statusCode = head.statusCode;
      this.#keepAlive = head.keepAlive;
      if (head.upgrade) {
        // A 101 is only meaningful on the connection of an upgrade request; anywhere else the
        // bytes after it are not HTTP this pool can frame.
        if (!this.#dedicated) {
          this.#close('protocol_error', 'upstream switched protocols on a request that did not ask to upgrade');
          return;
        }
        this.#tunnel = true;
        if (this.#stream) this.#stream.tunnel = true;
      }
      this.#stream?.head(head);
    },
    onBody: (chunk) => this.#stream?.body(chunk),
    onMessageComplete: (trailers) => {
      if (this.#interim) {
        this.#interim = false;
        return;
      }
      this.#responseComplete = true;
      this.#responseTrailers = trailers;
      // Stop here: the next response belongs to a later request on this connection.
      this.#parser.pause();
    },
  });

  constructor(hostPool: HostHttpPool, tcpPool: TcpConnPool, dedicated = false) {
    this.#hostPool = hostPool;
    this.#dedicated = dedicated;
    tcpPool.newConnection(this, { asStream: false });
  }

  get localAddress(): string | undefined {
    return this.#conn?.localAddress;
  }

  /** Starts an exchange; the connection must be idle or connecting without a stream. */
  assign(stream: UpstreamHttpStream, method: string): void {
    this.#stream = stream;
    stream.attach(this);
    this.#responseComplete = false;
    this.#responseTrailers = undefined;
    this.#statusCode = 0;
    this.#parser.resume();
    this.#parser.expectResponse(method);
    if (this.state === 'idle') this.state = 'busy';
  }

  write(data: Buffer, alone: boolean): void {
    if (this.state === 'closed') return;
    if (this.#conn) {
      // Head and body of a request written in one tick go out in one writev.
      if (alone) this.#conn.write(data, false);
      else this.#conn.writeCoalesced(data);
      return;
    }
    this.#queued.push(data);
    this.#queuedBytes += data.length;
    if (this.#queuedBytes > CONNECTING_BUFFER_LIMIT && !this.#queuedAboveHigh) {
      this.#queuedAboveHigh = true;
      this.#stream?.aboveHigh();
    }
  }

  readDisable(disable: boolean): void {
    this.#conn?.readDisable(disable);
  }

  onPoolReady(connection: Connection, _host: HostDescription): void {
    const conn = connection as ConnectionImpl;
    if (this.state === 'closed') {
      conn.close(CloseType.NoFlush);
      return;
    }
    this.#conn = conn;
    conn.refreshAddresses();
    this.state = this.#stream ? 'busy' : 'idle';
    conn.setReadHandler(this.#onData);
    conn.addCallbacks({
      onEvent: this.#onEvent,
      onAboveWriteBufferHighWatermark: () => this.#stream?.aboveHigh(),
      onBelowWriteBufferLowWatermark: () => this.#stream?.belowLow(),
    });
    const queued = this.#queued;
    this.#queued = [];
    this.#queuedBytes = 0;
    for (const q of queued) conn.writeCoalesced(q);
    if (this.#writeEnded) conn.write(EMPTY, true);
    if (this.#queuedAboveHigh) {
      this.#queuedAboveHigh = false;
      if (conn.writeBufferedBytes < conn.bufferLimit) this.#stream?.belowLow();
    }
    if (this.state === 'idle') this.#hostPool.release(this);
  }

  onPoolFailure(reason: PoolFailureReason, _host: HostDescription, details: string): void {
    const r: UpstreamResetReason = reason === PoolFailureReason.Overflow ? 'overflow' : 'connection_failure';
    this.#close(r, reason === PoolFailureReason.Timeout ? 'connect timeout' : details);
  }

  #onData = (data: Buffer, endStream: boolean): void => {
    if (data.length > 0) {
      const stream = this.#stream;
      const r = this.#parser.execute(data);
      if (!r.ok) {
        this.#close('protocol_error', r.toString());
        return;
      }
      this.#deliverCompletion();
      stream?.readEnd();
    }
    if (endStream) {
      // A response delimited by the connection's end completes here (a tunnel's too).
      const r = this.#parser.finish();
      if (r.ok) this.#deliverCompletion();
      // A tunnel's other direction may still be sending: its owner closes it (closeTunnel).
      if (this.#tunnel && this.state !== 'closed') return;
      this.#close('connection_termination', 'upstream closed the connection');
    }
  };

  /** After the parser reported a complete response: hand it over, then maybe go idle. */
  #deliverCompletion(): void {
    if (!this.#responseComplete) return;
    const stream = this.#stream;
    if (!stream || stream.ended) return;
    this.#responseComplete = false;
    stream.complete(this.#responseTrailers, this.#statusCode);
    this.maybeRelease();
  }

  /** Goes back to the idle list once both directions of the exchange are done. */
  maybeRelease(): void {
    if (this.#dedicated) {
      // Never pooled. Answered without a 101, the connection has nothing more to carry; in a
      // tunnel (or while waiting for the answer) the request's end is a FIN to the upstream.
      const stream = this.#stream;
      if (!stream || this.state === 'closed') return;
      if (stream.ended && !this.#tunnel) {
        this.#close('connection_termination', 'upgrade request answered without switching protocols');
      } else if (stream.requestComplete && !this.#writeEnded) {
        this.#writeEnded = true;
        this.#conn?.write(EMPTY, true);
      }
      return;
    }
    const stream = this.#stream;
    if (!stream || this.state !== 'busy' || !stream.ended || !stream.requestComplete) return;
    this.#stream = undefined;
    stream.attach(undefined);
    if (!this.#reusable()) {
      this.#close('connection_termination', 'not reusable');
      return;
    }
    this.state = 'idle';
    this.#hostPool.release(this);
  }

  /**
   * A connection goes back to the pool only in a clean state: the response allowed keep-alive,
   * the socket is open and read (nobody holds a read-disable), nothing of the request is still
   * queued to write, and no byte beyond the response was received (an upstream that sends
   * more than it was asked for cannot be trusted with the next request).
   */
  #reusable(): boolean {
    const conn = this.#conn;
    return this.#keepAlive && conn !== undefined && !conn.closed && !conn.readDisabled && conn.writeBufferedBytes === 0 && this.#parser.bufferedBytes === 0;
  }

  /** The exchange was abandoned midway: the connection's framing is unknown, close it. */
  abandon(): void {
    this.#close('connection_termination', 'abandoned');
  }

  /** Closes after what is queued is written, without telling the stream (it ended the exchange). */
  closeGracefully(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const stream = this.#stream;
    this.#stream = undefined;
    stream?.attach(undefined);
    this.#conn?.close(CloseType.FlushWrite);
  }

  #onEvent = (event: ConnectionEvent): void => {
    if (event === ConnectionEvent.Connected) return;
    this.#close('connection_termination', this.#conn?.error ? `connection reset: ${this.#conn.error.message}` : 'upstream closed the connection');
  };

  #close(reason: UpstreamResetReason, details: string): void {
    if (this.state === 'closed') return;
    const wasIdle = this.state === 'idle';
    this.state = 'closed';
    this.#conn?.close(CloseType.NoFlush);
    if (wasIdle) this.#hostPool.remove(this);
    const stream = this.#stream;
    this.#stream = undefined;
    stream?.attach(undefined);
    stream?.failed(reason, details);
  }
}

/** The idle connections to one host on this worker. */
class HostHttpPool {
  readonly #idle: UpstreamHttpConnection[] = [];
  readonly tcpPool: TcpConnPool;

  constructor(tcpPool: TcpConnPool) {
    this.tcpPool = tcpPool;
  }

  /** The most recently used idle connection (warmest, least likely closed by the server), or a new one. */
  acquire(): UpstreamHttpConnection {
    for (;;) {
      const c = this.#idle.pop();
      if (c === undefined) return new UpstreamHttpConnection(this, this.tcpPool);
      if (c.state === 'idle') return c;
    }
  }

  release(c: UpstreamHttpConnection): void {
    this.#idle.push(c);
  }

  remove(c: UpstreamHttpConnection): void {
    const i = this.#idle.indexOf(c);
    if (i >= 0) this.#idle.splice(i, 1);
  }
}

/**
 * Every HTTP pool of one worker, keyed by the TCP pool of each host (a new cluster snapshot
 * brings new TCP pools, and with them new HTTP pools; old ones go with their last user).
 */
export class UpstreamHttpPools {
  readonly #pools = new WeakMap<TcpConnPool, HostHttpPool>();
  readonly #stats: StatsScope;
  readonly #codeCounters = new Map<string, Counter>();
  /** Per cluster: upstream_rq_<code> by code, and upstream_rq_<N>xx by N, as countStatus finds them. */
  readonly #statusCounters = new Map<string, { byCode: Counter[]; byClass: Counter[] }>();

  constructor(stats: StatsScope) {
    this.#stats = stats;
  }

  /**
   * Starts a request to `host` of `cluster`. Returns undefined after calling nothing when the
   * circuit breaker refuses (the caller answers 503 UO); otherwise the stream, whose callbacks
   * run later. `upgrade`: the request asks to switch protocols; it gets a dedicated connection.
   */
  newStream(
    cluster: ThreadLocalCluster,
    host: HostDescription,
    method: string,
    cb: UpstreamStreamCallbacks,
    upgrade = false,
  ): UpstreamHttpStream | undefined {
    if (!cluster.requestBudget.canCreate()) {
      cluster.stats.upstream_rq_pending_overflow.inc();
      return undefined;
    }
    const tcpPool = cluster.tcpConnPool(host);
    let pool = this.#pools.get(tcpPool);
    if (!pool) this.#pools.set(tcpPool, (pool = new HostHttpPool(tcpPool)));
    const stream = new UpstreamHttpStream(this, cluster, tcpPool, cb);
    // An upgrade request gets a connection of its own (Envoy: an upgraded HTTP/1 connection is
    // never returned to the pool).
    const conn = upgrade ? new UpstreamHttpConnection(pool, tcpPool, true) : pool.acquire();
    if (conn.state === 'idle') conn.state = 'busy';
    conn.assign(stream, method);
    return stream;
  }

  /**
   * Counts a response: cluster.<name>.upstream_rq_<code> and upstream_rq_<N>xx, looked up by
   * number after the first time (no key strings built per response).
   */
  countStatus(cluster: string, code: number): void {
    let counters = this.#statusCounters.get(cluster);
    if (!counters) this.#statusCounters.set(cluster, (counters = { byCode: [], byClass: [] }));
    const ok = Number.isInteger(code) && code >= 0 && code <= 999;
    const byCode = ok ? counters.byCode[code] : undefined;
    if (byCode !== undefined) byCode.inc();
    else {
      const c = this.codeCounter(cluster, String(code));
      if (ok) counters.byCode[code] = c;
      c.inc();
    }
    const cls = upstreamRqClassStat(code);
    if (cls === null) return;
    const n = Math.floor(code / 100);
    let byClass = counters.byClass[n];
    if (byClass === undefined) counters.byClass[n] = byClass = this.codeCounter(cluster, cls.slice('upstream_rq_'.length));
    byClass.inc();
  }

  /** cluster.<name>.upstream_rq_<code> / upstream_rq_<N>xx, created on first use and kept. */
  codeCounter(cluster: string, suffix: string): Counter {
    const key = cluster + '\0' + suffix;
    let c = this.#codeCounters.get(key);
    if (!c) this.#codeCounters.set(key, (c = this.#stats.counter(`cluster.${cluster}.upstream_rq_${suffix}`)));
    return c;
  }
}
