/**
 * What a proxy needs from a Dubbo request body, decoded only as far as asked.
 *
 * Request body (Hessian2, one stream; DubboCodec.encodeRequestData):
 *   string dubboVersion, string path (service interface), string version, string method,
 *   string parameter-types descriptor (JVM form, e.g. "Ljava/lang/String;[I"),
 *   one value per parameter, then the attachments map (older peers may leave it out).
 *
 * `parse` (run by the decoder for every request) reads the five leading strings. Arguments and
 * attachments are reached on first use by SKIPPING the arguments (no objects built); the
 * class-definition table and the offsets found on the way are kept, so each argument and the
 * attachments are located once. Lazy failures are results too: the accessor returns null or
 * undefined and `error` holds a DubboDecodeError ('bad-body'); treat it like a decode error.
 *
 * All offsets here are from the start of the frame (header included), so they stay valid when
 * the frame's bytes are replaced by a copy (DubboFrame.detach).
 */

import { BC_NULL } from '../hessian2/constants.js';
import { Hessian2Reader } from '../hessian2/reader.js';
import { skipValue } from '../hessian2/skipper.js';
import { isScalarTag, readStringMap, readValueAsString } from '../hessian2/string-map.js';
import type { HessianError } from '../hessian2/error.js';
import { HEADER_SIZE } from './constants.js';
import { DubboDecodeError } from './decode-error.js';
import type { FrameHeader } from './frame-header.js';

/** The holder of a frame's bytes (DubboFrame). Read on every lazy access, so it may change to a copy. */
export interface FrameBytes {
  readonly bytes: Buffer;
}

/** Where the attachments sit in the frame; used by the attachment rewriter. */
export interface AttachmentLayout {
  /** Offset of the attachments value. Equals `end` when the body has no attachments at all. */
  readonly start: number;
  /** Offset of the first entry: after 'H', or after 'M' and its type. Equals `start` for a null map. */
  readonly entriesStart: number;
  /** Three offsets per entry, in wire order: key start, value start, value end. */
  readonly spans: readonly number[];
  /** Offset just past the map ('Z' included). */
  readonly end: number;
}

/** Shared by the eager parse and by one-off argument reads; JS is single-threaded and neither call re-enters. */
const scratch = new Hessian2Reader();

export class RequestInfo {
  /** Dubbo protocol version of the caller, e.g. "2.0.2". */
  readonly dubboVersion: string;
  /** Service path (the interface name unless the provider set a different path). */
  readonly path: string;
  /** Service version ('' when the caller sent none). */
  readonly version: string;
  readonly method: string;
  /** Parameter types descriptor, e.g. "Ljava/lang/String;J". */
  readonly paramTypes: string;

  readonly #frame: FrameBytes;
  readonly #header: FrameHeader;
  readonly #argsStart: number;
  #argCount = -2; // -2: not counted yet; -1: descriptor invalid
  /** Walks the arguments in order; owns the class-definition table they build. */
  #walker: Hessian2Reader | null = null;
  /** offsets[i] = start of argument i; offsets[argCount] = start of the attachments. */
  #offsets: number[] | null = null;
  #attachments: Map<string, string> | null = null;
  /** The attachments by lower-cased key, made on the first case-insensitive miss. */
  #lowerCaseAttachments: Map<string, string> | undefined;
  #layout: AttachmentLayout | null = null;
  #error: DubboDecodeError | null = null;

  private constructor(
    frame: FrameBytes,
    header: FrameHeader,
    argsStart: number,
    dubboVersion: string,
    path: string,
    version: string,
    method: string,
    paramTypes: string,
  ) {
    this.#frame = frame;
    this.#header = header;
    this.#argsStart = argsStart;
    this.dubboVersion = dubboVersion;
    this.path = path;
    this.version = version;
    this.method = method;
    this.paramTypes = paramTypes;
  }

  /**
   * Reads the five leading strings of a (non-event) request frame. A Hessian null in any of them
   * reads as ''. Returns a 'bad-body' error when they are not there.
   */
  static parse(frame: FrameBytes, header: FrameHeader): RequestInfo | DubboDecodeError {
    const r = scratch.reset(frame.bytes, HEADER_SIZE, HEADER_SIZE + header.bodyLength);
    const dubboVersion = r.readString() ?? '';
    const path = r.readString() ?? '';
    const version = r.readString() ?? '';
    const method = r.readString() ?? '';
    const paramTypes = r.readString() ?? '';
    r.release();
    if (r.error !== null) return bodyError(header, 'request header fields', r.error);
    return new RequestInfo(frame, header, r.pos, dubboVersion, path, version, method, paramTypes);
  }

  /** Alias of `path`: the service interface the route configuration matches on. */
  get interface(): string {
    return this.path;
  }

  /** The first lazy-decoding failure, or null. Once set, lazy accessors return null/undefined. */
  get error(): DubboDecodeError | null {
    return this.#error;
  }

  /** Number of parameters in the descriptor, or -1 when the descriptor is malformed (`error` is set). */
  get argumentCount(): number {
    if (this.#argCount === -2) {
      this.#argCount = countParameters(this.paramTypes);
      if (this.#argCount < 0) {
        this.#setError(
          new DubboDecodeError('bad-body', `malformed parameter types descriptor "${this.paramTypes}"`, this.#header),
        );
      }
    }
    return this.#argCount;
  }

  /**
   * The attachments, parsed on first call: entries with string keys and scalar values, as
   * strings (an int timeout reads as "3000"). Returns null when the body is malformed (`error`).
   */
  attachments(): ReadonlyMap<string, string> | null {
    if (this.#attachments === null && this.#error === null) this.#parseAttachments();
    return this.#attachments;
  }

  /**
   * One attachment by key, compared case-insensitively as Envoy's header map does (the routes
   * of dubbo_proxy and meta_protocol_proxy match on it); several values of keys that differ
   * only in case are joined with ",". Undefined when absent or when the body is malformed.
   */
  attachment(key: string): string | undefined {
    const all = this.attachments();
    if (!all) return undefined;
    const direct = all.get(key);
    if (direct !== undefined) return direct;
    if (!this.#lowerCaseAttachments) {
      this.#lowerCaseAttachments = new Map();
      for (const [k, v] of all) {
        const lower = k.toLowerCase();
        const seen = this.#lowerCaseAttachments.get(lower);
        this.#lowerCaseAttachments.set(lower, seen === undefined ? v : `${seen},${v}`);
      }
    }
    return this.#lowerCaseAttachments.get(key.toLowerCase());
  }

  /** The `group` attachment; undefined when absent or when the body is malformed. */
  get group(): string | undefined {
    return this.attachments()?.get('group');
  }

  /** Where the attachments are (parses them first if needed); null when the body is malformed. */
  attachmentLayout(): AttachmentLayout | null {
    if (this.#layout === null && this.#error === null) this.#parseAttachments();
    return this.#layout;
  }

  /**
   * Argument `index` converted to a string, for params_match: strings as they are, ints and longs
   * in base 10, doubles and booleans via JS String(). Undefined when the index is out of range,
   * the value is null or not a scalar (list, map, object, date, binary), or the body is malformed
   * (then `error` is set). Arguments before `index` are skipped, not built.
   */
  argumentAsString(index: number): string | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.argumentCount) return undefined;
    const start = this.#offset(index);
    const end = this.#offset(index + 1);
    if (start < 0 || end < 0) return undefined;
    const bytes = this.#frame.bytes;
    if (!isScalarTag(bytes[start]!)) return undefined;
    const value = readValueAsString(scratch.reset(bytes, start, end));
    scratch.release();
    return typeof value === 'string' ? value : undefined;
  }

  /**
   * Start offset of argument `i` (for i = argumentCount: of the attachments), skipping forward
   * as needed; -1 on failure.
   */
  #offset(i: number): number {
    if (this.#error !== null || this.argumentCount < 0) return -1;
    const offsets = (this.#offsets ??= [this.#argsStart]);
    if (offsets.length > i) return offsets[i]!;
    const walker = this.#borrowWalker();
    while (offsets.length <= i) {
      if (!skipValue(walker)) {
        this.#setError(bodyError(this.#header, `argument ${offsets.length - 1}`, walker.error!));
        break;
      }
      offsets.push(walker.pos);
    }
    walker.release();
    return this.#error === null ? offsets[i]! : -1;
  }

  /**
   * The argument walker, pointed at the frame's current bytes (the frame may have been detached
   * to a copy since the last call). Callers release() it when done, so that between calls it
   * holds no reference to the bytes and detach() really frees the read chunk.
   */
  #borrowWalker(): Hessian2Reader {
    const bytes = this.#frame.bytes;
    if (this.#walker === null) {
      this.#walker = new Hessian2Reader(bytes, this.#argsStart, HEADER_SIZE + this.#header.bodyLength);
    } else {
      this.#walker.buf = bytes;
    }
    return this.#walker;
  }

  #parseAttachments(): void {
    const start = this.#offset(this.argumentCount);
    if (start < 0) return;
    const spans: number[] = [];
    let map: Map<string, string> | null = new Map();
    let entriesStart = start;
    let end = start;
    const walker = this.#borrowWalker();
    if (start < walker.end) {
      walker.pos = start;
      map = readStringMap(walker, map, spans);
      end = walker.pos;
      if (map === null) {
        this.#setError(bodyError(this.#header, 'attachments', walker.error!));
      } else if (walker.buf[start] !== BC_NULL) {
        // After 'H', or 'M' and its type; with no entries, where the 'Z' is. A null ('N') has none.
        entriesStart = spans.length > 0 ? spans[0]! : end - 1;
      }
    }
    walker.release();
    if (map === null) return;
    this.#layout = { start, entriesStart, spans, end };
    this.#attachments = map;
  }

  #setError(error: DubboDecodeError): void {
    if (this.#error === null) this.#error = error;
  }
}

function bodyError(header: FrameHeader, what: string, hessian: HessianError): DubboDecodeError {
  return new DubboDecodeError('bad-body', `${what}: ${hessian.toString()}`, header, hessian);
}

/**
 * Counts the parameters in a JVM descriptor: each of V Z B C D F I J S, or L…; is one
 * parameter, and '[' prefixes (arrays) add none. Returns -1 for anything else.
 */
export function countParameters(descriptor: string): number {
  let count = 0;
  for (let i = 0; i < descriptor.length; i++) {
    const c = descriptor.charCodeAt(i);
    switch (c) {
      case 0x5b: // '['
        continue;
      case 0x4c: {
        // 'L' … ';'
        const semi = descriptor.indexOf(';', i + 1);
        if (semi < 0) return -1;
        i = semi;
        count++;
        continue;
      }
      case 0x56: // V
      case 0x5a: // Z
      case 0x42: // B
      case 0x43: // C
      case 0x44: // D
      case 0x46: // F
      case 0x49: // I
      case 0x4a: // J
      case 0x53: // S
        count++;
        continue;
      default:
        return -1;
    }
  }
  return count;
}
