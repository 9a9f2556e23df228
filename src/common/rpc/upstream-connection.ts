/**
 * One upstream connection carrying RPC requests: decodes responses and hands each to the
 * request that is waiting for its id. With `rewriteIds` (multiplexed mode) every request gets
 * a fresh id unique on this connection, written into its frame, and the response gets the
 * original id back; without it (exclusive mode) the connection carries one request at a time
 * and ids pass through.
 *
 * States: connecting → ready → closed. Requests sent while connecting are queued.
 */
import { PoolFailureReason, type TcpConnPool, type TcpPoolCallbacks } from '../../api/cluster.js';
import { CloseType, ConnectionEvent, type Connection } from '../../api/connection.js';
import type { HostDescription } from '../../api/load-balancer.js';
import { LocalReplyKind, RpcMessageType, type RpcFrame, type RpcFrameDecoder } from '../../api/rpc-protocol.js';
import type { ConnectionImpl } from '../network/connection-impl.js';
import type { RpcUpstreamContext, UpstreamCallbacks, UpstreamRequestHandle } from './rpc-upstream.js';

interface InFlight {
  originalId: bigint;
  callbacks: UpstreamCallbacks;
  /** Abandoned by its caller: its response is dropped when it comes. */
  cancelled: boolean;
}

type State = 'connecting' | 'ready' | 'closed';

const MAX_ID = 0x7fffffff;

export class RpcUpstreamConnection implements TcpPoolCallbacks {
  state: State = 'connecting';
  readonly #ctx: RpcUpstreamContext;
  readonly #rewriteIds: boolean;
  readonly #onIdle: (c: RpcUpstreamConnection) => void;
  readonly #onClosed: (c: RpcUpstreamConnection) => void;
  readonly #inFlight = new Map<bigint, InFlight>();
  #queue: Array<{ frame: RpcFrame; entry: InFlight | undefined }> = [];
  #connection: ConnectionImpl | undefined;
  #decoder: RpcFrameDecoder<RpcFrame>;
  #host = '';
  #nextId = 1;

  constructor(
    ctx: RpcUpstreamContext,
    tcpPool: TcpConnPool,
    rewriteIds: boolean,
    onIdle: (c: RpcUpstreamConnection) => void,
    onClosed: (c: RpcUpstreamConnection) => void,
  ) {
    this.#ctx = ctx;
    this.#rewriteIds = rewriteIds;
    this.#onIdle = onIdle;
    this.#onClosed = onClosed;
    this.#decoder = ctx.protocol.newResponseDecoder();
    this.#host = tcpPool.host.address;
    tcpPool.newConnection(this, { asStream: false });
  }

  /** Requests waiting for a response (cancelled ones included: their answer is still owed). */
  get inFlight(): number {
    return this.#inFlight.size + this.#queue.length;
  }

  send(frame: RpcFrame, oneway: boolean, callbacks: UpstreamCallbacks): UpstreamRequestHandle {
    const entry: InFlight | undefined = oneway ? undefined : { originalId: frame.requestId, callbacks, cancelled: false };
    if (this.state === 'closed') {
      setImmediate(() => callbacks.onFailure(LocalReplyKind.UpstreamReset, 'upstream connection closed'));
      return { cancel: () => {} };
    }
    if (this.state === 'connecting') {
      frame.detach?.();
      this.#queue.push({ frame, entry });
    }
    else this.#write(frame, entry, callbacks);
    if (oneway && this.state === 'ready') setImmediate(() => this.#maybeIdle());
    return {
      cancel: () => {
        if (entry) entry.cancelled = true;
      },
    };
  }

  #write(frame: RpcFrame, entry: InFlight | undefined, callbacks: UpstreamCallbacks): void {
    if (entry) {
      let id = frame.requestId;
      if (this.#rewriteIds) {
        id = BigInt(this.#nextId);
        this.#nextId = this.#nextId >= MAX_ID ? 1 : this.#nextId + 1;
        this.#ctx.protocol.setRequestId(frame, id);
      }
      this.#inFlight.set(id, entry);
    }
    this.#connection!.writeCoalesced(frame.bytes);
    // Only a one-way request ends when written; a two-way one ends with its response.
    if (!entry && callbacks.onSent) {
      const host = this.#host;
      setImmediate(() => callbacks.onSent!(host));
    }
  }

  onPoolReady(connection: Connection, host: HostDescription): void {
    const conn = connection as ConnectionImpl;
    this.#host = host.address;
    if (this.state === 'closed') {
      conn.close(CloseType.NoFlush);
      return;
    }
    this.#connection = conn;
    this.state = 'ready';
    conn.setReadHandler(this.#onData);
    conn.addCallbacks({ onEvent: this.#onEvent });
    const queued = this.#queue;
    this.#queue = [];
    for (const q of queued) {
      if (q.entry?.cancelled) continue;
      this.#write(q.frame, q.entry, q.entry?.callbacks ?? { onResponse: () => {}, onFailure: () => {} });
    }
    this.#maybeIdle();
  }

  onPoolFailure(reason: PoolFailureReason, _host: HostDescription, details: string): void {
    const kind = reason === PoolFailureReason.Overflow ? LocalReplyKind.Overflow : LocalReplyKind.ConnectionFailure;
    const message =
      reason === PoolFailureReason.Overflow
        ? 'too many connections'
        : reason === PoolFailureReason.Timeout
          ? 'connection failure: connect timeout'
          : `connection failure: ${details}`;
    this.#fail(kind, message);
  }

  #onData = (data: Buffer, endStream: boolean): void => {
    const result = this.#decoder.feed(data, this.#onFrame);
    if (!result.ok) {
      this.#ctx.onResponseDecodingError();
      this.#fail(LocalReplyKind.BadResponse, `bad upstream response: ${result.error}`);
      return;
    }
    if (endStream) this.#fail(LocalReplyKind.UpstreamReset, 'upstream connection closed');
  };

  #onFrame = (frame: RpcFrame): void => {
    if (this.state === 'closed') return;
    switch (frame.type) {
      case RpcMessageType.Heartbeat:
        this.#connection?.writeCoalesced(this.#ctx.protocol.heartbeatResponse(frame));
        return;
      case RpcMessageType.HeartbeatResponse:
        return;
      case RpcMessageType.Response:
        break;
      default:
        this.#ctx.onResponseDecodingError();
        this.#fail(LocalReplyKind.BadResponse, `unexpected ${frame.type} frame from upstream`);
        return;
    }
    const entry = this.#inFlight.get(frame.requestId);
    if (!entry) {
      // A response nobody asked for: the connection's ids can no longer be trusted.
      this.#ctx.onResponseDecodingError();
      this.#fail(LocalReplyKind.BadResponse, `upstream response with unknown request id ${frame.requestId}`);
      return;
    }
    this.#inFlight.delete(frame.requestId);
    if (this.#rewriteIds) this.#ctx.protocol.setRequestId(frame, entry.originalId);
    if (!entry.cancelled) entry.callbacks.onResponse(frame);
    this.#maybeIdle();
  };

  #onEvent = (event: ConnectionEvent): void => {
    if (event === ConnectionEvent.Connected) return;
    this.#fail(LocalReplyKind.UpstreamReset, 'upstream connection reset');
  };

  #maybeIdle(): void {
    if (this.state === 'ready' && this.inFlight === 0) this.#onIdle(this);
  }

  /** Closes the connection (used on timeout in exclusive mode, and on drain). */
  close(): void {
    this.#fail(LocalReplyKind.UpstreamReset, 'upstream connection closed');
  }

  #fail(kind: LocalReplyKind, message: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.#connection?.close(CloseType.NoFlush);
    const waiting = [...this.#inFlight.values(), ...this.#queue.map((q) => q.entry).filter((e): e is InFlight => e !== undefined)];
    this.#inFlight.clear();
    this.#queue = [];
    this.#onClosed(this);
    for (const e of waiting) if (!e.cancelled) e.callbacks.onFailure(kind, message);
  }
}
