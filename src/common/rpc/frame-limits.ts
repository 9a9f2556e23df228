/**
 * How long a downstream RPC connection may take to send a frame, and how much a worker may hold
 * of frames not yet complete: the bounds on silent, trickling and half-sent clients shared by
 * dubbo_proxy and meta_protocol_proxy (docs/dubbo-proxy.md, docs/meta-protocol.md).
 *
 * Defaults:
 * - first_frame_timeout 180 s: a new connection's first complete frame. Dubbo consumers connect
 *   early and may stay quiet until their first heartbeat (60 s by default); Dubbo providers close
 *   a connection that sent nothing for three heartbeats, 180 s, and so does Courier.
 * - frame_timeout 60 s: a frame, once its first byte is in, must be complete within this (a
 *   16 MiB frame then needs about 2.3 Mbit/s). Between frames no timer runs: that is
 *   idle_timeout's job where the proxy has one.
 * - max_partial_frame_bytes_per_worker 64 MiB (partial-frame-budget.ts); 0 also means the default.
 * A timeout of 0 disables it.
 */
import { durationMs, num, type Obj } from '../../config/plain-reader.js';
import { DEFAULT_MAX_PARTIAL_FRAME_BYTES } from './partial-frame-budget.js';

export interface RpcFrameLimits {
  readonly firstFrameTimeoutMs: number;
  readonly frameTimeoutMs: number;
  readonly maxPartialFrameBytes: number;
}

export const DEFAULT_RPC_FRAME_LIMITS: RpcFrameLimits = {
  firstFrameTimeoutMs: 180_000,
  frameTimeoutMs: 60_000,
  maxPartialFrameBytes: DEFAULT_MAX_PARTIAL_FRAME_BYTES,
};

/** The config fields that set the limits, in a proxy's SUPPORTED list. */
export const FRAME_LIMIT_FIELDS = ['first_frame_timeout', 'frame_timeout', 'max_partial_frame_bytes_per_worker'] as const;

/** Reads the limits from a config object (Courier's fields; absent ones keep their default). */
export function parseFrameLimits(p: Obj): RpcFrameLimits {
  const d = DEFAULT_RPC_FRAME_LIMITS;
  return {
    firstFrameTimeoutMs: durationMs(p, 'first_frame_timeout', d.firstFrameTimeoutMs),
    frameTimeoutMs: durationMs(p, 'frame_timeout', d.frameTimeoutMs),
    maxPartialFrameBytes: num(p, 'max_partial_frame_bytes_per_worker', 0) || d.maxPartialFrameBytes,
  };
}
