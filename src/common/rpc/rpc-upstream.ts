/**
 * Sending one request upstream and getting its response: the contract both upstream modes
 * (exclusive and multiplexed) implement. Worker-only.
 */
import type { ClusterTrafficStats, TcpConnPool } from '../../api/cluster.js';
import type { LocalReplyKind, RpcFrame, RpcProtocol } from '../../api/rpc-protocol.js';

export interface UpstreamCallbacks {
  /** A one-way request was written to an upstream connection to `host` ("ip:port"). */
  onSent?(host: string): void;
  /** The complete response, with the request's own id restored. Called at most once. */
  onResponse(response: RpcFrame): void;
  /** The request cannot complete: no connection, reset, bad response. Called at most once. */
  onFailure(kind: LocalReplyKind, message: string): void;
}

/** Abandons a request: its response, if one comes, is dropped. */
export interface UpstreamRequestHandle {
  cancel(): void;
}

export interface RpcUpstreamPool {
  /**
   * Sends `request` (its bytes may be rewritten in place: the request id). For a one-way
   * request, `callbacks.onResponse` is never called; onSent is, once written.
   * Callbacks are never called synchronously.
   */
  send(request: RpcFrame, oneway: boolean, tcpPool: TcpConnPool, callbacks: UpstreamCallbacks): UpstreamRequestHandle;
}

export interface RpcUpstreamContext {
  readonly protocol: RpcProtocol;
  readonly clusterStats: ClusterTrafficStats;
  /** Counted when a response cannot be decoded or matched (dubbo.*.response_decoding_error). */
  onResponseDecodingError(): void;
}
