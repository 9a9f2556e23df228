/**
 * An incremental HTTP/1.1 parser for both directions: requests on the downstream (server) side,
 * responses on the upstream (client) side. Protocol only: it is fed the Buffers a socket reads,
 * in any slicing, and reports what it finds through four callbacks; it never touches a socket.
 *
 * Why our own: node:http as a proxy peaks near 3.6k req/s here where nginx serves 73.7k, and a
 * raw keep-alive socket client reaches 61k (../shared/reference/node-ecosystem.md §5). The codec
 * is the hot path, so it is written for the hot path: bodies are never copied, heads are scanned
 * once, byte by byte, and turned into strings once, at the end.
 *
 * Wire grammar (RFC 9112), with what this parser accepts:
 *
 * ```
 * message     = start-line CRLF *( field-line CRLF ) CRLF [ body ]
 * request     = method SP request-target SP "HTTP/" DIGIT "." DIGIT   (exactly one SP each)
 * status-line = "HTTP/1." DIGIT SP 3DIGIT [ SP reason ]         (a missing reason is accepted)
 * field-line  = token ":" OWS value OWS                         (no SP before ":", no obs-fold)
 * value chars = HTAB / SP / %x21-7E / %x80-FF                   (no CTL, no DEL, no bare CR/LF)
 * chunked     = *( chunk-size [ chunk-ext ] CRLF data CRLF ) "0" [ chunk-ext ] CRLF trailers CRLF
 * chunk-ext   = *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )
 * ```
 *
 * Line endings are CRLF, strictly: a bare LF or a CR not followed by LF is an error, never a
 * line break, so Courier and the server behind it cannot disagree about where a line ends.
 * Empty lines (CRLF) before a start line are skipped (RFC 9112 §2.2); they count toward the
 * head's byte limit.
 *
 * Framing, in RFC 9112 §6.3 order, with the request-smuggling defences Envoy applies (each
 * failure is an Http1ParseError with its own code; see HTTP1_ERROR_CODES):
 * - Transfer-Encoding and Content-Length together: rejected (Envoy's default,
 *   allow_chunked_length false): content_length_and_chunked.
 * - Transfer-Encoding other than exactly one "chunked" (any case): invalid_transfer_encoding,
 *   501 as in Envoy. Two Transfer-Encoding fields are rejected even if both say chunked.
 *   In an HTTP/1.0 message it is rejected too (RFC 9112 §6.1: the framing is faulty).
 * - Content-Length: exactly one field of 1*DIGIT. A list ("42, 42") or repeated fields are
 *   refused, as Envoy refuses them: multiple_content_length when the values agree (RFC 9110
 *   §8.6 allows refusing; forwarding them makes strict upstreams fail), else
 *   conflicting_content_length; invalid_content_length for anything not a number.
 * - CONNECT requests may not carry a body (Envoy: transfer_encoding_not_allowed,
 *   content_length_not_allowed); 1xx and 204 responses likewise.
 * - Responses to HEAD, and 1xx / 204 / 304, have no body whatever their headers say. The
 *   parser knows the request method only if told: expectResponse(method), once per request.
 * - A response with neither field is read until the connection closes (finish()).
 *
 * Request semantics Envoy's codec enforces, enforced here too: one Host field (multiple_host);
 * a method from Envoy's list unless allowCustomMethods (unknown_method); a request-target of
 * %x21-7E only (invalid_target_character); a version other than exactly HTTP/1.1 handled as
 * HTTP/1.0 (the connection manager then answers 426 unless accept_http_10). Fields that a
 * `Connection` header nominates are removed from the head, both directions
 * (header-sanitizer.ts; a request nominating x-forwarded-* or ten tokens is refused:
 * connection_header_rejected). Trailers are reported as received; the proxy decides.
 *
 * Upgrade and CONNECT: a request with `Upgrade` (other than h2c, which Envoy ignores) listed in
 * `Connection`, or a CONNECT, has bodyKind 'tunnel': every byte after its head goes to onBody
 * raw, and onMessageComplete comes only at finish(). Likewise a 101 response, or a 2xx to a
 * CONNECT. If the peer refuses the upgrade the bytes already passed on are not HTTP the proxy
 * has checked, so the proxy must close the connection then, as Envoy does.
 *
 * Memory and copies:
 * - A body chunk passed to onBody is a subarray of a Buffer given to execute(): no copy. It
 *   keeps that whole read chunk alive while referenced; a consumer that keeps it past the
 *   callback (queued behind backpressure) holds the read chunk, nothing more.
 * - A head that arrives within one Buffer is scanned in place. A head split across Buffers is
 *   copied, once, into a per-parser buffer that grows to at most maxHeaderBytes; positions are
 *   recorded as offsets, so a head trickled one byte at a time still costs O(n).
 * - The head is decoded once, as latin1 (one character per byte, so re-encoding gives the same
 *   bytes back), and each value is a substring of that string; V8 may keep a long one as a view
 *   of it, so a header kept for long pins its head's string (never the read Buffer).
 * - Header names are lower-cased; common ones (host, content-length, …) come from a table of
 *   constant strings, compared in place, so they cost no string at all.
 *
 * Pipelining and pausing: after a message completes the parser goes on with the next one in
 * the same Buffer. pause() (typically called from onMessageComplete, while a response is still
 * owed) stops it once the current callback returns; the rest of the Buffer, and anything fed
 * to execute() meanwhile, is kept (as views, not copies) until resume(), which parses it
 * synchronously. A completion that needs no more input (a body-less message after its head)
 * is still reported when pause() is called in onHead. The caller should stop reading from the
 * socket while paused (bufferedBytes says how much is held).
 *
 * Errors are results, never exceptions, and sticky: once execute() returns an error the parser
 * ignores further input; the connection should be answered (error.status, error.details) and
 * closed. After a message that ends the connection (Connection: close, HTTP/1.0 without
 * keep-alive, or a body read until close) further bytes are ignored.
 *
 * Worker-only: one parser per connection and direction, driven from that connection's 'data'
 * handler. Callbacks run synchronously inside execute(), resume() and finish(); they may call
 * pause(), resume(), expectResponse() and even execute() (which then queues its input).
 */

import { MAX_CONNECTION_TOKENS, sanitizeConnectionHeader } from './header-sanitizer.js';

// ---------------------------------------------------------------------------------------------
// Public types

/** How the body of a message is delimited. */
export type Http1BodyKind =
  /** No body: the head ends the message (also Content-Length: 0). */
  | 'none'
  /** contentLength bytes follow. */
  | 'length'
  /** Transfer-Encoding: chunked. */
  | 'chunked'
  /** A response without framing: the body ends when the connection closes (finish()). */
  | 'until-close'
  /** Upgrade or CONNECT: every later byte is the tunnel's, raw, until finish(). */
  | 'tunnel';

export interface Http1HeadCommon {
  /** 1 for HTTP/1.1; 0 for HTTP/1.0 and any other version (handled as 1.0, as in Envoy). */
  readonly versionMinor: 0 | 1;
  /** Flat [name0, value0, name1, value1, …]: names lower-cased, values without outer OWS. */
  readonly headers: string[];
  /**
   * Whether the connection stays open after this message: HTTP/1.1 unless `Connection: close`;
   * HTTP/1.0 only with `Connection: keep-alive`; never for 'until-close' or 'tunnel' bodies.
   */
  readonly keepAlive: boolean;
  /**
   * The connection leaves HTTP after this head. Requests: an Upgrade request (not h2c) or a
   * CONNECT (what the peer answers decides whether it really does). Responses: a 101, or a
   * 2xx to CONNECT.
   */
  readonly upgrade: boolean;
  readonly bodyKind: Http1BodyKind;
  /** The Content-Length value when present (also for HEAD responses, which have no body). */
  readonly contentLength: number | null;
}

export interface Http1RequestHead extends Http1HeadCommon {
  /** Case as sent (methods are case-sensitive). */
  readonly method: string;
  /** The request-target as sent: origin-form, absolute-form, authority-form or "*". */
  readonly path: string;
  /** `Expect: 100-continue` on an HTTP/1.1 request (RFC 9110 §10.1.1: ignored for 1.0). */
  readonly expectContinue: boolean;
}

export interface Http1ResponseHead extends Http1HeadCommon {
  readonly statusCode: number;
  /** The reason phrase as sent (may be empty). */
  readonly reason: string;
}

export type Http1Head = Http1RequestHead | Http1ResponseHead;

/**
 * What the parser reports. Per message, in order: onMessageBegin, onHead, onBody × n,
 * onMessageComplete. A 1xx interim response (not 101) is a message of its own, with no body,
 * followed by the final response to the same request.
 */
export interface Http1ParserCallbacks<H extends Http1Head> {
  /** The first byte of a start line arrived (a request timer may start here). */
  onMessageBegin?(): void;
  /** The head is complete and valid. */
  onHead(head: H): void;
  /** Body bytes (de-chunked), or raw tunnel bytes. A view of the input: see the file comment. */
  onBody(chunk: Buffer): void;
  /** The message ended. Trailers, when a chunked body had any, in the same flat form. */
  onMessageComplete(trailers?: string[]): void;
}

export interface Http1ParserOptions {
  /**
   * Largest head (start line, header lines, CRLFs) in bytes; also the limit for a trailer
   * section. Default 60 KiB, Envoy's max_request_headers_kb. Exceeding it: headers_too_large.
   */
  maxHeaderBytes?: number;
  /** Most header fields (and trailer fields). Default 100, Envoy's max_headers_count. */
  maxHeaderCount?: number;
  /**
   * Longest request-target. Envoy has no separate limit (the request line counts toward
   * max_request_headers_kb), so the default is maxHeaderBytes. Exceeding it: uri_too_long.
   */
  maxUriBytes?: number;
  /** Longest chunk-size line (size and extensions, CRLF included). Default 4096. */
  maxChunkLineBytes?: number;
  /**
   * Requests: accept any token as a method (Envoy's http_protocol_options.allow_custom_methods).
   * Default false: only the methods Envoy's codec knows; others are unknown_method.
   */
  allowCustomMethods?: boolean;
}

export const DEFAULT_MAX_HEADER_BYTES = 60 * 1024;
export const DEFAULT_MAX_HEADER_COUNT = 100;
export const DEFAULT_MAX_CHUNK_LINE_BYTES = 4096;

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * Every error code, each with the response code details Envoy logs for it (%RESPONSE_CODE_DETAILS%)
 * and the status a server answers a bad request with. Envoy folds most parser failures into
 * http1.codec_error; the codes here stay specific so tests and logs can tell them apart.
 */
const ERROR_TABLE = {
  /** The head (or trailer section) is larger than maxHeaderBytes. */
  headers_too_large: ['http1.headers_too_large', 431],
  /** More than maxHeaderCount fields. */
  too_many_headers: ['http1.too_many_headers', 431],
  /** The request-target is longer than maxUriBytes. */
  uri_too_long: ['http1.headers_too_large', 414],
  /** The method is empty or has a byte that is not a token character. */
  invalid_method: ['http1.codec_error', 400],
  /**
   * A token method Envoy's codec does not know (its list: GET, POST, … PROPFIND, MKCOL, …;
   * case-sensitive) while allowCustomMethods is off (Envoy's allow_custom_methods, default false).
   */
  unknown_method: ['http1.codec_error', 400],
  /** The request-target is empty, has a CTL, SP or DEL, or is not a form the method allows. */
  invalid_url: ['http1.invalid_url', 400],
  /**
   * A request-target byte outside %x21-7E: obs-text (>= 0x80) is refused as Envoy's parser
   * refuses it (HPE_INVALID_URL, a codec error); RFC 3986 targets are ASCII, and a raw high
   * byte would reach the upstream, and its logs, undecoded.
   */
  invalid_target_character: ['http1.codec_error', 400],
  /** Not "HTTP/" DIGIT "." DIGIT, or no version at all (HTTP/0.9). */
  invalid_version: ['http1.codec_error', 400],
  /** A status line without three digits, or with a CTL in the reason. */
  invalid_status: ['http1.codec_error', 400],
  /** A bare LF, or a CR not followed by LF. */
  invalid_line_ending: ['http1.codec_error', 400],
  /** A field name that is empty, has a non-token byte, or a line without a colon. */
  invalid_header_name: ['http1.invalid_characters', 400],
  /** SP or HTAB between a field name and the colon (RFC 9112 §5.1: must be rejected). */
  whitespace_before_colon: ['http1.codec_error', 400],
  /** A field line starting with SP or HTAB: obsolete line folding (RFC 9112 §5.2). */
  obs_fold: ['http1.codec_error', 400],
  /** A CTL (other than HTAB) or DEL in a field value. */
  invalid_header_value: ['http1.invalid_characters', 400],
  /** Content-Length that is not 1*DIGIT (or a list of them), or is beyond 2^53 - 1. */
  invalid_content_length: ['http1.codec_error', 400],
  /** Content-Length values that differ (repeated fields or a list). */
  conflicting_content_length: ['http1.codec_error', 400],
  /**
   * Content-Length repeated with the same value (two fields, or a list "3, 3"). RFC 9110 §8.6
   * lets a recipient refuse it or forward one value; Envoy refuses it (its parser's
   * disallow_multiple_content_length: HPE_UNEXPECTED_CONTENT_LENGTH), and so does Courier.
   */
  multiple_content_length: ['http1.codec_error', 400],
  /**
   * More than one Host field in a request (RFC 9112 §3.2: 400). Envoy's details for a Host it
   * refuses: http.invalid_authority.
   */
  multiple_host: ['http.invalid_authority', 400],
  /**
   * A request's Connection header names ten or more tokens, or nominates x-forwarded-for,
   * x-forwarded-host, x-forwarded-proto or a pseudo-header (Envoy's sanitizeConnectionHeader).
   */
  connection_header_rejected: ['http1.connection_header_rejected', 400],
  /** Both Transfer-Encoding and Content-Length. */
  content_length_and_chunked: ['http1.content_length_and_chunked_not_allowed', 400],
  /** Transfer-Encoding other than exactly "chunked", or on an HTTP/1.0 message. */
  invalid_transfer_encoding: ['http1.invalid_transfer_encoding', 501],
  /** Transfer-Encoding on a CONNECT request, or on a 1xx / 204 response. */
  transfer_encoding_not_allowed: ['http1.transfer_encoding_not_allowed', 400],
  /** A non-zero Content-Length on a CONNECT request, or on a 1xx / 204 response. */
  content_length_not_allowed: ['http1.content_length_not_allowed', 400],
  /** A chunk size that is missing, not hex, followed by junk, or beyond 2^53 - 1. */
  invalid_chunk_size: ['http1.codec_error', 400],
  /** A chunk extension that is not `;token[=token|quoted-string]`. */
  invalid_chunk_extension: ['http1.codec_error', 400],
  /** A chunk-size line longer than maxChunkLineBytes. */
  chunk_line_too_long: ['http1.codec_error', 400],
  /** Chunk data not followed by CRLF. */
  invalid_chunk_terminator: ['http1.codec_error', 400],
  /** The connection closed in the middle of a message (finish()). */
  premature_eof: ['http1.codec_error', 400],
} as const satisfies Record<string, readonly [string, number]>;

export type Http1ErrorCode = keyof typeof ERROR_TABLE;

/** The documented list of codes, for tests that keep docs and code in step. */
export const HTTP1_ERROR_CODES = Object.keys(ERROR_TABLE) as readonly Http1ErrorCode[];

/** A parse failure, returned (never thrown). Narrow on `ok`. */
export class Http1ParseError {
  readonly ok = false as const;
  /** Envoy's response code details for this failure, e.g. http1.codec_error. */
  readonly details: string;
  /** What a server answers a request that failed this way with (400, 431, 414, 501). */
  readonly status: number;

  constructor(
    readonly code: Http1ErrorCode,
    readonly message: string,
    status?: number,
  ) {
    const [details, defaultStatus] = ERROR_TABLE[code];
    this.details = details;
    this.status = status ?? defaultStatus;
  }

  toString(): string {
    return `http1 ${this.code}: ${this.message}`;
  }
}

export type Http1ParseResult = { readonly ok: true } | Http1ParseError;

const OK: { readonly ok: true } = Object.freeze({ ok: true as const });

// ---------------------------------------------------------------------------------------------
// Character classes

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const SEMI = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

/** tchar (RFC 9110 §5.6.2). */
const C_TOKEN = 1;
/** VCHAR or obs-text: %x21-7E / %x80-FF. */
const C_VCHAR = 2;
/** SP or HTAB. */
const C_WS = 4;
/** A-Z, to know whether a name needs lower-casing. */
const C_UPPER = 8;
/** What a field value may hold: VCHAR, obs-text, SP, HTAB. */
const C_FIELD = C_VCHAR | C_WS;
/** qdtext in a quoted-string: HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text. */
const C_QDTEXT = 16;
/** What a request-target may hold: %x21-7E (no obs-text: see invalid_target_character). */
const C_TARGET = 32;

const CHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  let f = 0;
  if ((c >= 0x21 && c <= 0x7e) || c >= 0x80) f |= C_VCHAR;
  if (c >= 0x21 && c <= 0x7e) f |= C_TARGET;
  if (c === SP || c === HTAB) f |= C_WS;
  const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  if (alnum || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c))) f |= C_TOKEN;
  if (c >= 0x41 && c <= 0x5a) f |= C_UPPER;
  if (c === HTAB || c === SP || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80) {
    f |= C_QDTEXT;
  }
  CHAR[c] = f;
}

/** Hex digit values; 0xff for anything else. */
const HEX = new Uint8Array(256).fill(0xff);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[0x41 + c] = 10 + c;
  HEX[0x61 + c] = 10 + c;
}

/** True when `s` is a non-empty token: a valid header name or method. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || (CHAR[c]! & C_TOKEN) === 0) return false;
  }
  return true;
}

/**
 * True when `s` can be sent as a field value: no CR, LF, NUL or other CTL, no DEL, and only
 * latin1 characters (the encoder writes values as latin1). For values from config or filters;
 * values the parser produced already qualify.
 */
export function isValidHeaderValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || (CHAR[c]! & C_FIELD) === 0) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Strings without waste

interface Latin1Slicer {
  latin1Slice(start: number, end: number): string;
}

/**
 * buf.toString('latin1', s, e) without its argument normalisation: the hot path makes ~20 of
 * these per request. latin1Slice is what toString calls underneath (Node 20).
 */
function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as Latin1Slicer).latin1Slice(start, end);
}

/** Builds a by-length lookup of constant strings. */
function byLength(words: readonly string[]): (readonly string[] | undefined)[] {
  const table: string[][] = [];
  for (const w of words) (table[w.length] ??= []).push(w);
  return table;
}

/** Header names common enough that decoding them should allocate nothing. Lower case. */
const COMMON_NAMES = byLength([
  'accept', 'accept-charset', 'accept-encoding', 'accept-language', 'accept-ranges',
  'access-control-allow-origin', 'age', 'allow', 'authorization', 'cache-control', 'connection',
  'content-disposition', 'content-encoding', 'content-language', 'content-length',
  'content-location', 'content-range', 'content-type', 'cookie', 'date', 'etag', 'expect',
  'expires', 'forwarded', 'grpc-encoding', 'grpc-message', 'grpc-status', 'grpc-timeout', 'host',
  'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since',
  'keep-alive', 'last-modified', 'link', 'location', 'origin', 'pragma', 'proxy-authorization',
  'proxy-connection', 'range', 'referer', 'retry-after', 'sec-websocket-accept',
  'sec-websocket-extensions', 'sec-websocket-key', 'sec-websocket-protocol',
  'sec-websocket-version', 'server', 'set-cookie', 'strict-transport-security', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'user-agent', 'vary', 'via', 'www-authenticate',
  'x-envoy-attempt-count', 'x-envoy-expected-rq-timeout-ms', 'x-envoy-external-address',
  'x-envoy-internal', 'x-envoy-original-path', 'x-envoy-retry-on',
  'x-envoy-upstream-rq-timeout-ms', 'x-envoy-upstream-service-time', 'x-forwarded-for',
  'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip', 'x-request-id',
]);

/**
 * The constant lower-case string for a common name, compared case-insensitively, or undefined.
 * `(b | 0x20) === c` is a case-insensitive match only because names hold token characters
 * alone and the table holds only [a-z0-9-]: no other token byte ORs to one of those.
 */
function commonName(buf: Buffer, start: number, end: number): string | undefined {
  const candidates = COMMON_NAMES[end - start];
  if (candidates === undefined) return undefined;
  next: for (let k = 0; k < candidates.length; k++) {
    const name = candidates[k]!;
    for (let i = start, j = 0; i < end; i++, j++) {
      if ((buf[i]! | 0x20) !== name.charCodeAt(j)) continue next;
    }
    return name;
  }
  return undefined;
}

const METHODS = byLength(['GET', 'PUT', 'POST', 'HEAD', 'PATCH', 'TRACE', 'DELETE', 'CONNECT', 'OPTIONS']);

/**
 * The methods Envoy's HTTP/1 codec accepts without allow_custom_methods (its parser's list,
 * inherited from http-parser: WebDAV, CalDAV, UPnP and the like). Case-sensitive.
 */
const ENVOY_METHODS: ReadonlySet<string> = new Set([
  'ACL', 'BIND', 'CHECKOUT', 'CONNECT', 'COPY', 'DELETE', 'GET', 'HEAD', 'LINK', 'LOCK', 'MERGE',
  'MKACTIVITY', 'MKCALENDAR', 'MKCOL', 'MOVE', 'MSEARCH', 'NOTIFY', 'OPTIONS', 'PATCH', 'POST',
  'PROPFIND', 'PROPPATCH', 'PURGE', 'PUT', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE', 'SUBSCRIBE',
  'TRACE', 'UNBIND', 'UNLINK', 'UNLOCK', 'UNSUBSCRIBE',
]);

/** The constant string for a standard method (exact case), or undefined. */
function commonMethod(buf: Buffer, start: number, end: number): string | undefined {
  const candidates = METHODS[end - start];
  if (candidates === undefined) return undefined;
  next: for (let k = 0; k < candidates.length; k++) {
    const m = candidates[k]!;
    for (let i = start, j = 0; i < end; i++, j++) {
      if (buf[i] !== m.charCodeAt(j)) continue next;
    }
    return m;
  }
  return undefined;
}

/** ASCII case-insensitive comparison of s[start, end) with a lower-case literal. */
function equalsLower(s: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = s.charCodeAt(start + i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

const CONN_CLOSE = 1;
const CONN_KEEP_ALIVE = 2;
const CONN_UPGRADE = 4;
/** Some token is not one of the three above (a nominated field), or there are too many tokens. */
const CONN_OTHER = 8;

/** The Connection options we act on, from a comma-separated token list, without allocating. */
function connectionOptions(v: string): number {
  let flags = 0;
  let tokens = 0;
  let i = 0;
  const n = v.length;
  while (i < n) {
    while (i < n && (v.charCodeAt(i) === SP || v.charCodeAt(i) === HTAB || v.charCodeAt(i) === 0x2c)) i++;
    const start = i;
    while (i < n && v.charCodeAt(i) !== 0x2c) i++;
    let end = i;
    while (end > start && (v.charCodeAt(end - 1) === SP || v.charCodeAt(end - 1) === HTAB)) end--;
    if (end === start) continue;
    if (++tokens >= MAX_CONNECTION_TOKENS) flags |= CONN_OTHER;
    if (equalsLower(v, start, end, 'close')) flags |= CONN_CLOSE;
    else if (equalsLower(v, start, end, 'keep-alive')) flags |= CONN_KEEP_ALIVE;
    else if (equalsLower(v, start, end, 'upgrade')) flags |= CONN_UPGRADE;
    else flags |= CONN_OTHER;
  }
  return flags;
}

const CL_INVALID = -1;
const CL_CONFLICT = -2;
const CL_REPEATED = -4;

/**
 * A Content-Length value: 1*DIGIT, or a comma-separated list of such values. Returns the
 * length, CL_INVALID, CL_CONFLICT (a list of different values) or CL_REPEATED (a list of one
 * value repeated, which the caller refuses as Envoy does). Values above 2^53 - 1 are invalid: no real
 * body is that large and beyond it a JS number would no longer count bytes exactly.
 */
function parseContentLength(v: string): number {
  let result = -3;
  let i = 0;
  const n = v.length;
  for (;;) {
    while (i < n && (v.charCodeAt(i) === SP || v.charCodeAt(i) === HTAB)) i++;
    const start = i;
    let value = 0;
    while (i < n) {
      const d = v.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) break;
      value = value * 10 + d;
      i++;
    }
    if (i === start || i - start > 16 || value > Number.MAX_SAFE_INTEGER) return CL_INVALID;
    while (i < n && (v.charCodeAt(i) === SP || v.charCodeAt(i) === HTAB)) i++;
    if (result !== -3 && value !== result) return CL_CONFLICT;
    if (result !== -3 && i === n) return CL_REPEATED;
    result = value;
    if (i === n) return result;
    if (v.charCodeAt(i) !== 0x2c) return CL_INVALID;
    i++;
  }
}

/** A split-head buffer up to this size is kept for the connection's next split head. */
const ACC_KEEP_BYTES = 16 * 1024;

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
/**
 * An authority-form target (CONNECT) holds only what RFC 3986's authority may: unreserved,
 * sub-delims, ':', '@', '[', ']' and percent escapes. llhttp refuses anything else (such as
 * '<'), so a CONNECT target Envoy's codec would refuse is refused here too.
 */
const AUTHORITY_FORM = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]+$/;

// ---------------------------------------------------------------------------------------------
// States

/**
 * Message-level states:
 *
 * ```
 *   HEAD ─head─┬─ none ──────────────────────────────────────────────┐
 *    ▲         ├─ length ────→ BODY_LENGTH ──────────────────────────┤
 *    │         ├─ chunked ───→ CHUNK_LINE ⇄ CHUNK_DATA (+ CR, LF)    │
 *    │         │               CHUNK_LINE (size 0) → TRAILERS ───────┤
 *    │         ├─ until-close → UNTIL_CLOSE ── finish() ──→ CLOSED   │
 *    │         └─ tunnel ────→ TUNNEL ─────── finish() ──→ CLOSED    │
 *    └─────────── message complete, keep-alive ◀─────────────────────┤
 *                 message complete, not keep-alive ──→ CLOSED ◀──────┘
 *                 (CLOSED: later bytes are ignored)
 *   any ── bad input ──→ ERROR (sticky)
 * ```
 */
const ST_HEAD = 0;
const ST_BODY_LENGTH = 1;
const ST_CHUNK_LINE = 2;
const ST_CHUNK_DATA = 3;
const ST_CHUNK_DATA_CR = 4;
const ST_CHUNK_DATA_LF = 5;
const ST_TRAILERS = 6;
const ST_UNTIL_CLOSE = 7;
const ST_TUNNEL = 8;
const ST_CLOSED = 9;
const ST_ERROR = 10;

const STATE_NAMES = [
  'head',
  'body-length',
  'chunk-line',
  'chunk-data',
  'chunk-data-cr',
  'chunk-data-lf',
  'trailers',
  'until-close',
  'tunnel',
  'closed',
  'error',
] as const;
export type Http1ParserState = (typeof STATE_NAMES)[number];

/** Head and trailer scanner states: where in a line the next byte falls. */
const HS_LEADING = 0; // before the start line: skipping empty lines
const HS_LEADING_LF = 1;
const HS_RL_METHOD = 2; // request line
const HS_RL_TARGET = 3;
const HS_RL_VERSION = 4;
const HS_SL_VERSION = 5; // status line
const HS_SL_CODE = 6;
const HS_SL_REASON = 7;
const HS_START_LF = 8;
const HS_LINE_START = 9; // field lines
const HS_NAME = 10;
const HS_VALUE_OWS = 11;
const HS_VALUE = 12;
const HS_LINE_LF = 13;
const HS_END_LF = 14;

/** Chunk-size line states. */
const CS_SIZE_START = 0;
const CS_SIZE = 1;
const CS_SIZE_WS = 2;
const CS_EXT_NAME_START = 3;
const CS_EXT_NAME = 4;
const CS_EXT_AFTER_NAME = 5;
const CS_EXT_VALUE_START = 6;
const CS_EXT_TOKEN = 7;
const CS_EXT_QUOTED = 8;
const CS_EXT_QUOTED_ESC = 9;
const CS_EXT_AFTER_VALUE = 10;
const CS_LF = 11;

/** Error codes by scanner state, for a byte that state cannot take. */
const CHUNK_STATE_ERROR: readonly Http1ErrorCode[] = [
  'invalid_chunk_size',
  'invalid_chunk_size',
  'invalid_chunk_size',
  'invalid_chunk_extension',
  'invalid_chunk_extension',
  'invalid_chunk_extension',
  'invalid_chunk_extension',
  'invalid_chunk_extension',
  'invalid_chunk_extension',
  'invalid_chunk_extension',
  'invalid_chunk_extension',
  'invalid_line_ending',
];

// ---------------------------------------------------------------------------------------------
// The parser

export class Http1Parser<H extends Http1Head> {
  readonly #isRequest: boolean;
  readonly #cb: Http1ParserCallbacks<H>;
  readonly #maxHeaderBytes: number;
  readonly #maxHeaderCount: number;
  readonly #maxUriBytes: number;
  readonly #maxChunkLineBytes: number;
  readonly #allowCustomMethods: boolean;

  #state = ST_HEAD;
  #error: Http1ParseError | null = null;

  // Flow control.
  #paused = false;
  /** Inside execute(), resume() or finish(): reentrant calls only queue. */
  #running = false;
  /** Input not parsed yet (while paused), in order. Views of what execute() was given. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** finish() was called; acted on once the pending input is parsed. */
  #eof = false;

  // Head / trailer scanner. Positions are relative to the block's first byte.
  #hs = HS_LEADING;
  /** Bytes of the current block scanned so far (and held in #acc when it is split). */
  #rel = 0;
  /** Where a split block's bytes are gathered. */
  #acc: Buffer | null = null;
  #lineStart = 0;
  #tok1End = 0;
  #tok2Start = 0;
  #tok2End = 0;
  #tok3Start = 0;
  #tok3End = 0;
  /** Field positions: name start, name end, value start, value end, per field. */
  readonly #fields: Int32Array;
  /** Per field: whether its name has upper-case letters. */
  readonly #fieldUpper: Uint8Array;
  #fieldCount = 0;
  #nameStart = 0;
  #nameEnd = 0;
  #valueStart = 0;
  #nameUpper = 0;

  // Body.
  #remaining = 0;
  #cs = CS_SIZE_START;
  #chunkSize = 0;
  #chunkLineBytes = 0;
  /** Whether the message being parsed lets the connection continue. */
  #keepAlive = true;
  /** The message being parsed is a 1xx interim response. */
  #interim = false;

  /** Responses: methods of the requests whose responses are still to come, oldest first. */
  #expected: string[] = [];

  private constructor(isRequest: boolean, callbacks: Http1ParserCallbacks<H>, options: Http1ParserOptions) {
    this.#isRequest = isRequest;
    this.#cb = callbacks;
    this.#maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    this.#maxHeaderCount = options.maxHeaderCount ?? DEFAULT_MAX_HEADER_COUNT;
    this.#maxUriBytes = options.maxUriBytes ?? this.#maxHeaderBytes;
    this.#maxChunkLineBytes = options.maxChunkLineBytes ?? DEFAULT_MAX_CHUNK_LINE_BYTES;
    this.#allowCustomMethods = options.allowCustomMethods ?? false;
    this.#fields = new Int32Array(this.#maxHeaderCount * 4);
    this.#fieldUpper = new Uint8Array(this.#maxHeaderCount);
  }

  /** A parser for the requests a downstream client sends. */
  static forRequests(
    callbacks: Http1ParserCallbacks<Http1RequestHead>,
    options: Http1ParserOptions = {},
  ): Http1Parser<Http1RequestHead> {
    return new Http1Parser<Http1RequestHead>(true, callbacks, options);
  }

  /** A parser for the responses an upstream server sends. Tell it each request: expectResponse(). */
  static forResponses(
    callbacks: Http1ParserCallbacks<Http1ResponseHead>,
    options: Http1ParserOptions = {},
  ): Http1Parser<Http1ResponseHead> {
    return new Http1Parser<Http1ResponseHead>(false, callbacks, options);
  }

  /** Where the parser is, for logs and tests. */
  get state(): Http1ParserState {
    return STATE_NAMES[this.#state]!;
  }

  /** The sticky error, once one has been returned. */
  get error(): Http1ParseError | null {
    return this.#error;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Bytes received but not yet reported: held while paused, plus a partial head. */
  get bufferedBytes(): number {
    return this.#pendingBytes + (this.#state === ST_HEAD || this.#state === ST_TRAILERS ? this.#rel : 0);
  }

  /**
   * True between messages: nothing of a next message has arrived (empty lines aside). A close
   * now loses nothing; a close at any other time cuts a message.
   */
  get idle(): boolean {
    return this.#state === ST_HEAD && (this.#hs === HS_LEADING || this.#hs === HS_LEADING_LF);
  }

  /**
   * Responses only: a request with this method was sent, so its response is next in line
   * (after those of earlier requests). HEAD makes a body-less response; CONNECT makes a 2xx
   * a tunnel. Without it a response is read as the answer to a GET.
   */
  expectResponse(requestMethod: string): void {
    if (this.#isRequest) return;
    this.#expected.push(requestMethod);
  }

  /**
   * Parses `data`, calling back for everything it completes. Takes ownership: `data` must not
   * be modified afterwards (body chunks are views of it). Returns the sticky error if the
   * input is bad, else ok. While paused, or when called from a callback, it only queues.
   */
  execute(data: Buffer): Http1ParseResult {
    if (this.#error !== null) return this.#error;
    if (data.length === 0) return OK;
    if (this.#running || this.#paused) {
      this.#pending.push(data);
      this.#pendingBytes += data.length;
      return OK;
    }
    this.#running = true;
    try {
      this.#parse(data, 0);
      this.#drain();
    } finally {
      this.#running = false;
    }
    return this.#error ?? OK;
  }

  /**
   * Stops parsing once the current callback returns (or before the next input, when called
   * outside one). Input keeps being accepted and held until resume().
   */
  pause(): void {
    this.#paused = true;
  }

  /**
   * Undoes pause() and parses what was held, synchronously, calling back as execute() does.
   * From inside a callback it only clears the flag: the running parse goes on by itself.
   */
  resume(): Http1ParseResult {
    if (this.#error !== null) return this.#error;
    if (!this.#paused) return OK;
    this.#paused = false;
    if (this.#running) return OK;
    this.#running = true;
    try {
      this.#drain();
    } finally {
      this.#running = false;
    }
    return this.#error ?? OK;
  }

  /**
   * The peer closed its sending side. Ends a body read until close, or a tunnel
   * (onMessageComplete); between messages it is a normal end; in the middle of a message it
   * is premature_eof. While paused it takes effect after the held input, on resume().
   */
  finish(): Http1ParseResult {
    if (this.#error !== null) return this.#error;
    this.#eof = true;
    if (this.#running || this.#paused) return OK;
    this.#running = true;
    try {
      this.#drain();
    } finally {
      this.#running = false;
    }
    return this.#error ?? OK;
  }

  // -------------------------------------------------------------------------------------------

  /** Parses held input until it runs out, the parser pauses or fails; then a pending EOF. */
  #drain(): void {
    while (!this.#paused && this.#error === null && this.#pending.length > 0) {
      const next = this.#pending.shift()!;
      this.#pendingBytes -= next.length;
      this.#parse(next, 0);
    }
    if (this.#eof && !this.#paused && this.#error === null && this.#pending.length === 0) {
      this.#eof = false;
      this.#onEof();
    }
  }

  #parse(buf: Buffer, start: number): void {
    const end = buf.length;
    let pos = start;
    while (pos < end) {
      switch (this.#state) {
        case ST_HEAD:
        case ST_TRAILERS:
          pos = this.#scanBlock(buf, pos, end);
          break;
        case ST_BODY_LENGTH: {
          const n = Math.min(this.#remaining, end - pos);
          const chunk = buf.subarray(pos, pos + n);
          pos += n;
          this.#remaining -= n;
          this.#cb.onBody(chunk);
          if (this.#remaining === 0 && this.#state === ST_BODY_LENGTH) this.#messageComplete(undefined);
          break;
        }
        case ST_CHUNK_LINE:
          pos = this.#scanChunkLine(buf, pos, end);
          break;
        case ST_CHUNK_DATA: {
          const n = Math.min(this.#remaining, end - pos);
          const chunk = buf.subarray(pos, pos + n);
          pos += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = ST_CHUNK_DATA_CR;
          this.#cb.onBody(chunk);
          break;
        }
        case ST_CHUNK_DATA_CR:
          if (buf[pos] !== CR) {
            pos = this.#fail('invalid_chunk_terminator', 'chunk data is not followed by CRLF');
            break;
          }
          this.#state = ST_CHUNK_DATA_LF;
          pos++;
          break;
        case ST_CHUNK_DATA_LF:
          if (buf[pos] !== LF) {
            pos = this.#fail('invalid_chunk_terminator', 'chunk data is not followed by CRLF');
            break;
          }
          this.#state = ST_CHUNK_LINE;
          this.#cs = CS_SIZE_START;
          this.#chunkLineBytes = 0;
          pos++;
          break;
        case ST_UNTIL_CLOSE:
        case ST_TUNNEL: {
          const chunk = pos === 0 ? buf : buf.subarray(pos);
          pos = end;
          this.#cb.onBody(chunk);
          break;
        }
        case ST_CLOSED:
          // The message before ended the connection: whatever follows is not parsed, so it
          // can never reach an upstream as a request nobody checked.
          pos = end;
          break;
        default: // ST_ERROR
          return;
      }
      if (pos < 0) return;
      if (this.#paused && pos < end) {
        const rest = buf.subarray(pos);
        this.#pending.unshift(rest);
        this.#pendingBytes += rest.length;
        return;
      }
    }
  }

  #fail(code: Http1ErrorCode, message: string, status?: number): number {
    this.#error = new Http1ParseError(code, message, status);
    this.#state = ST_ERROR;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#acc = null;
    return -1;
  }

  /** #fail for code that reports success as a boolean. */
  #reject(code: Http1ErrorCode, message: string): false {
    this.#fail(code, message);
    return false;
  }

  #onEof(): void {
    switch (this.#state) {
      case ST_HEAD:
        if (this.#hs === HS_LEADING || this.#hs === HS_LEADING_LF) {
          this.#state = ST_CLOSED;
          return;
        }
        this.#fail('premature_eof', 'connection closed in the middle of a message head');
        return;
      case ST_UNTIL_CLOSE:
      case ST_TUNNEL:
        this.#state = ST_CLOSED;
        this.#cb.onMessageComplete(undefined);
        return;
      case ST_CLOSED:
      case ST_ERROR:
        return;
      default:
        this.#fail('premature_eof', `connection closed in the middle of a message body (${this.state})`);
    }
  }

  /** Ends the current message: next state first, so a callback sees where the parser is. */
  #messageComplete(trailers: string[] | undefined): void {
    if (this.#keepAlive || this.#interim) {
      this.#state = ST_HEAD;
      this.#resetBlock(HS_LEADING);
    } else {
      this.#state = ST_CLOSED;
    }
    this.#cb.onMessageComplete(trailers);
  }

  #resetBlock(hs: number): void {
    this.#hs = hs;
    this.#rel = 0;
    this.#fieldCount = 0;
  }

  // -------------------------------------------------------------------------------------------
  // Heads and trailer sections

  /**
   * Scans bytes of a head (ST_HEAD) or trailer section (ST_TRAILERS) from buf[pos]. Returns
   * the position after the block when it completes (having reported it), `end` when more
   * bytes are needed, or -1 on error.
   */
  #scanBlock(buf: Buffer, pos: number, end: number): number {
    const rel0 = this.#rel;
    /** buf index of the block's byte 0 (negative when earlier bytes came in earlier Buffers). */
    const base = pos - rel0;
    const stop = Math.min(end, base + this.#maxHeaderBytes);
    const maxFields = this.#maxHeaderCount;
    const fields = this.#fields;

    let hs = this.#hs;
    let ns = this.#nameStart;
    let ne = this.#nameEnd;
    let vs = this.#valueStart;
    let upper = this.#nameUpper;
    let i = pos;
    let done = false;
    let code: Http1ErrorCode | null = null;
    let why = '';

    scan: while (i < stop) {
      switch (hs) {
        case HS_LEADING: {
          const c = buf[i]!;
          if (c === CR) {
            hs = HS_LEADING_LF;
            i++;
            break;
          }
          if (c === LF) {
            code = 'invalid_line_ending';
            why = 'bare LF before the start line';
            break scan;
          }
          this.#lineStart = i - base;
          hs = this.#isRequest ? HS_RL_METHOD : HS_SL_VERSION;
          this.#cb.onMessageBegin?.();
          break;
        }
        case HS_LEADING_LF:
          if (buf[i] !== LF) {
            code = 'invalid_line_ending';
            why = 'CR without LF before the start line';
            break scan;
          }
          hs = HS_LEADING;
          i++;
          break;

        case HS_RL_METHOD: {
          while (i < stop && (CHAR[buf[i]!]! & C_TOKEN) !== 0) i++;
          if (i === stop) break;
          if (buf[i] === SP && i - base > this.#lineStart) {
            this.#tok1End = i - base;
            this.#tok2Start = i + 1 - base;
            hs = HS_RL_TARGET;
            i++;
            break;
          }
          code = 'invalid_method';
          why = 'the method is empty or has a byte that is not a token character';
          break scan;
        }
        case HS_RL_TARGET: {
          const limit = base + this.#tok2Start + this.#maxUriBytes;
          while (i < stop && (CHAR[buf[i]!]! & C_TARGET) !== 0) {
            if (i >= limit) {
              code = 'uri_too_long';
              why = `the request-target is longer than ${this.#maxUriBytes} bytes`;
              break scan;
            }
            i++;
          }
          if (i === stop) break;
          const c = buf[i]!;
          if (c === SP && i - base > this.#tok2Start) {
            this.#tok2End = i - base;
            this.#tok3Start = i + 1 - base;
            hs = HS_RL_VERSION;
            i++;
            break;
          }
          if (c === CR) {
            code = 'invalid_version';
            why = 'the request line has no HTTP version';
          } else if (c === LF) {
            code = 'invalid_line_ending';
            why = 'bare LF in the request line';
          } else if (c >= 0x80) {
            code = 'invalid_target_character';
            why = 'the request-target has a byte above 0x7e (obs-text)';
          } else {
            code = 'invalid_url';
            why = c === SP ? 'the request-target is empty' : 'the request-target has a control character';
          }
          break scan;
        }
        case HS_RL_VERSION: {
          while (i < stop && (CHAR[buf[i]!]! & C_VCHAR) !== 0) i++;
          if (i === stop) {
            if (i - base - this.#tok3Start > 8) {
              code = 'invalid_version';
              why = 'the HTTP version is malformed';
              break scan;
            }
            break;
          }
          if (buf[i] !== CR) {
            code = buf[i] === LF ? 'invalid_line_ending' : 'invalid_version';
            why = buf[i] === LF ? 'bare LF after the request line' : 'the HTTP version is malformed';
            break scan;
          }
          this.#tok3End = i - base;
          hs = HS_START_LF;
          i++;
          break;
        }

        case HS_SL_VERSION: {
          while (i < stop && (CHAR[buf[i]!]! & C_VCHAR) !== 0) i++;
          if (i - base - this.#lineStart > 8) {
            code = 'invalid_version';
            why = 'the HTTP version is malformed';
            break scan;
          }
          if (i === stop) break;
          if (buf[i] !== SP) {
            code = buf[i] === CR ? 'invalid_status' : buf[i] === LF ? 'invalid_line_ending' : 'invalid_version';
            why = 'the status line is malformed';
            break scan;
          }
          this.#tok1End = i - base;
          this.#tok2Start = i + 1 - base;
          hs = HS_SL_CODE;
          i++;
          break;
        }
        case HS_SL_CODE: {
          while (i < stop && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
          const digits = i - base - this.#tok2Start;
          if (digits > 3) {
            code = 'invalid_status';
            why = 'the status code does not have three digits';
            break scan;
          }
          if (i === stop) break;
          const c = buf[i]!;
          if (c === LF) {
            code = 'invalid_line_ending';
            why = 'bare LF after the status code';
            break scan;
          }
          if (digits !== 3 || (c !== SP && c !== CR)) {
            code = 'invalid_status';
            why = 'the status code does not have three digits';
            break scan;
          }
          this.#tok2End = i - base;
          if (c === SP) {
            this.#tok3Start = i + 1 - base;
            hs = HS_SL_REASON;
          } else {
            this.#tok3Start = this.#tok3End = i - base;
            hs = HS_START_LF;
          }
          i++;
          break;
        }
        case HS_SL_REASON: {
          while (i < stop && (CHAR[buf[i]!]! & C_FIELD) !== 0) i++;
          if (i === stop) break;
          if (buf[i] !== CR) {
            code = buf[i] === LF ? 'invalid_line_ending' : 'invalid_status';
            why = 'the reason phrase has a control character';
            break scan;
          }
          this.#tok3End = i - base;
          hs = HS_START_LF;
          i++;
          break;
        }
        case HS_START_LF:
          if (buf[i] !== LF) {
            code = 'invalid_line_ending';
            why = 'CR without LF after the start line';
            break scan;
          }
          hs = HS_LINE_START;
          i++;
          break;

        case HS_LINE_START: {
          const c = buf[i]!;
          if (c === CR) {
            hs = HS_END_LF;
            i++;
          } else if ((CHAR[c]! & C_TOKEN) !== 0) {
            ns = i - base;
            upper = 0;
            hs = HS_NAME;
          } else if (c === SP || c === HTAB) {
            code = 'obs_fold';
            why = 'a field line starts with whitespace (obsolete line folding)';
            break scan;
          } else if (c === LF) {
            code = 'invalid_line_ending';
            why = 'bare LF in the header section';
            break scan;
          } else {
            code = 'invalid_header_name';
            why = c === COLON ? 'empty field name' : 'the field name has a byte that is not a token character';
            break scan;
          }
          break;
        }
        case HS_NAME: {
          while (i < stop) {
            const f = CHAR[buf[i]!]!;
            if ((f & C_TOKEN) === 0) break;
            upper |= f & C_UPPER;
            i++;
          }
          if (i === stop) break;
          const c = buf[i]!;
          if (c === COLON) {
            ne = i - base;
            hs = HS_VALUE_OWS;
            i++;
            break;
          }
          if (c === SP || c === HTAB) {
            code = 'whitespace_before_colon';
            why = 'whitespace between a field name and the colon';
          } else {
            code = 'invalid_header_name';
            why =
              c === CR || c === LF
                ? 'a field line has no colon'
                : 'the field name has a byte that is not a token character';
          }
          break scan;
        }
        case HS_VALUE_OWS: {
          while (i < stop && (buf[i] === SP || buf[i] === HTAB)) i++;
          if (i === stop) break;
          const c = buf[i]!;
          if ((CHAR[c]! & C_VCHAR) !== 0 || c === CR) {
            // An empty value starts at its CR; the VALUE state then ends it at once.
            vs = i - base;
            hs = HS_VALUE;
            break;
          }
          code = c === LF ? 'invalid_line_ending' : 'invalid_header_value';
          why = c === LF ? 'bare LF in the header section' : 'a field value has a control character';
          break scan;
        }
        case HS_VALUE: {
          while (i < stop && (CHAR[buf[i]!]! & C_FIELD) !== 0) i++;
          if (i === stop) break;
          const c = buf[i]!;
          if (c !== CR) {
            code = c === LF ? 'invalid_line_ending' : 'invalid_header_value';
            why = c === LF ? 'bare LF in the header section' : 'a field value has a control character';
            break scan;
          }
          const n = this.#fieldCount;
          if (n >= maxFields) {
            code = 'too_many_headers';
            why = `more than ${maxFields} header fields`;
            break scan;
          }
          const k = n * 4;
          fields[k] = ns;
          fields[k + 1] = ne;
          fields[k + 2] = vs;
          fields[k + 3] = i - base; // trailing OWS is trimmed when the string is made
          this.#fieldUpper[n] = upper;
          this.#fieldCount = n + 1;
          hs = HS_LINE_LF;
          i++;
          break;
        }
        case HS_LINE_LF:
          if (buf[i] !== LF) {
            code = 'invalid_line_ending';
            why = 'CR without LF in the header section';
            break scan;
          }
          hs = HS_LINE_START;
          i++;
          break;
        case HS_END_LF:
          if (buf[i] !== LF) {
            code = 'invalid_line_ending';
            why = 'CR without LF at the end of the header section';
            break scan;
          }
          i++;
          done = true;
          break scan;
      }
    }

    if (code !== null) return this.#fail(code, why);

    if (!done) {
      if (stop < end) {
        return this.#fail(
          'headers_too_large',
          `the ${this.#state === ST_HEAD ? 'head' : 'trailer section'} is larger than ${this.#maxHeaderBytes} bytes`,
        );
      }
      // Keep what this Buffer held of the block; the next one continues it.
      this.#append(buf, pos, end, rel0);
      this.#rel = rel0 + (end - pos);
      this.#hs = hs;
      this.#nameStart = ns;
      this.#nameEnd = ne;
      this.#valueStart = vs;
      this.#nameUpper = upper;
      return end;
    }

    // The whole block, contiguous: in `buf` when it came in one piece, else in #acc.
    let block = buf;
    let offset = base;
    if (rel0 > 0) {
      this.#append(buf, pos, i, rel0);
      block = this.#acc!;
      offset = 0;
    }
    // One string for the whole block; names and values are substrings of it. Decoding once
    // costs a fraction of one decode per field (each a call into C++).
    const text = latin1(block, offset, offset + (i - base));
    const ok =
      this.#state === ST_HEAD ? this.#completeHead(block, offset, text) : this.#completeTrailers(block, offset, text);
    // Its strings are made; a buffer grown for an unusually large head need not stay.
    if (block === this.#acc && block.length > ACC_KEEP_BYTES) this.#acc = null;
    return ok ? i : -1;
  }

  /** Copies buf[from, to) into #acc at `at`, growing it (never beyond maxHeaderBytes). */
  #append(buf: Buffer, from: number, to: number, at: number): void {
    const need = at + (to - from);
    let acc = this.#acc;
    if (acc === null || acc.length < need) {
      const size = Math.min(Math.max(need, (acc?.length ?? 0) * 2, 4096), this.#maxHeaderBytes);
      const grown = Buffer.allocUnsafe(size);
      if (acc !== null && at > 0) acc.copy(grown, 0, 0, at);
      this.#acc = acc = grown;
    }
    buf.copy(acc, at, from, to);
  }

  /**
   * Builds the flat field list of the current block. `text` is the block decoded; a value is a
   * substring of it, which V8 may keep as a view of `text`: a header kept long pins its head's
   * string (a few hundred bytes), never the read Buffer.
   */
  #fieldList(block: Buffer, offset: number, text: string): string[] {
    const n = this.#fieldCount;
    const fields = this.#fields;
    const out: string[] = [];
    for (let k = 0; k < n; k++) {
      const ns = fields[k * 4]!;
      const ne = fields[k * 4 + 1]!;
      let name = commonName(block, offset + ns, offset + ne);
      if (name === undefined) {
        name = text.substring(ns, ne);
        if (this.#fieldUpper[k] !== 0) name = name.toLowerCase();
      }
      const vs = fields[k * 4 + 2]!;
      let ve = fields[k * 4 + 3]!;
      while (ve > vs && (block[offset + ve - 1] === SP || block[offset + ve - 1] === HTAB)) ve--;
      out.push(name, text.substring(vs, ve));
    }
    return out;
  }

  #completeTrailers(block: Buffer, offset: number, text: string): boolean {
    const trailers = this.#fieldCount > 0 ? this.#fieldList(block, offset, text) : undefined;
    this.#messageComplete(trailers);
    return this.#state !== ST_ERROR;
  }

  /** Validates the head, works out the framing, reports it and moves to the body state. */
  #completeHead(block: Buffer, offset: number, text: string): boolean {
    // Start line.
    let method = '';
    let path = '';
    let statusCode = 0;
    let reason = '';
    let versionMinor: 0 | 1;
    {
      const vStart = offset + (this.#isRequest ? this.#tok3Start : this.#lineStart);
      const vEnd = offset + (this.#isRequest ? this.#tok3End : this.#tok1End);
      const v = parseVersion(block, vStart, vEnd);
      if (v === VERSION_MALFORMED) return this.#reject('invalid_version', 'the HTTP version is malformed');
      versionMinor = v;
    }
    if (this.#isRequest) {
      const ms = offset + this.#lineStart;
      const me = offset + this.#tok1End;
      const common = commonMethod(block, ms, me);
      method = common ?? text.substring(this.#lineStart, this.#tok1End);
      if (common === undefined && !this.#allowCustomMethods && !ENVOY_METHODS.has(method)) {
        return this.#reject('unknown_method', `method ${JSON.stringify(method)} is not one Envoy's codec knows`);
      }
      path = text.substring(this.#tok2Start, this.#tok2End);
      const first = path.charCodeAt(0);
      if (method === 'CONNECT') {
        if (first === 0x2f || path === '*' || !AUTHORITY_FORM.test(path)) {
          return this.#reject('invalid_url', 'CONNECT needs an authority-form target');
        }
      } else if (first !== 0x2f && path !== '*' && !ABSOLUTE_FORM.test(path)) {
        return this.#reject('invalid_url', 'the request-target is not origin-form, absolute-form or "*"');
      }
    } else {
      const cs = offset + this.#tok2Start;
      statusCode = (block[cs]! - 0x30) * 100 + (block[cs + 1]! - 0x30) * 10 + (block[cs + 2]! - 0x30);
      if (statusCode < 100) return this.#reject('invalid_status', `status code ${statusCode} is below 100`);
      const rs = offset + this.#tok3Start;
      const re = offset + this.#tok3End;
      const isOk = re - rs === 2 && block[rs] === 0x4f && block[rs + 1] === 0x4b;
      reason = isOk ? 'OK' : text.substring(this.#tok3Start, this.#tok3End);
    }

    // Fields, and the ones that decide framing.
    const headers = this.#fieldList(block, offset, text);
    let contentLength = -1;
    let transferEncodings = 0;
    let chunked = false;
    let connection = 0;
    let upgradeValue: string | null = null;
    let expectContinue = false;
    let hosts = 0;
    for (let k = 0; k < headers.length; k += 2) {
      const name = headers[k]!;
      switch (name.length) {
        case 14:
          if (name === 'content-length') {
            const n = parseContentLength(headers[k + 1]!);
            if (n === CL_INVALID) return this.#reject('invalid_content_length', 'Content-Length is not a number');
            if (n === CL_CONFLICT || (contentLength >= 0 && n !== contentLength)) {
              return this.#reject('conflicting_content_length', 'Content-Length values differ');
            }
            if (n === CL_REPEATED || contentLength >= 0) {
              return this.#reject('multiple_content_length', 'Content-Length is repeated');
            }
            contentLength = n;
          }
          break;
        case 17:
          if (name === 'transfer-encoding') {
            transferEncodings++;
            const v = headers[k + 1]!;
            chunked = equalsLower(v, 0, v.length, 'chunked');
          }
          break;
        case 10:
          if (name === 'connection') connection |= connectionOptions(headers[k + 1]!);
          break;
        case 4:
          if (name === 'host' && ++hosts > 1 && this.#isRequest) {
            return this.#reject('multiple_host', 'more than one Host field');
          }
          break;
        case 7:
          // The first Upgrade that names something: an empty one names no protocol.
          if (name === 'upgrade' && upgradeValue === null && headers[k + 1]!.length > 0) upgradeValue = headers[k + 1]!;
          break;
        case 6:
          if (name === 'expect') {
            const v = headers[k + 1]!;
            expectContinue = equalsLower(v, 0, v.length, '100-continue');
          }
          break;
      }
    }

    if ((connection & CONN_OTHER) !== 0) {
      // The Connection header nominates fields (rare: only then is it scanned again).
      const refused = sanitizeConnectionHeader(headers, this.#isRequest);
      if (refused !== undefined) return this.#reject('connection_header_rejected', refused);
    }
    const hasTe = transferEncodings > 0;
    const hasCl = contentLength >= 0;
    // HTTP/1.1 persists unless closed; HTTP/1.0 only when asked to (RFC 9112 §9.3).
    let keepAlive =
      versionMinor === 1
        ? (connection & CONN_CLOSE) === 0
        : (connection & (CONN_KEEP_ALIVE | CONN_CLOSE)) === CONN_KEEP_ALIVE;
    let upgrade = false;
    let bodyKind: Http1BodyKind;
    let interim = false;

    if (this.#isRequest) {
      const isConnect = method === 'CONNECT';
      if (isConnect && hasTe) {
        return this.#reject('transfer_encoding_not_allowed', 'a CONNECT request cannot have Transfer-Encoding');
      }
      if (isConnect && contentLength > 0) {
        return this.#reject('content_length_not_allowed', 'a CONNECT request cannot have a body');
      }
      if (!this.#checkTransferEncoding(hasTe, hasCl, transferEncodings, chunked, versionMinor)) return false;
      upgrade =
        isConnect ||
        ((connection & CONN_UPGRADE) !== 0 &&
          // Without an Upgrade that names a protocol this is a plain request, as llhttp and Envoy
          // read it (read as an upgrade, the rest of the connection would become a raw tunnel).
          upgradeValue !== null &&
          !equalsLower(upgradeValue, 0, upgradeValue.length, 'h2c'));
      if (upgrade) bodyKind = 'tunnel';
      else if (hasTe) bodyKind = 'chunked';
      else if (contentLength > 0) bodyKind = 'length';
      else bodyKind = 'none';
      if (versionMinor === 0) expectContinue = false;
    } else {
      const noBodyStatus = statusCode < 200 || statusCode === 204;
      if (noBodyStatus && hasTe) {
        return this.#reject('transfer_encoding_not_allowed', `a ${statusCode} response cannot have Transfer-Encoding`);
      }
      if (noBodyStatus && contentLength > 0) {
        return this.#reject('content_length_not_allowed', `a ${statusCode} response cannot have a body`);
      }
      if (!this.#checkTransferEncoding(hasTe, hasCl, transferEncodings, chunked, versionMinor)) return false;
      interim = statusCode < 200 && statusCode !== 101;
      // An interim response answers the same request as the final one that follows it.
      const requestMethod = interim ? this.#expected[0] : this.#expected.shift();
      if (statusCode === 101 || (requestMethod === 'CONNECT' && statusCode >= 200 && statusCode < 300)) {
        upgrade = true;
        bodyKind = 'tunnel';
      } else if (interim || statusCode === 204 || statusCode === 304 || requestMethod === 'HEAD') {
        bodyKind = 'none';
      } else if (hasTe) {
        bodyKind = 'chunked';
      } else if (hasCl) {
        bodyKind = contentLength > 0 ? 'length' : 'none';
      } else {
        bodyKind = 'until-close';
      }
    }
    if (bodyKind === 'until-close' || bodyKind === 'tunnel') keepAlive = false;

    this.#keepAlive = keepAlive;
    this.#interim = interim;
    const cl = hasCl ? contentLength : null;
    // Each kind always built with the same property order: one object shape per kind.
    const head: Http1Head = this.#isRequest
      ? { method, path, versionMinor, headers, keepAlive, upgrade, expectContinue, bodyKind, contentLength: cl }
      : { statusCode, reason, versionMinor, headers, keepAlive, upgrade, bodyKind, contentLength: cl };

    // Next state before the callback, so that pause() or finish() inside it see the body state.
    switch (bodyKind) {
      case 'none':
        this.#state = ST_HEAD; // replaced by #messageComplete below
        break;
      case 'length':
        this.#state = ST_BODY_LENGTH;
        this.#remaining = contentLength;
        break;
      case 'chunked':
        this.#state = ST_CHUNK_LINE;
        this.#cs = CS_SIZE_START;
        this.#chunkLineBytes = 0;
        break;
      case 'until-close':
        this.#state = ST_UNTIL_CLOSE;
        break;
      case 'tunnel':
        this.#state = ST_TUNNEL;
        break;
    }
    this.#resetBlock(HS_LEADING);
    this.#cb.onHead(head as H);
    if (bodyKind === 'none' && this.#state === ST_HEAD) this.#messageComplete(undefined);
    return this.#state !== ST_ERROR;
  }

  /** The Transfer-Encoding rules shared by both directions, in Envoy's order. */
  #checkTransferEncoding(hasTe: boolean, hasCl: boolean, count: number, chunked: boolean, minor: 0 | 1): boolean {
    if (!hasTe) return true;
    if (hasCl) return this.#reject('content_length_and_chunked', 'both Content-Length and Transfer-Encoding are set');
    if (minor === 0) {
      this.#fail('invalid_transfer_encoding', 'Transfer-Encoding in an HTTP/1.0 message', 400);
      return false;
    }
    if (count !== 1 || !chunked) {
      return this.#reject('invalid_transfer_encoding', 'Transfer-Encoding other than exactly "chunked"');
    }
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Chunk-size lines

  /** Scans a chunk-size line from buf[pos]; returns the position after what it consumed, or -1. */
  #scanChunkLine(buf: Buffer, pos: number, end: number): number {
    const stop = Math.min(end, pos + (this.#maxChunkLineBytes - this.#chunkLineBytes));
    let cs = this.#cs;
    let size = this.#chunkSize;
    let i = pos;
    while (i < stop) {
      const c = buf[i]!;
      const f = CHAR[c]!;
      let ok = true;
      switch (cs) {
        case CS_SIZE_START: {
          const h = HEX[c]!;
          if (h === 0xff) ok = false;
          else {
            size = h;
            cs = CS_SIZE;
          }
          break;
        }
        case CS_SIZE: {
          const h = HEX[c]!;
          if (h !== 0xff) {
            size = size * 16 + h;
            if (size > Number.MAX_SAFE_INTEGER) {
              return this.#fail('invalid_chunk_size', 'the chunk size is too large');
            }
          } else if (c === CR) cs = CS_LF;
          else if (c === SEMI) cs = CS_EXT_NAME_START;
          else if ((f & C_WS) !== 0) cs = CS_SIZE_WS;
          else ok = false;
          break;
        }
        case CS_SIZE_WS:
          // BWS is allowed only before a ";": "5 \r\n" is junk.
          if (c === SEMI) cs = CS_EXT_NAME_START;
          else if ((f & C_WS) === 0) ok = false;
          break;
        case CS_EXT_NAME_START:
          if ((f & C_TOKEN) !== 0) cs = CS_EXT_NAME;
          else if ((f & C_WS) === 0) ok = false;
          break;
        case CS_EXT_NAME:
          if ((f & C_TOKEN) !== 0) break;
          if (c === EQUALS) cs = CS_EXT_VALUE_START;
          else if (c === SEMI) cs = CS_EXT_NAME_START;
          else if (c === CR) cs = CS_LF;
          else if ((f & C_WS) !== 0) cs = CS_EXT_AFTER_NAME;
          else ok = false;
          break;
        case CS_EXT_AFTER_NAME:
          if (c === EQUALS) cs = CS_EXT_VALUE_START;
          else if (c === SEMI) cs = CS_EXT_NAME_START;
          else if (c === CR) cs = CS_LF;
          else if ((f & C_WS) === 0) ok = false;
          break;
        case CS_EXT_VALUE_START:
          if (c === DQUOTE) cs = CS_EXT_QUOTED;
          else if ((f & C_TOKEN) !== 0) cs = CS_EXT_TOKEN;
          else if ((f & C_WS) === 0) ok = false;
          break;
        case CS_EXT_TOKEN:
          if ((f & C_TOKEN) !== 0) break;
          if (c === SEMI) cs = CS_EXT_NAME_START;
          else if (c === CR) cs = CS_LF;
          else if ((f & C_WS) !== 0) cs = CS_EXT_AFTER_VALUE;
          else ok = false;
          break;
        case CS_EXT_QUOTED:
          if (c === DQUOTE) cs = CS_EXT_AFTER_VALUE;
          else if (c === BACKSLASH) cs = CS_EXT_QUOTED_ESC;
          else if ((f & C_QDTEXT) === 0) ok = false;
          break;
        case CS_EXT_QUOTED_ESC:
          if ((f & C_FIELD) !== 0) cs = CS_EXT_QUOTED;
          else ok = false;
          break;
        case CS_EXT_AFTER_VALUE:
          if (c === SEMI) cs = CS_EXT_NAME_START;
          else if (c === CR) cs = CS_LF;
          else if ((f & C_WS) === 0) ok = false;
          break;
        case CS_LF:
          if (c !== LF) ok = false;
          else {
            i++;
            if (size === 0) {
              this.#state = ST_TRAILERS;
              this.#resetBlock(HS_LINE_START);
            } else {
              this.#state = ST_CHUNK_DATA;
              this.#remaining = size;
            }
            this.#chunkSize = 0;
            return i;
          }
          break;
      }
      if (!ok) {
        const code = CHUNK_STATE_ERROR[cs]!;
        return this.#fail(
          code,
          code === 'invalid_line_ending'
            ? 'CR without LF after the chunk size'
            : code === 'invalid_chunk_size'
              ? 'the chunk size is missing or followed by junk'
              : 'a chunk extension is malformed',
        );
      }
      i++;
    }
    if (stop < end) {
      return this.#fail('chunk_line_too_long', `a chunk-size line is longer than ${this.#maxChunkLineBytes} bytes`);
    }
    this.#cs = cs;
    this.#chunkSize = size;
    this.#chunkLineBytes += i - pos;
    return i;
  }
}

const VERSION_MALFORMED = -1;

/**
 * "HTTP/" DIGIT "." DIGIT → 1 for exactly HTTP/1.1, else 0: any other well-formed version
 * (HTTP/1.2, HTTP/2.0, HTTP/0.9 with a version) is handled as HTTP/1.0, as Envoy's codec does
 * ("not necessarily true, but good enough since higher layers only care if this is HTTP/1.1
 * or not"): a request is then refused with 426 unless accept_http_10, and no later-version
 * semantics (persistence, chunked) are assumed for a version this codec does not implement.
 */
function parseVersion(b: Buffer, s: number, e: number): 0 | 1 | typeof VERSION_MALFORMED {
  if (
    e - s !== 8 ||
    b[s] !== 0x48 || // H
    b[s + 1] !== 0x54 || // T
    b[s + 2] !== 0x54 || // T
    b[s + 3] !== 0x50 || // P
    b[s + 4] !== 0x2f || // /
    b[s + 6] !== 0x2e // .
  ) {
    return VERSION_MALFORMED;
  }
  const major = b[s + 5]! - 0x30;
  const minor = b[s + 7]! - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) return VERSION_MALFORMED;
  return major === 1 && minor === 1 ? 1 : 0;
}
