/**
 * Filters on one RPC request (Envoy's dubbo DecoderFilter; MetaProtocol's CodecFilter).
 * Filters run in config order on each decoded request; the router is last and sends it
 * upstream. A filter may stop iteration and resume later, or answer the request itself.
 */
import type { LocalReplyKind, RpcFrame } from '../../api/rpc-protocol.js';
import type { StreamInfo } from '../../api/stream-info.js';

export const RpcFilterStatus = {
  Continue: 'continue',
  /** Stop here; the filter calls continueDecoding() or sendLocalReply() later. */
  StopIteration: 'stop',
} as const;
export type RpcFilterStatus = (typeof RpcFilterStatus)[keyof typeof RpcFilterStatus];

export interface RpcFilterCallbacks<Req extends RpcFrame> {
  readonly request: Req;
  readonly oneway: boolean;
  readonly streamInfo: StreamInfo;
  continueDecoding(): void;
  /** Answers the request with a protocol-native error (nothing for one-way requests) and ends it. */
  sendLocalReply(kind: LocalReplyKind, message: string): void;
  /** Forwards the upstream's response downstream and ends the request. */
  sendResponse(response: RpcFrame): void;
  /** Ends a one-way request once it is sent. */
  complete(): void;
  /** Registers what to do if the request ends early (downstream gone, timeout). */
  onReset(handler: () => void): void;
  /**
   * Key/value pairs to apply to the request when it is encoded (MetaProtocol's mutation):
   * filters and the route add to it; the protocol decides what they mean. Made on first use.
   */
  readonly mutation: Map<string, string>;
  /** The mutation if anything made it, without making one. */
  peekMutation(): ReadonlyMap<string, string> | undefined;
  /** The downstream connection's stream handler (RpcConnectionManagerConfig.createStreams). */
  readonly streams: unknown;
}

export interface RpcDecoderFilter<Req extends RpcFrame> {
  /** Called once per request. Must not throw. */
  onMessageDecoded(callbacks: RpcFilterCallbacks<Req>): RpcFilterStatus;
}

export type RpcFilterFactory<Req extends RpcFrame> = () => RpcDecoderFilter<Req>;
