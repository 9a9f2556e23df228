/**
 * x-request-id, as Envoy's HCM and its default request ID extension (UUIDRequestIDExtension)
 * handle it:
 *
 * - generate_request_id (default true): a request without x-request-id gets a random UUID; one
 *   that has it keeps it, unless it is an edge request (external, with use_remote_address),
 *   whose id cannot be trusted and is replaced, unless preserve_external_request_id.
 * - always_set_request_id_in_response: every response (local replies too) carries the
 *   request's x-request-id; without it, only responses to a request with x-envoy-force-trace
 *   (which forwarded-headers.ts strips from external requests) do.
 *
 * Worker-side, synchronous.
 */
import { randomFillSync } from 'node:crypto';
import type { HeaderList } from './header-list.js';

export interface RequestIdConfig {
  /** generate_request_id (default true). */
  readonly generate: boolean;
  /** preserve_external_request_id (default false). */
  readonly preserveExternal: boolean;
  /** always_set_request_id_in_response (default false). */
  readonly alwaysSetInResponse: boolean;
}

/** Sets or keeps the request's x-request-id; `edge` from ForwardedHeaders.apply. */
export function applyRequestId(headers: HeaderList, config: RequestIdConfig, edge: boolean): void {
  if (!config.generate) return;
  if (headers.has('x-request-id')) {
    if (!edge || config.preserveExternal) return;
    headers.set('x-request-id', randomRequestId());
    return;
  }
  headers.append('x-request-id', randomRequestId());
}

/** The x-request-id a response should carry, or undefined (see the file comment). */
export function requestIdForResponse(request: HeaderList, config: RequestIdConfig): string | undefined {
  if (!config.alwaysSetInResponse && !request.has('x-envoy-force-trace')) return undefined;
  return request.first('x-request-id');
}

/**
 * Random (version 4) UUIDs, as crypto.randomUUID() makes them, from a pool of random bytes
 * refilled 256 UUIDs at a time, written as one latin1 string (randomUUID builds its string from
 * 20 pieces, which is most of its cost).
 */
const UUID_POOL = Buffer.alloc(16 * 256);
let uuidPoolOffset = UUID_POOL.length;
const UUID_TEXT = Buffer.alloc(36);
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

export function randomRequestId(): string {
  if (uuidPoolOffset === UUID_POOL.length) {
    randomFillSync(UUID_POOL);
    uuidPoolOffset = 0;
  }
  const b = UUID_POOL;
  const o = uuidPoolOffset;
  uuidPoolOffset += 16;
  b[o + 6] = (b[o + 6]! & 0x0f) | 0x40; // version 4
  b[o + 8] = (b[o + 8]! & 0x3f) | 0x80; // variant 10
  const t = UUID_TEXT;
  let k = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) t[k++] = 0x2d; // '-'
    const v = b[o + i]!;
    t[k++] = HEX_DIGITS[v >> 4]!;
    t[k++] = HEX_DIGITS[v & 0x0f]!;
  }
  return t.toString('latin1', 0, 36);
}
