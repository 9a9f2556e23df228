/**
 * Connection over a net.Socket, downstream or upstream.
 *
 * Watermarks: the socket's writableHighWaterMark is set to the connection's buffer limit, so
 * `socket.write()` returning false means "above the high watermark" and the socket's 'drain'
 * means "below the low watermark" (Node resumes at empty; Envoy at half; both stop the
 * other side reading while this side is backed up).
 *
 * Close: FlushWrite ends our side after what is queued and then destroys the socket (Envoy
 * closes the whole connection once the write buffer is flushed, it does not wait for the
 * peer's FIN). NoFlush destroys at once.
 *
 * States: open → (half-closed either way) → closing (flush) → closed. `closed` is true from
 * the moment close() is called.
 */
import type net from 'node:net';
import {
  CloseType,
  ConnectionEvent,
  type Connection,
  type ConnectionCallbacks,
} from '../../api/connection.js';
import type { StreamInfo } from '../../api/stream-info.js';
import type { Counter } from '../../api/stats.js';
import { formatAddress } from '../../config/address.js';

let nextConnectionId = 1;
const EMPTY = Buffer.alloc(0);

/** Receives bytes read from the socket; endStream once, on EOF. */
export type ReadHandler = (data: Buffer, endStream: boolean) => void;

export class ConnectionImpl implements Connection {
  readonly id = nextConnectionId++;
  readonly socket: net.Socket;
  readonly bufferLimit: number;
  readonly streamInfo: StreamInfo;
  remoteAddress: string;
  localAddress: string;
  closed = false;
  readHalfClosed = false;
  /** Bytes read and written, for stats owned by the caller. */
  bytesRead = 0;
  bytesWritten = 0;
  /** Set when the socket saw an error (ECONNRESET, ...). */
  error: Error | undefined;

  #callbacks: ConnectionCallbacks[] = [];
  #draining = false;
  #readHandler: ReadHandler | undefined;
  #readDisableCount = 0;
  #aboveHighWatermark = false;
  #localClose = false;
  #writeEnded = false;
  #closeEventRaised = false;
  #corked = false;
  #rxCounter: Counter | undefined;
  #txCounter: Counter | undefined;

  constructor(socket: net.Socket, bufferLimit: number, streamInfo: StreamInfo) {
    this.socket = socket;
    this.bufferLimit = bufferLimit;
    this.streamInfo = streamInfo;
    this.remoteAddress = socket.remoteAddress ? formatAddress(socket.remoteAddress, socket.remotePort ?? 0) : '';
    this.localAddress = socket.localAddress ? formatAddress(socket.localAddress, socket.localPort ?? 0) : '';
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('drain', this.#onDrain);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
  }

  /** Refreshes addresses once an upstream socket is connected. */
  refreshAddresses(): void {
    const s = this.socket;
    if (s.remoteAddress) this.remoteAddress = formatAddress(s.remoteAddress, s.remotePort ?? 0);
    if (s.localAddress) this.localAddress = formatAddress(s.localAddress, s.localPort ?? 0);
  }

  get writeBufferedBytes(): number {
    return this.socket.writableLength;
  }

  /** Where read bytes go; one handler (the filter manager or the pool's user). */
  setReadHandler(handler: ReadHandler): void {
    this.#readHandler = handler;
  }

  /** Counters bumped for every byte read and written (tcp.*.downstream_cx_rx_bytes_total, ...). */
  setByteCounters(rx: Counter | undefined, tx: Counter | undefined): void {
    this.#rxCounter = rx;
    this.#txCounter = tx;
  }

  /** True once startDraining() was called. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Tells the filters that the listener drains this connection (once; see onDrain). */
  startDraining(): void {
    if (this.#draining || this.closed) return;
    this.#draining = true;
    for (const cb of this.#callbacks) cb.onDrain?.();
  }

  addCallbacks(cb: ConnectionCallbacks): void {
    this.#callbacks.push(cb);
  }

  write(data: Buffer, endStream: boolean): void {
    if (this.closed || this.#writeEnded) return;
    if (data.length > 0) {
      this.bytesWritten += data.length;
      this.#txCounter?.inc(data.length);
      const belowHigh = this.socket.write(data);
      for (const cb of this.#callbacks) cb.onBytesSent?.(data.length);
      if (!belowHigh && !this.#aboveHighWatermark) {
        this.#aboveHighWatermark = true;
        for (const cb of this.#callbacks) cb.onAboveWriteBufferHighWatermark?.();
      }
    }
    if (endStream) {
      this.#writeEnded = true;
      this.socket.end();
    }
  }

  /**
   * Writes like write(data, false), but coalesces every such write made in the same tick into
   * one writev: RPC proxies write many small frames per read (pipelined requests, responses of
   * many clients), and one syscall per frame would dominate their cost.
   */
  writeCoalesced(data: Buffer): void {
    if (this.closed || this.#writeEnded) return;
    if (!this.#corked) {
      this.#corked = true;
      this.socket.cork();
      process.nextTick(this.#uncork);
    }
    this.write(data, false);
  }

  #uncork = (): void => {
    this.#corked = false;
    this.socket.uncork();
  };

  readDisable(disable: boolean): void {
    if (this.closed) return;
    if (disable) {
      if (this.#readDisableCount++ === 0) this.socket.pause();
    } else if (this.#readDisableCount > 0) {
      if (--this.#readDisableCount === 0) this.socket.resume();
    }
  }

  get readDisabled(): boolean {
    return this.#readDisableCount > 0;
  }

  close(type: CloseType, details?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.#localClose = true;
    if (details && this.streamInfo.connectionTerminationDetails === undefined) {
      this.streamInfo.connectionTerminationDetails = details;
    }
    const s = this.socket;
    if (type === CloseType.NoFlush || s.destroyed || s.writableLength === 0 && this.#writeEnded) {
      s.destroy();
      return;
    }
    // Flush what is queued, then close the whole socket; reads from now on are dropped.
    s.removeListener('data', this.#onData);
    s.resume();
    if (!this.#writeEnded) {
      this.#writeEnded = true;
      s.end(() => s.destroy());
    } else if (s.writableFinished) {
      s.destroy();
    } else {
      s.once('finish', () => s.destroy());
    }
  }

  #onData = (chunk: Buffer): void => {
    this.bytesRead += chunk.length;
    this.#rxCounter?.inc(chunk.length);
    this.#readHandler?.(chunk, false);
  };

  #onEnd = (): void => {
    this.readHalfClosed = true;
    if (!this.closed) this.#readHandler?.(EMPTY, true);
  };

  #onDrain = (): void => {
    if (!this.#aboveHighWatermark) return;
    this.#aboveHighWatermark = false;
    for (const cb of this.#callbacks) cb.onBelowWriteBufferLowWatermark?.();
  };

  #onError = (err: Error): void => {
    this.error ??= err;
  };

  #onClose = (): void => {
    if (this.#closeEventRaised) return;
    this.#closeEventRaised = true;
    const event = this.#localClose ? ConnectionEvent.LocalClose : ConnectionEvent.RemoteClose;
    this.closed = true;
    for (const cb of this.#callbacks) cb.onEvent?.(event);
  };

  /** For pools: raise Connected to callbacks. */
  raiseConnected(): void {
    for (const cb of this.#callbacks) cb.onEvent?.(ConnectionEvent.Connected);
  }
}
