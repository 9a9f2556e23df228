/**
 * A TCP connection as filters see it, downstream or upstream. Implemented over net.Socket by
 * src/common/network/connection-impl.ts. Worker-only.
 */
import type { StreamInfo } from './stream-info.js';

/** How to close, as Envoy's ConnectionCloseType. */
export const CloseType = {
  /** Write what is buffered, then close. */
  FlushWrite: 'flush',
  /** Drop what is buffered and close now (RST when data is pending). */
  NoFlush: 'noflush',
} as const;
export type CloseType = (typeof CloseType)[keyof typeof CloseType];

export const ConnectionEvent = {
  /** The peer closed (FIN after our FIN, RST, or an error). */
  RemoteClose: 'remote_close',
  /** We closed. */
  LocalClose: 'local_close',
  /** An upstream connection finished connecting. */
  Connected: 'connected',
} as const;
export type ConnectionEvent = (typeof ConnectionEvent)[keyof typeof ConnectionEvent];

/** Callbacks a filter registers on a connection. Each is optional. */
export interface ConnectionCallbacks {
  onEvent?(event: ConnectionEvent): void;
  /** The write buffer went above the buffer limit: stop feeding this connection. */
  onAboveWriteBufferHighWatermark?(): void;
  /** The write buffer drained: feeding may resume. */
  onBelowWriteBufferLowWatermark?(): void;
  /** Bytes were written to the socket (for idle timers). */
  onBytesSent?(n: number): void;
  /**
   * The connection's listener is draining (an LDS update replaced or removed it, the server
   * is shutting down, or /drain_listeners): a protocol that can tell its peer should (HTTP:
   * `connection: close` on the next response) and close once idle. The connection is closed
   * anyway when the drain time ends. Called at most once.
   */
  onDrain?(): void;
}

export interface Connection {
  readonly id: number;
  /** "ip:port" of the peer. */
  readonly remoteAddress: string;
  /** "ip:port" of our end. */
  readonly localAddress: string;
  /** per_connection_buffer_limit_bytes: the high watermark of the write buffer. */
  readonly bufferLimit: number;
  /** Bytes queued for writing and not yet handed to the kernel. */
  readonly writeBufferedBytes: number;
  /** True once close() was called or the peer closed fully. */
  readonly closed: boolean;
  /** True once the peer half-closed its sending side (we read EOF). */
  readonly readHalfClosed: boolean;
  /** True once its listener started draining it (see ConnectionCallbacks.onDrain). */
  readonly draining: boolean;
  /**
   * Writes bytes; with endStream, half-closes our sending side after them. Never throws;
   * writes after close are dropped.
   */
  write(data: Buffer, endStream: boolean): void;
  /**
   * Stops (true) or resumes (false) reading. Calls nest like Envoy's readDisable: reading
   * resumes when every disable has been matched by an enable.
   */
  readDisable(disable: boolean): void;
  close(type: CloseType, details?: string): void;
  addCallbacks(cb: ConnectionCallbacks): void;
  /** Per-connection record read by access logs. */
  readonly streamInfo: StreamInfo;
}
