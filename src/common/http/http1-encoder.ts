/**
 * HTTP/1.1 serialization: request and response heads from the flat header list the parser
 * produces ([name0, value0, name1, value1, …]), chunked framing, and whole local replies.
 *
 * Each head is built as one string and turned into bytes once (Buffer.from(s, 'latin1')):
 * V8 joins the pieces as a rope and flattens it in that single copy, which costs less than
 * one write per piece into a Buffer. latin1 because the parser decodes names and values as
 * latin1, so a forwarded header goes out with the bytes it came in with.
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

/** Appends "name: value\r\n" for each pair, then the blank line, to `s`. */
function withHeaders(s: string, headers: readonly string[]): string {
  for (let i = 0; i < headers.length; i += 2) s += headers[i] + ': ' + headers[i + 1] + CRLF_STRING;
  return s + CRLF_STRING;
}

/** "METHOD path HTTP/1.x\r\n" + fields + "\r\n". */
export function encodeRequestHead(
  method: string,
  path: string,
  headers: readonly string[],
  versionMinor: 0 | 1 = 1,
): Buffer {
  const line = method + ' ' + path + (versionMinor === 1 ? ' HTTP/1.1\r\n' : ' HTTP/1.0\r\n');
  return Buffer.from(withHeaders(line, headers), 'latin1');
}

/**
 * "HTTP/1.x code reason\r\n" + fields + "\r\n". The reason defaults to Envoy's phrase for the
 * code (Envoy writes its own phrase rather than forwarding upstream's).
 */
export function encodeResponseHead(
  statusCode: number,
  headers: readonly string[],
  reason: string = reasonPhrase(statusCode),
  versionMinor: 0 | 1 = 1,
): Buffer {
  const line = (versionMinor === 1 ? 'HTTP/1.1 ' : 'HTTP/1.0 ') + statusCode + ' ' + reason + CRLF_STRING;
  return Buffer.from(withHeaders(line, headers), 'latin1');
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
  return Buffer.from(withHeaders('0\r\n', trailers), 'latin1');
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
