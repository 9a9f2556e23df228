/**
 * Dubbo as an RpcProtocol: the codec (src/extensions/codecs/dubbo) adapted to the RPC core,
 * and the request view route matching reads.
 */
import {
  LocalReplyKind,
  RpcMessageType,
  RpcResponseStatus,
  type DecodeResult,
  type RpcFrame,
  type RpcFrameDecoder,
  type RpcProtocol,
} from '../../../../api/rpc-protocol.js';
import { ResponseStatus } from '../../../codecs/dubbo/constants.js';
import { DubboDecodeError } from '../../../codecs/dubbo/decode-error.js';
import { DubboDecoder, type DubboFrame } from '../../../codecs/dubbo/decoder.js';
import { encodeErrorResponse, encodeHeartbeatRequest, encodeHeartbeatResponse, writeRequestId } from '../../../codecs/dubbo/encoder.js';
import type { DubboRequestView } from './router/request-view.js';

/** One Dubbo frame as the RPC core sees it, and as route matching reads it. */
export class DubboRpcFrame implements RpcFrame, DubboRequestView {
  readonly type: RpcMessageType;
  readonly responseStatus: RpcResponseStatus | undefined;
  readonly frame: DubboFrame;

  constructor(frame: DubboFrame) {
    this.frame = frame;
    const h = frame.header;
    if (h.event) this.type = h.isRequest ? RpcMessageType.Heartbeat : RpcMessageType.HeartbeatResponse;
    else if (h.isRequest) this.type = h.twoWay ? RpcMessageType.Request : RpcMessageType.Oneway;
    else this.type = RpcMessageType.Response;
    const response = frame.response;
    if (this.type !== RpcMessageType.Response) this.responseStatus = undefined;
    else if (h.status !== ResponseStatus.OK) this.responseStatus = RpcResponseStatus.Error;
    else if (response?.isBusinessException) this.responseStatus = RpcResponseStatus.BusinessException;
    else this.responseStatus = RpcResponseStatus.Success;
  }

  get requestId(): bigint {
    return this.frame.requestId;
  }

  get bytes(): Buffer {
    return this.frame.bytes;
  }

  get serviceName(): string {
    return this.frame.request?.path ?? '';
  }

  get serviceVersion(): string {
    return this.frame.request?.version ?? '';
  }

  get serviceGroup(): string | undefined {
    return this.attachment('group');
  }

  get methodName(): string {
    return this.frame.request?.method ?? '';
  }

  argumentAsString(index: number): string | undefined {
    return this.frame.request?.argumentAsString(index);
  }

  /** Attachment keys compare case-insensitively, as Envoy's header map does. */
  attachment(key: string): string | undefined {
    return this.frame.request?.attachment(key);
  }

  detach(): void {
    this.frame.detach();
  }

  /** Interface and method, for error messages and logs. */
  describe(): string {
    return `interface '${this.serviceName}' method '${this.methodName}'`;
  }
}

class DubboFrameDecoder implements RpcFrameDecoder<DubboRpcFrame> {
  readonly #decoder = new DubboDecoder();

  get bufferedBytes(): number {
    return this.#decoder.buffered;
  }

  feed(data: Buffer, onFrame: (frame: DubboRpcFrame) => void): DecodeResult {
    const decoder = this.#decoder;
    decoder.push(data);
    for (;;) {
      const next = decoder.next();
      if (next === null) return OK;
      if (next instanceof DubboDecodeError) return { ok: false, error: `${next.code}: ${next.message}` };
      onFrame(new DubboRpcFrame(next));
    }
  }
}

const OK: DecodeResult = { ok: true };

/** Dubbo statuses for the proxy's own replies (Envoy's dubbo router uses 60 and 80). */
const LOCAL_REPLY_STATUS: Record<LocalReplyKind, number> = {
  [LocalReplyKind.NoRoute]: ResponseStatus.SERVICE_NOT_FOUND,
  [LocalReplyKind.UnknownCluster]: ResponseStatus.SERVER_ERROR,
  [LocalReplyKind.NoHealthyUpstream]: ResponseStatus.SERVER_ERROR,
  [LocalReplyKind.Overflow]: ResponseStatus.SERVER_ERROR,
  [LocalReplyKind.ConnectionFailure]: ResponseStatus.SERVER_ERROR,
  [LocalReplyKind.UpstreamReset]: ResponseStatus.SERVER_ERROR,
  [LocalReplyKind.BadResponse]: ResponseStatus.SERVER_ERROR,
  // A Dubbo consumer turns 31 into a TimeoutException, which is what happened.
  [LocalReplyKind.Timeout]: ResponseStatus.SERVER_TIMEOUT,
  [LocalReplyKind.OverLimit]: ResponseStatus.SERVER_THREADPOOL_EXHAUSTED_ERROR,
};

export const dubboProtocol: RpcProtocol<DubboRpcFrame, DubboRpcFrame> = {
  name: 'dubbo',
  newRequestDecoder: () => new DubboFrameDecoder(),
  newResponseDecoder: () => new DubboFrameDecoder(),
  heartbeatResponse: (heartbeat) => encodeHeartbeatResponse(heartbeat.requestId),
  localReply: (request, kind, message) => encodeErrorResponse(request.requestId, LOCAL_REPLY_STATUS[kind], message),
  setRequestId: (frame, id) => writeRequestId(frame.bytes, id),
  heartbeatRequest: (id) => encodeHeartbeatRequest(id),
};
