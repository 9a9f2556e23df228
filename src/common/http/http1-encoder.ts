/**
 * HTTP/1.1 serialization: request and response heads from the flat header list the parser
 * produces ([name0, value0, name1, value1, …]), chunked framing, and whole local replies.
 *
 * Forwarded heads (encodeRequestHead, encodeResponseHead) are measured first, then written
 * into one Buffer of that size, short strings byte by byte in JavaScript and long ones with
 * latin1Write: no intermediate string, where joining the pieces (a rope of ~40 parts, then
 * flattened, then Buffer.from) allocated several times the head's size per head and cost a
 * third more (bench/http/parser-bench.mjs, "encode"). Either way the bytes are latin1 (the
 * low byte of each UTF-16 unit), because the parser decodes names and values as latin1, so a
 * forwarded header goes out with the bytes it came in with. Local replies, rare, are built as
 * one string.
 *
 * Nothing here validates: names and values must already be valid (the parser's output is;
 * values from config or filters should be checked once, where they enter, with isToken and
 * isValidHeaderValue from http1-parser.ts). A CR or LF in a value would split the message.
 *
 * Names are written as given; Courier keeps them lower case, as Envoy sends them by default.
 *
 * Pure functions and constant Buffers (which callers must never modify); worker-side.
 */
import { reasonPhrase } from './http-status.js';

const CRLF_STRING = '\r\n';

/** The CRLF that ends chunk data. Shared: never modify. */
export const CRLF: Buffer = Buffer.from(CRLF_STRING, 'latin1');

/** The last chunk with no trailers: "0\r\n\r\n". Shared: never modify. */
export const LAST_CHUNK: Buffer = Buffer.from('0\r\n\r\n', 'latin1');

/** The interim response that lets a client send the body it announced with Expect: 100-continue. */
export const CONTINUE_100: Buffer = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

/** Strings at least this long are copied by latin1Write (one call into C++) rather than a loop. */
const LONG_STRING = 64;

interface Latin1Writer {
  latin1Write(s: string, offset: number, length: number): number;
}

/** Writes `s` as latin1 at `at`; returns the offset after it. `buf` has room (measured). */
function put(buf: Buffer, at: number, s: string): number {
  const n = s.length;
  // latin1Write is what buf.write(s, at, n, 'latin1') calls underneath (Node 20), without its
  // argument normalisation.
  if (n >= LONG_STRING) return at + (buf as unknown as Latin1Writer).latin1Write(s, at, n);
  for (let i = 0; i < n; i++) buf[at + i] = s.charCodeAt(i);
  return at + n;
}

/**
 * The start line, in up to four pieces written one after the other (CRLF included; pieces are
 * not joined first, so no rope is made and walked), then "name: value\r\n" per field, then the
 * blank line, in one Buffer.
 */
function encodeHead(p1: string, p2: string, p3: string, p4: string, headers: readonly string[]): Buffer {
  let size = p1.length + p2.length + p3.length + p4.length + 2;
  const n = headers.length;
  for (let i = 0; i < n; i += 2) size += headers[i]!.length + headers[i + 1]!.length + 4;
  const buf = Buffer.allocUnsafe(size);
  let at = put(buf, put(buf, put(buf, put(buf, 0, p1), p2), p3), p4);
  for (let i = 0; i < n; i += 2) {
    at = put(buf, at, headers[i]!);
    buf[at] = 0x3a; // ':'
    buf[at + 1] = 0x20;
    at = put(buf, at + 2, headers[i + 1]!);
    buf[at] = 0x0d;
    buf[at + 1] = 0x0a;
    at += 2;
  }
  buf[at] = 0x0d;
  buf[at + 1] = 0x0a;
  return buf;
}

/** "METHOD path HTTP/1.x\r\n" + fields + "\r\n". */
export function encodeRequestHead(
  method: string,
  path: string,
  headers: readonly string[],
  versionMinor: 0 | 1 = 1,
): Buffer {
  return encodeHead(method, ' ', path, versionMinor === 1 ? ' HTTP/1.1\r\n' : ' HTTP/1.0\r\n', headers);
}

/**
 * Status lines with Envoy's phrase, by version then code, made on first use; joined (a flat
 * string, not a rope of five parts).
 */
const STATUS_LINES: [string[], string[]] = [[], []];

/**
 * "HTTP/1.x code reason\r\n" + fields + "\r\n". The reason defaults to Envoy's phrase for the
 * code (Envoy writes its own phrase rather than forwarding upstream's).
 */
export function encodeResponseHead(
  statusCode: number,
  headers: readonly string[],
  reason?: string,
  versionMinor: 0 | 1 = 1,
): Buffer {
  const version = versionMinor === 1 ? 'HTTP/1.1 ' : 'HTTP/1.0 ';
  let line: string;
  if (reason !== undefined) {
    line = version + statusCode + ' ' + reason + CRLF_STRING;
  } else if (Number.isInteger(statusCode) && statusCode >= 100 && statusCode <= 999) {
    const lines = STATUS_LINES[versionMinor];
    line = lines[statusCode] ??= [version, statusCode, ' ', reasonPhrase(statusCode), CRLF_STRING].join('');
  } else {
    line = version + statusCode + ' ' + reasonPhrase(statusCode) + CRLF_STRING;
  }
  return encodeHead(line, '', '', '', headers);
}

/**
 * The line before `size` bytes of chunk data: hex size + CRLF. Write it, the data, then CRLF
 * (socket.cork() or writev keeps that one packet without copying the data).
 */
export function encodeChunkHeader(size: number): Buffer {
  return Buffer.from(size.toString(16) + CRLF_STRING, 'latin1');
}

/**
 * A whole chunk in one Buffer: size line, data, CRLF. Copies the data: for small chunks,
 * where one write beats three. An empty `data` would be the last chunk, so it gives an empty
 * Buffer instead (nothing to send).
 */
export function encodeChunk(data: Buffer): Buffer {
  if (data.length === 0) return Buffer.alloc(0);
  const sizeLine = data.length.toString(16) + CRLF_STRING;
  const out = Buffer.allocUnsafe(sizeLine.length + data.length + 2);
  out.write(sizeLine, 0, 'latin1');
  data.copy(out, sizeLine.length);
  out[out.length - 2] = 0x0d;
  out[out.length - 1] = 0x0a;
  return out;
}

/** The end of a chunked body: "0\r\n", trailer fields, "\r\n". Without trailers, LAST_CHUNK. */
export function encodeLastChunk(trailers?: readonly string[]): Buffer {
  if (trailers === undefined || trailers.length === 0) return LAST_CHUNK;
  return encodeHead('0\r\n', '', '', '', trailers);
}

export interface LocalReply {
  statusCode: number;
  /** The body; a string is sent as UTF-8. Default: none (content-length: 0). */
  body?: string | Buffer;
  /** content-type when there is a body. Default text/plain, as Envoy's local replies. */
  contentType?: string;
  /** More fields, flat, written after content-length and content-type (date, server, …). */
  headers?: readonly string[];
  /** Adds `connection: close`: the connection ends after this reply. */
  close?: boolean;
  /** The request was HEAD: content-length is sent, the body is not. */
  headRequest?: boolean;
  versionMinor?: 0 | 1;
}

/**
 * A complete response the proxy makes itself (a 503 with "no healthy upstream", a 400 after a
 * parse error, a direct_response), in one Buffer, laid out as Envoy writes them:
 * status line, content-length, content-type, the given fields, connection: close.
 */
export function encodeLocalReply(reply: LocalReply): Buffer {
  const body = reply.body ?? '';
  const bodyBytes = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
  let s =
    (reply.versionMinor === 0 ? 'HTTP/1.0 ' : 'HTTP/1.1 ') +
    reply.statusCode +
    ' ' +
    reasonPhrase(reply.statusCode) +
    '\r\ncontent-length: ' +
    bodyBytes +
    CRLF_STRING;
  if (bodyBytes > 0) s += 'content-type: ' + (reply.contentType ?? 'text/plain') + CRLF_STRING;
  const extra = reply.headers;
  if (extra !== undefined) {
    for (let i = 0; i < extra.length; i += 2) s += extra[i] + ': ' + extra[i + 1] + CRLF_STRING;
  }
  if (reply.close === true) s += 'connection: close\r\n';
  s += CRLF_STRING;

  const sendBody = bodyBytes > 0 && reply.headRequest !== true;
  if (!sendBody) return Buffer.from(s, 'latin1');
  const out = Buffer.allocUnsafe(s.length + bodyBytes);
  const headBytes = out.write(s, 0, 'latin1');
  if (typeof body === 'string') out.write(body, headBytes, 'utf8');
  else body.copy(out, headBytes);
  return out;
}
