/**
 * One request in flight on a downstream connection (Envoy's dubbo ActiveMessage): runs the
 * filter chain, then ends exactly once: with the upstream's response, a local reply, a
 * one-way completion, or a reset (downstream gone).
 *
 * States: decoding (filters running) → waiting (upstream) → done.
 */
import { performance } from 'node:perf_hooks';
import { LocalReplyKind, RpcResponseStatus, type RpcFrame, type RpcProtocol } from '../../api/rpc-protocol.js';
import { newStreamInfo, type StreamInfo } from '../../api/stream-info.js';
import { RpcFilterStatus, type RpcDecoderFilter, type RpcFilterCallbacks } from './rpc-filter.js';
import type { RpcProxyStats } from './rpc-stats.js';

/** What an active message needs from its connection manager. */
export interface ActiveMessageOwner<Req extends RpcFrame> {
  readonly protocol: RpcProtocol<Req>;
  readonly stats: RpcProxyStats;
  /** The connection's stream handler, when the proxy supports streams. */
  readonly streams: unknown;
  writeDownstream(bytes: Buffer): void;
  onMessageDone(message: ActiveMessage<Req>, info: StreamInfo): void;
}

type State = 'decoding' | 'waiting' | 'done';

export class ActiveMessage<Req extends RpcFrame> implements RpcFilterCallbacks<Req> {
  readonly request: Req;
  readonly oneway: boolean;
  readonly streamInfo: StreamInfo;
  readonly #owner: ActiveMessageOwner<Req>;
  readonly #filters: RpcDecoderFilter<Req>[];
  #next = 0;
  #state: State = 'decoding';
  #resetHandlers: Array<() => void> = [];
  #mutation: Map<string, string> | undefined;

  constructor(owner: ActiveMessageOwner<Req>, request: Req, oneway: boolean, filters: RpcDecoderFilter<Req>[], remote: string, local: string) {
    this.#owner = owner;
    this.request = request;
    this.oneway = oneway;
    this.#filters = filters;
    this.streamInfo = newStreamInfo(remote, local);
    this.streamInfo.bytesReceived = request.bytes.length;
    const metadata = owner.protocol.metadata;
    if (metadata) this.streamInfo.requestHeader = (key) => metadata(request, key);
    owner.stats.request_active.inc();
  }

  get streams(): unknown {
    return this.#owner.streams;
  }

  get mutation(): Map<string, string> {
    return (this.#mutation ??= new Map());
  }

  peekMutation(): ReadonlyMap<string, string> | undefined {
    return this.#mutation;
  }

  get done(): boolean {
    return this.#state === 'done';
  }

  start(): void {
    this.continueDecoding();
  }

  continueDecoding(): void {
    while (this.#state === 'decoding' && this.#next < this.#filters.length) {
      const filter = this.#filters[this.#next++]!;
      if (filter.onMessageDecoded(this) === RpcFilterStatus.StopIteration) {
        if (this.#state === 'decoding') this.#state = 'waiting';
        return;
      }
    }
  }

  onReset(handler: () => void): void {
    this.#resetHandlers.push(handler);
  }

  sendLocalReply(kind: LocalReplyKind, message: string): void {
    if (this.#state === 'done') return;
    const stats = this.#owner.stats;
    if (!this.oneway) {
      const reply = this.#owner.protocol.localReply(this.request, kind, message);
      this.streamInfo.bytesSent = reply.length;
      this.#owner.writeDownstream(reply);
      stats.local_response_error.inc();
    }
    this.streamInfo.connectionTerminationDetails = message;
    this.#finish(false);
  }

  sendResponse(response: RpcFrame): void {
    if (this.#state === 'done') return;
    const stats = this.#owner.stats;
    stats.response.inc();
    stats.response_decoding_success.inc();
    switch (response.responseStatus) {
      case RpcResponseStatus.Error:
        stats.response_error.inc();
        break;
      case RpcResponseStatus.BusinessException:
        stats.response_business_exception.inc();
        break;
      default:
        stats.response_success.inc();
    }
    this.streamInfo.bytesSent = response.bytes.length;
    const metadata = this.#owner.protocol.metadata;
    if (metadata) this.streamInfo.responseHeader = (key) => metadata(response, key);
    this.#owner.writeDownstream(response.bytes);
    this.#finish(false);
  }

  complete(): void {
    this.#finish(false);
  }

  /** The downstream went away (or the proxy is closing it): abandon the request. */
  reset(): void {
    this.#finish(true);
  }

  #finish(reset: boolean): void {
    if (this.#state === 'done') return;
    this.#state = 'done';
    // Only an abandoned request cancels its upstream side; a finished one has nothing left.
    if (reset) for (const h of this.#resetHandlers) h();
    this.#resetHandlers = [];
    const stats = this.#owner.stats;
    stats.request_active.dec();
    this.streamInfo.endMonoMs = performance.now();
    stats.request_time_ms.record(this.streamInfo.endMonoMs - this.streamInfo.startMonoMs);
    this.#owner.onMessageDone(this, this.streamInfo);
  }
}
