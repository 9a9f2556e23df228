/**
 * The RPC proxy's plug-in surface: what a protocol must provide so that the protocol-neutral
 * RPC core (src/common/rpc/) can proxy it. The codec is the whole plug-in: framing,
 * request ids, the metadata routing reads, and protocol-native replies. The core owns
 * connections, correlation, pools, timeouts, filters, stats and access logs.
 *
 * Worker-only. A decoder is made per connection and keeps its own partial-frame state.
 */

export const RpcMessageType = {
  /** A request that expects a response. */
  Request: 'request',
  /** A request without a response. */
  Oneway: 'oneway',
  Response: 'response',
  /** A keep-alive from the peer that the proxy answers itself (never routed). */
  Heartbeat: 'heartbeat',
  /** The peer's answer to a heartbeat. */
  HeartbeatResponse: 'heartbeat_response',
  /**
   * A frame of a stream after its first (MetaProtocol's stream data and close frames): never
   * routed; the connection's stream handler forwards it on the stream's upstream connection.
   */
  StreamFrame: 'stream_frame',
} as const;
export type RpcMessageType = (typeof RpcMessageType)[keyof typeof RpcMessageType];

/** How a response ended, for stats (response_success / response_error / response_business_exception). */
export const RpcResponseStatus = {
  Success: 'success',
  /** The protocol's error status (e.g. Dubbo status ≠ 20). */
  Error: 'error',
  /** An application exception carried in a successful frame. */
  BusinessException: 'business_exception',
} as const;
export type RpcResponseStatus = (typeof RpcResponseStatus)[keyof typeof RpcResponseStatus];

/** One complete frame. `bytes` is the whole frame as received; it is forwarded as is. */
export interface RpcFrame {
  readonly type: RpcMessageType;
  /** The protocol's correlation id (Dubbo's int64 request id). */
  readonly requestId: bigint;
  /** The frame's bytes; the core may hand them to a socket without copying. */
  bytes: Buffer;
  /** For responses. */
  readonly responseStatus?: RpcResponseStatus;
  /**
   * Makes `bytes` a private copy when it is a view of a larger read buffer, so that a frame
   * kept for a while (queued while an upstream connects) does not pin the whole read chunk.
   */
  detach?(): void;
}

/** Why the proxy answers a request itself. */
export const LocalReplyKind = {
  NoRoute: 'no_route',
  UnknownCluster: 'unknown_cluster',
  NoHealthyUpstream: 'no_healthy_upstream',
  Overflow: 'overflow',
  ConnectionFailure: 'connection_failure',
  Timeout: 'timeout',
  UpstreamReset: 'upstream_reset',
  BadResponse: 'bad_response',
  /** A rate limit said no. */
  OverLimit: 'over_limit',
} as const;
export type LocalReplyKind = (typeof LocalReplyKind)[keyof typeof LocalReplyKind];

export type DecodeResult = { ok: true } | { ok: false; error: string };

/**
 * Cuts a byte stream into frames. `feed` may be called with any slicing of the stream: a
 * partial frame is kept until the rest arrives; every complete frame is passed to `onFrame`
 * in order before `feed` returns. After an error, the decoder is unusable.
 */
export interface RpcFrameDecoder<F extends RpcFrame> {
  feed(data: Buffer, onFrame: (frame: F) => void): DecodeResult;
  /** Bytes held of an incomplete frame. */
  readonly bufferedBytes: number;
}

export interface RpcProtocol<Req extends RpcFrame = RpcFrame, Resp extends RpcFrame = RpcFrame> {
  readonly name: string;
  /** Downstream side: requests, one-ways, heartbeats. */
  newRequestDecoder(): RpcFrameDecoder<Req>;
  /** Upstream side: responses, heartbeats. */
  newResponseDecoder(): RpcFrameDecoder<Resp>;
  /** The reply to a heartbeat (same id). */
  heartbeatResponse(heartbeat: Req): Buffer;
  /** A protocol-native error reply to `request`, carrying its id and `message`. */
  localReply(request: Req, kind: LocalReplyKind, message: string): Buffer;
  /**
   * Rewrites the request id of a frame (for multiplexing upstream connections): in place, or
   * by replacing `frame.bytes` when the id's width changes the frame's length.
   */
  setRequestId(frame: RpcFrame, id: bigint): void;
  /**
   * Applies key/value pairs (MetaProtocol's mutation: a route's request_mutation, or what a
   * filter added) to a frame by replacing `frame.bytes`. Optional: a protocol without a place
   * for them leaves frames as they are.
   */
  applyMutation?(frame: Req | Resp, mutation: ReadonlyMap<string, string>): void;
  /** A private copy of a request, for mirroring (the copy's bytes may be rewritten). */
  copyFrame?(frame: Req): Req;
  /** A frame's string metadata by lower-case key, for access logs (%REQ(key)%, %RESP(key)%). */
  metadata?(frame: Req | Resp, key: string): string | undefined;
  /** A heartbeat request to keep idle upstream connections alive, if the protocol has one. */
  heartbeatRequest?(id: bigint): Buffer;
}
