/**
 * The MetaProtocol codec API: the whole plug-in a protocol writes to be proxied by
 * `courier.meta_protocol_proxy` (MetaProtocol's codec.h, in TypeScript). A codec cuts frames,
 * says what each frame is (type, request id, string metadata for routing), writes frames back
 * with a mutation applied, and builds the protocol's own error reply. Courier does the rest:
 * routing, load balancing, multiplexing, timeouts, retries, mirroring, rate limits, stats and
 * access logs. docs/meta-protocol-codec.md documents it with a worked example.
 *
 * A user codec is an ES module (named in the config by path or package) whose default export,
 * or `codec` export, is a MetaCodecFactory. It is loaded once per process and checked against
 * this contract at start; a module that does not satisfy it stops start-up with a message
 * naming what is missing.
 *
 * Life of a codec: `createCodec` runs once per downstream connection and once per upstream
 * connection, so a codec may keep per-connection state (a detected transport, say). Every
 * method is called on a worker's event loop and must not block. A codec that throws from
 * `frameLength` or `decode` declares the bytes malformed: the connection is closed after the
 * replies already owed are written, and request_decoding_error (or response_decoding_error)
 * is counted. Any other exception is a codec bug and is treated the same way.
 */

/** What a frame is. Streams: the first frame (stream_init) is routed; the rest follow it. */
export type MetaMessageType =
  | 'request'
  | 'response'
  | 'oneway'
  | 'heartbeat'
  /** A response that carries the protocol's error status (counted as response_error). */
  | 'error'
  | 'stream_init'
  | 'stream_data'
  | 'stream_close_one_way'
  | 'stream_close_two_way';

/**
 * String metadata by key. A `Map<string, string>` will do; a codec may give a lazy view
 * instead (Dubbo reads attachments only when a route asks for one).
 */
export interface MetaMetadata {
  get(key: string): string | undefined;
}

/** A decoded frame, as the codec describes it. Plain data: a codec returns an object literal. */
export interface MetaMessage {
  readonly type: MetaMessageType;
  /**
   * The protocol's correlation id: a response carries the id of its request. Non-negative;
   * a number up to 2^53 or a bigint up to 2^64 - 1. Ignored for heartbeats the protocol
   * answers without an id.
   */
  readonly requestId: number | bigint;
  /** For stream frames: which stream the frame belongs to. */
  readonly streamId?: number | bigint;
  /**
   * String metadata that routes, rate limits, hash policies and access logs read
   * (%REQ(key)%). Keys are matched case-insensitively; codecs should use lower case.
   * Dubbo puts `interface`, `method` and every attachment here; Thrift puts `method`.
   */
  readonly metadata: MetaMetadata;
  /** For responses: an application-level failure carried in a well-formed frame. */
  readonly businessException?: boolean;
  /** Anything the codec wants back in encode()/onError() for this frame. Courier never reads it. */
  readonly codecData?: unknown;
}

/** Why Courier answers a request itself (MetaProtocol's ErrorType, with Courier's additions). */
export type MetaErrorType =
  | 'route_not_found'
  | 'cluster_not_found'
  | 'no_healthy_upstream'
  | 'over_limit'
  | 'connection_failure'
  | 'timeout'
  | 'upstream_reset'
  | 'bad_response'
  | 'unspecified';

export interface MetaError {
  readonly type: MetaErrorType;
  /** Human-readable; codecs put it in the protocol's error message field. */
  readonly message: string;
}

export type MetaCodecSide = 'downstream' | 'upstream';

export interface MetaCodec {
  /**
   * The length in bytes of the first frame in `buffer` (which starts at a frame boundary), or
   * 0 if more bytes are needed to know it. A length-prefixed protocol should answer as soon as
   * its header is in: Courier then gathers the rest of the frame without asking again (a large
   * frame arriving in many reads costs one copy). A protocol that must parse the whole frame
   * to find its end (unframed Thrift) returns 0 until the frame is complete; Courier asks again
   * after each read with the same bytes plus the new ones, so such a codec should keep its
   * place between calls (as the Thrift codec's unframed scanner does) instead of rescanning
   * from the start, which costs time quadratic in the frame. Must not consume or keep `buffer`. Throw (any Error) if the bytes cannot be a frame of this protocol.
   */
  frameLength(buffer: Buffer): number;
  /**
   * Describes one complete frame (exactly `frameLength` bytes). `side` is where it came from:
   * downstream frames are requests, one-ways, heartbeats or stream frames; upstream frames are
   * responses, errors, heartbeats or stream frames. Throw if the frame is malformed.
   * `frame` may be a view of a larger read buffer: copy what you keep beyond the call.
   */
  decode(frame: Buffer, side: MetaCodecSide): MetaMessage;
  /**
   * The bytes to send for `message` with `mutation` applied (key/value pairs that routes and
   * filters added: Dubbo writes them as attachments). With an empty mutation, return `frame`
   * itself: the common case is a pass-through with no copy. Used on requests and responses.
   */
  encode(message: MetaMessage, frame: Buffer, mutation: ReadonlyMap<string, string>): Buffer;
  /** A protocol-native error reply to `request`, carrying its request id. */
  onError(request: MetaMessage, error: MetaError): Buffer;
  /** The reply to a heartbeat frame. Required if decode() can return `heartbeat`. */
  heartbeatResponse?(heartbeat: MetaMessage): Buffer;
  /**
   * `frame` with its request id replaced by `id` (in place, returning `frame`, or a new
   * buffer). Required for `protocol.multiplexing: true`: Courier gives each request a fresh id
   * unique on its upstream connection (below 2^31) and puts the original back into the
   * response (the value decode() returned for the request).
   */
  setRequestId?(frame: Buffer, message: MetaMessage, id: number | bigint): Buffer;
}

/** What a codec module exports. */
export interface MetaCodecFactory {
  /** e.g. `courier.meta_protocol.codec.thrift`; appears in logs and stats. */
  readonly name: string;
  /**
   * Called once per process with the codec's `config` from the MetaProtocolProxy (plain JSON
   * data, `{}` if none); throw to reject the config (start-up fails with your message). Returns
   * the per-connection constructor.
   */
  configure?(config: Record<string, unknown>): void;
  /** A fresh codec for one connection. */
  createCodec(config: Record<string, unknown>): MetaCodec;
}

/** Thrown by a codec for malformed bytes when it wants a specific message in the logs. */
export class MetaCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetaCodecError';
  }
}
