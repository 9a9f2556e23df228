/**
 * MetaProtocol streams (its Stream_Init / Stream_Data / Stream_Close_* frames, added for tRPC
 * streaming): the first frame of a stream is routed like a request, through the filters
 * (rate limits apply) to this filter, which opens an upstream connection of its own for the
 * stream; every later frame of the stream passes through, both ways, without filters.
 *
 * Life of a stream: opening (upstream connecting; frames queue) → open → ended. It ends when
 * either side sends stream_close_two_way, when both sides sent stream_close_one_way, or when
 * either connection closes. MetaProtocol never cleans a stream up on an upstream close and
 * has no stream timeout (its stream.cc todos); Courier ends the stream on any close, answers
 * the opening request with the codec's upstream_reset error if the upstream goes away before
 * the stream ended, and ends a stream with no frame either way for the route's timeout.
 */
import type { TcpPoolCallbacks, ThreadLocalClusterManager } from '../../../../api/cluster.js';
import { CloseType, ConnectionEvent, type Connection } from '../../../../api/connection.js';
import type { HostDescription } from '../../../../api/load-balancer.js';
import { LocalReplyKind, type RpcFrameDecoder, type RpcProtocol } from '../../../../api/rpc-protocol.js';
import type { Counter } from '../../../../api/stats.js';
import { ResponseFlag } from '../../../../api/stream-info.js';
import type { ConnectionImpl } from '../../../../common/network/connection-impl.js';
import type { RpcDownstream, RpcStreamHandler } from '../../../../common/rpc/connection-manager.js';
import { RpcFilterStatus, type RpcDecoderFilter, type RpcFilterCallbacks } from '../../../../common/rpc/rpc-filter.js';
import { lbContext, routedCluster, type RpcRoute } from '../../../../common/rpc/rpc-router.js';
import type { MetaFrame } from './meta-protocol.js';

type StreamState = 'opening' | 'open' | 'ended';

class MetaStream implements TcpPoolCallbacks {
  state: StreamState = 'opening';
  readonly #owner: MetaStreams;
  readonly #init: MetaFrame;
  readonly #id: bigint;
  readonly #decoder: RpcFrameDecoder<MetaFrame>;
  readonly #idleMs: number;
  #queue: Buffer[] = [];
  #connection: ConnectionImpl | undefined;
  #clientClosed = false;
  #serverClosed = false;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(owner: MetaStreams, init: MetaFrame, id: bigint, idleMs: number) {
    this.#owner = owner;
    this.#init = init;
    this.#id = id;
    this.#idleMs = idleMs;
    this.#decoder = owner.protocol.newResponseDecoder() as RpcFrameDecoder<MetaFrame>;
    init.detach();
    this.#queue.push(init.bytes);
    this.#touch();
  }

  onPoolReady(connection: Connection): void {
    const conn = connection as ConnectionImpl;
    if (this.state === 'ended') {
      conn.close(CloseType.NoFlush);
      return;
    }
    this.state = 'open';
    this.#connection = conn;
    conn.setReadHandler((data, endStream) => this.#onUpstreamData(data, endStream));
    conn.addCallbacks({ onEvent: (e) => e !== ConnectionEvent.Connected && this.#end('upstream connection closed') });
    for (const b of this.#queue) conn.writeCoalesced(b);
    this.#queue = [];
  }

  onPoolFailure(_reason: unknown, _host: HostDescription, details: string): void {
    this.#end(`upstream connection failure: ${details}`);
  }

  /** A frame from downstream for this stream. */
  fromDownstream(frame: MetaFrame): void {
    if (this.state === 'ended') return;
    this.#touch();
    if (this.#connection) this.#connection.writeCoalesced(frame.bytes);
    else {
      frame.detach();
      this.#queue.push(frame.bytes);
    }
    const type = frame.message.type;
    if (type === 'stream_close_two_way') this.#end(undefined);
    else if (type === 'stream_close_one_way') {
      this.#clientClosed = true;
      if (this.#serverClosed) this.#end(undefined);
    }
  }

  #onUpstreamData(data: Buffer, endStream: boolean): void {
    const result = this.#decoder.feed(data, (frame) => {
      if (this.state === 'ended') return;
      this.#touch();
      this.#owner.downstream.write(frame.bytes);
      const type = frame.message.type;
      if (type === 'stream_close_two_way') this.#end(undefined);
      else if (type === 'stream_close_one_way') {
        this.#serverClosed = true;
        if (this.#clientClosed) this.#end(undefined);
      }
    });
    if (!result.ok) this.#end(`bad upstream stream frame: ${result.error}`);
    else if (endStream) this.#end('upstream connection closed');
  }

  #touch(): void {
    if (this.#idleMs <= 0) return;
    if (this.#idleTimer) this.#idleTimer.refresh();
    else this.#idleTimer = setTimeout(() => this.#end('stream idle timeout'), this.#idleMs);
  }

  /** Ends the stream; `failure` set: it did not end by the protocol, so downstream is told. */
  end(failure: string | undefined): void {
    this.#end(failure);
  }

  #end(failure: string | undefined): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#connection?.close(failure ? CloseType.NoFlush : CloseType.FlushWrite);
    this.#queue = [];
    this.#owner.onEnded(this.#id, this.#init, failure);
  }
}

/** The streams of one downstream connection. */
export class MetaStreams implements RpcStreamHandler<MetaFrame> {
  readonly protocol: RpcProtocol<MetaFrame>;
  readonly downstream: RpcDownstream;
  readonly #streams = new Map<bigint, MetaStream>();
  #closed = false;

  constructor(protocol: RpcProtocol<MetaFrame>, downstream: RpcDownstream) {
    this.protocol = protocol;
    this.downstream = downstream;
  }

  get size(): number {
    return this.#streams.size;
  }

  /** Opens a stream for its first frame, on a connection of its own to `host`. False if the id is taken. */
  open(init: MetaFrame, streamId: bigint, newConnection: (cb: TcpPoolCallbacks) => void, idleMs: number): boolean {
    if (this.#closed || this.#streams.has(streamId)) return false;
    const stream = new MetaStream(this, init, streamId, idleMs);
    this.#streams.set(streamId, stream);
    newConnection(stream);
    return true;
  }

  onDownstreamFrame(frame: MetaFrame): boolean {
    const stream = frame.streamId === undefined ? undefined : this.#streams.get(frame.streamId);
    if (!stream) return false;
    stream.fromDownstream(frame);
    return true;
  }

  onEnded(streamId: bigint, init: MetaFrame, failure: string | undefined): void {
    this.#streams.delete(streamId);
    if (failure && !this.#closed) this.downstream.write(this.protocol.localReply(init, LocalReplyKind.UpstreamReset, `stream ended: ${failure}`));
  }

  onDownstreamClose(): void {
    this.#closed = true;
    for (const s of [...this.#streams.values()]) s.end(undefined);
  }
}

/**
 * Takes the first frame of a stream (before the router): routes it with the router's own
 * route source and hands it to the connection's MetaStreams. Other frames pass on.
 */
export class MetaStreamFilter implements RpcDecoderFilter<MetaFrame> {
  readonly #route: (request: MetaFrame) => RpcRoute | undefined;
  readonly #clusterManager: ThreadLocalClusterManager;
  readonly #opened: Counter;

  constructor(route: (request: MetaFrame) => RpcRoute | undefined, clusterManager: ThreadLocalClusterManager, opened: Counter) {
    this.#route = route;
    this.#clusterManager = clusterManager;
    this.#opened = opened;
  }

  onMessageDecoded(cb: RpcFilterCallbacks<MetaFrame>): RpcFilterStatus {
    const init = cb.request;
    if (init.message.type !== 'stream_init') return RpcFilterStatus.Continue;
    const info = cb.streamInfo;
    const streams = cb.streams as MetaStreams;
    const route = this.#route(init);
    const cluster = routedCluster(cb, route, { protocol: streams.protocol, clusterManager: this.#clusterManager, describe: (r) => `stream ${r.describe()}` });
    if (!route || !cluster) return RpcFilterStatus.StopIteration;
    const host = cluster.chooseHost(lbContext(route.hashKey));
    if (!host) {
      info.responseFlags.add(ResponseFlag.NoHealthyUpstream);
      cluster.stats.upstream_cx_none_healthy.inc();
      cb.sendLocalReply(LocalReplyKind.NoHealthyUpstream, `${streams.protocol.name} router: no healthy upstream for stream`);
      return RpcFilterStatus.StopIteration;
    }
    info.upstreamHost = host.address;
    const streamId = init.streamId ?? init.requestId;
    const opened = streams.open(init, streamId, (callbacks) => cluster.tcpConnPool(host).newConnection(callbacks, { asStream: false }), route.timeoutMs ?? 0);
    if (!opened) {
      cb.sendLocalReply(LocalReplyKind.BadResponse, `stream ${streamId} is already open on this connection`);
      return RpcFilterStatus.StopIteration;
    }
    this.#opened.inc();
    cluster.stats.upstream_rq_total.inc();
    // The stream lives on in MetaStreams; the opening message is done.
    cb.complete();
    return RpcFilterStatus.StopIteration;
  }
}
