/**
 * The RPC connection manager: the terminal read filter of an RPC proxy on one downstream
 * connection (Envoy's dubbo ConnectionManager). It cuts the byte stream into frames with the
 * protocol's decoder, answers heartbeats itself, makes one ActiveMessage per request, and
 * writes responses and local replies back in the order they complete (RPC responses carry
 * their request id, so order does not matter to clients).
 *
 * Bad bytes: request_decoding_error, stop reading, flush the replies still owed, then close.
 * Client half-close: close (flushing) once the two-way requests in flight are answered.
 *
 * Slow, silent and half-sent clients (frame-limits.ts): a connection with no complete frame
 * within first_frame_timeout of connecting, or whose started frame is not complete within
 * frame_timeout, is closed (downstream_cx_first_frame_timeout, downstream_cx_frame_timeout).
 * After each read the decoder's partial-frame bytes are reported to the worker's ledger
 * (partial-frame-budget.ts); a connection whose growth would take the worker past its limit is
 * closed (downstream_cx_partial_frame_overflow) and the others carry on.
 */
import { CloseType, ConnectionEvent } from '../../api/connection.js';
import type { AccessLogger } from '../../api/access-logger.js';
import { FilterStatus, type ReadFilter, type ReadFilterCallbacks } from '../../api/network-filter.js';
import { RpcMessageType, type RpcFrame, type RpcFrameDecoder, type RpcProtocol } from '../../api/rpc-protocol.js';
import type { StreamInfo } from '../../api/stream-info.js';
import type { ConnectionImpl } from '../network/connection-impl.js';
import { ActiveMessage, type ActiveMessageOwner } from './active-message.js';
import { DEFAULT_RPC_FRAME_LIMITS, type RpcFrameLimits } from './frame-limits.js';
import { workerPartialFrames } from './partial-frame-budget.js';
import type { RpcDecoderFilter } from './rpc-filter.js';
import type { RpcProxyStats } from './rpc-stats.js';

export interface RpcConnectionManagerConfig<Req extends RpcFrame> {
  readonly protocol: RpcProtocol<Req>;
  readonly stats: RpcProxyStats;
  /** The filter chain for one request, router last. */
  createFilters(): RpcDecoderFilter<Req>[];
  readonly accessLoggers: readonly AccessLogger[];
  /**
   * Close the connection after this long with no request in flight (MetaProtocol's
   * idle_timeout); 0 or absent: never. `idleTimeouts` counts it.
   */
  readonly idleTimeoutMs?: number;
  readonly idleTimeouts?: { inc(): void };
  /** Timeouts for a first frame and a started frame, and the worker's partial-frame budget. */
  readonly frameLimits?: RpcFrameLimits;
  /**
   * Per-connection handling of stream frames (RpcMessageType.StreamFrame), made once per
   * connection; filters reach it as `callbacks.streams`. Without it, stream frames are
   * decoding errors.
   */
  createStreams?(downstream: RpcDownstream): RpcStreamHandler<Req>;
}

/** What a stream handler may do to its downstream connection. */
export interface RpcDownstream {
  write(bytes: Buffer): void;
}

export interface RpcStreamHandler<Req extends RpcFrame> {
  /** A stream frame from downstream; false if it belongs to no known stream (decoding error). */
  onDownstreamFrame(frame: Req): boolean;
  /** The downstream connection closed: end every stream. */
  onDownstreamClose(): void;
}

type State = 'open' | 'closing' | 'closed';

export class RpcConnectionManager<Req extends RpcFrame> implements ReadFilter, ActiveMessageOwner<Req> {
  readonly protocol: RpcProtocol<Req>;
  readonly stats: RpcProxyStats;
  readonly #config: RpcConnectionManagerConfig<Req>;
  readonly #decoder: RpcFrameDecoder<Req>;
  readonly #active = new Set<ActiveMessage<Req>>();
  #connection!: ConnectionImpl;
  #state: State = 'open';
  /** Two-way requests answered so far or owed: close once none is owed. */
  #owed = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #limits: RpcFrameLimits;
  /** first_frame_timeout until a frame completes, then frame_timeout while a frame is partial. */
  #frameTimer: NodeJS.Timeout | undefined;
  /** Frames decoded so far (0: the first-frame timer is the one running). */
  #frames = 0;
  /** A frame was partly in after the last read. */
  #partial = false;
  /** When the partial frame started (Date.now()). */
  #partialSince = 0;
  /** Bytes of a partial frame counted in the worker's ledger for this connection. */
  #partialBytes = 0;
  /** Made on the first stream frame or stream open (most connections never carry one). */
  #streams: RpcStreamHandler<Req> | undefined;

  constructor(config: RpcConnectionManagerConfig<Req>) {
    this.#config = config;
    this.protocol = config.protocol;
    this.stats = config.stats;
    this.#decoder = config.protocol.newRequestDecoder();
    this.#limits = config.frameLimits ?? DEFAULT_RPC_FRAME_LIMITS;
  }

  initializeReadFilterCallbacks(cb: ReadFilterCallbacks): void {
    this.#connection = cb.connection as ConnectionImpl;
    this.#connection.addCallbacks({
      onEvent: this.#onEvent,
      onAboveWriteBufferHighWatermark: () => {
        // Replies are backing up: take no new requests until the client reads.
        this.#connection.readDisable(true);
        this.stats.downstream_flow_control_paused_reading_total.inc();
      },
      onBelowWriteBufferLowWatermark: () => {
        this.#connection.readDisable(false);
        this.stats.downstream_flow_control_resumed_reading_total.inc();
      },
    });
  }

  onNewConnection(): FilterStatus {
    this.#armIdleTimer();
    const ms = this.#limits.firstFrameTimeoutMs;
    if (ms > 0) this.#frameTimer = setTimeout(this.#onFrameTimeout, ms);
    return FilterStatus.Continue;
  }

  /** After a read: account the partial frame and keep the frame timer in step. False if closed. */
  #afterRead(framesBefore: number): boolean {
    const buffered = this.#decoder.bufferedBytes;
    if (buffered !== this.#partialBytes) {
      if (!workerPartialFrames.update(this.#partialBytes, buffered, this.#limits.maxPartialFrameBytes)) {
        this.stats.downstream_cx_partial_frame_overflow.inc();
        const held = workerPartialFrames.held;
        this.#connection.streamInfo.connectionTerminationDetails = `partial frame of ${buffered} bytes over the worker's budget (${held} held)`;
        this.#close(CloseType.NoFlush);
        return false;
      }
      this.stats.downstream_partial_frame_bytes.inc(buffered - this.#partialBytes);
      this.#partialBytes = buffered;
    }
    const completed = this.#frames !== framesBefore;
    if (completed && framesBefore === 0 && this.#frameTimer) {
      clearTimeout(this.#frameTimer);
      this.#frameTimer = undefined;
    }
    const ms = this.#limits.frameTimeoutMs;
    // A new partial frame (none before, or one started after a frame completed) restarts the
    // clock. Pipelining clients end most reads inside a frame, so this only notes the time;
    // the timer is armed once and, when it fires early, re-armed for the time left.
    if (buffered > 0 && this.#frames > 0 && ms > 0 && (!this.#partial || completed)) {
      this.#partialSince = Date.now();
      this.#frameTimer ??= setTimeout(this.#onFrameTimeout, ms);
    }
    this.#partial = buffered > 0;
    return true;
  }

  #onFrameTimeout = (): void => {
    this.#frameTimer = undefined;
    if (this.#state !== 'open') return;
    if (this.#frames === 0) {
      this.stats.downstream_cx_first_frame_timeout.inc();
      this.#connection.streamInfo.connectionTerminationDetails = `no complete frame within ${this.#limits.firstFrameTimeoutMs} ms`;
    } else {
      // No partial frame now: the next one arms the timer again.
      if (!this.#partial) return;
      const ms = this.#limits.frameTimeoutMs;
      const left = this.#partialSince + ms - Date.now();
      if (left > 0) {
        this.#frameTimer = setTimeout(this.#onFrameTimeout, left);
        return;
      }
      this.stats.downstream_cx_frame_timeout.inc();
      this.#connection.streamInfo.connectionTerminationDetails = `frame not complete within ${ms} ms`;
    }
    this.#close(CloseType.FlushWrite);
  };

  /** Idle = no request in flight; the timer runs only then. */
  #armIdleTimer(): void {
    const ms = this.#config.idleTimeoutMs;
    if (!ms || this.#state !== 'open') return;
    if (this.#idleTimer) this.#idleTimer.refresh();
    else {
      this.#idleTimer = setTimeout(() => {
        this.#idleTimer = undefined;
        if (this.#active.size > 0 || this.#state !== 'open') return;
        this.#config.idleTimeouts?.inc();
        this.#connection.streamInfo.connectionTerminationDetails = 'idle timeout';
        this.#close(CloseType.FlushWrite);
      }, ms);
    }
  }

  #disarmIdleTimer(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  onData(data: Buffer, endStream: boolean): FilterStatus {
    if (this.#state !== 'open') return FilterStatus.StopIteration;
    if (data.length > 0) {
      const framesBefore = this.#frames;
      const result = this.#decoder.feed(data, this.#onFrame);
      if (!this.#afterRead(framesBefore)) return FilterStatus.StopIteration;
      if (!result.ok) {
        this.stats.request_decoding_error.inc();
        this.#connection.streamInfo.connectionTerminationDetails = `request decoding error: ${result.error}`;
        this.#closeWhenAnswered();
        return FilterStatus.StopIteration;
      }
    }
    if (endStream) this.#closeWhenAnswered();
    return FilterStatus.StopIteration;
  }

  #onFrame = (frame: Req): void => {
    this.#frames++;
    if (this.#state !== 'open') return;
    const stats = this.stats;
    switch (frame.type) {
      case RpcMessageType.Heartbeat:
        stats.request_event.inc();
        this.#connection.writeCoalesced(this.protocol.heartbeatResponse(frame));
        return;
      case RpcMessageType.HeartbeatResponse:
        return;
      case RpcMessageType.StreamFrame:
        if (this.streams?.onDownstreamFrame(frame)) return;
        stats.request_decoding_error.inc();
        this.#connection.streamInfo.connectionTerminationDetails = 'stream frame for no open stream';
        this.#closeWhenAnswered();
        return;
      case RpcMessageType.Request:
      case RpcMessageType.Oneway: {
        const oneway = frame.type === RpcMessageType.Oneway;
        stats.request.inc();
        stats.request_decoding_success.inc();
        if (oneway) stats.request_oneway.inc();
        else {
          stats.request_twoway.inc();
          this.#owed++;
        }
        const conn = this.#connection;
        const message = new ActiveMessage(this, frame, oneway, this.#config.createFilters(), conn.remoteAddress, conn.localAddress);
        this.#active.add(message);
        if (this.#idleTimer) this.#disarmIdleTimer();
        message.start();
        return;
      }
      default:
        // A client sending responses is speaking something else.
        stats.request_decoding_error.inc();
        this.#closeWhenAnswered();
    }
  };

  /** The connection's stream handler, if the config has streams (made on first use). */
  get streams(): RpcStreamHandler<Req> | undefined {
    if (!this.#streams && this.#config.createStreams) this.#streams = this.#config.createStreams({ write: (b) => this.writeDownstream(b) });
    return this.#streams;
  }

  writeDownstream(bytes: Buffer): void {
    if (this.#state === 'closed') return;
    this.#connection.writeCoalesced(bytes);
  }

  onMessageDone(message: ActiveMessage<Req>, info: StreamInfo): void {
    this.#active.delete(message);
    if (!message.oneway) this.#owed--;
    for (const logger of this.#config.accessLoggers) logger.log(info);
    if (this.#state === 'closing' && this.#owed === 0) this.#close(CloseType.FlushWrite);
    else if (this.#active.size === 0) this.#armIdleTimer();
  }

  /** Stop taking requests; close once every two-way request has its answer written. */
  #closeWhenAnswered(): void {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    this.#connection.readDisable(true);
    if (this.#owed === 0) this.#close(CloseType.FlushWrite);
  }

  #close(type: CloseType): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#connection.close(type);
  }

  #onEvent = (event: ConnectionEvent): void => {
    if (event === ConnectionEvent.Connected) return;
    const wasClosing = this.#state;
    this.#state = 'closed';
    this.#disarmIdleTimer();
    if (this.#frameTimer) clearTimeout(this.#frameTimer);
    this.#frameTimer = undefined;
    if (this.#partialBytes > 0) {
      workerPartialFrames.update(this.#partialBytes, 0, 0);
      this.stats.downstream_partial_frame_bytes.dec(this.#partialBytes);
      this.#partialBytes = 0;
    }
    const pending = [...this.#active].filter((m) => !m.done);
    if (pending.length > 0) {
      if (event === ConnectionEvent.RemoteClose && wasClosing !== 'closed') this.stats.cx_destroy_remote_with_active_rq.inc();
      else this.stats.cx_destroy_local_with_active_rq.inc();
    }
    for (const m of pending) m.reset();
    this.#active.clear();
    this.#streams?.onDownstreamClose();
  };
}
