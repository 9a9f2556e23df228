/**
 * Header hygiene a proxy owes the peer on the other side, on the flat field lists the HTTP/1
 * parser produces ([name0, value0, …], names lower-case). Two steps, each run only when there is
 * something to do, so that a request without a Connection header or trailers pays nothing:
 *
 * - sanitizeConnectionHeader: the fields a `Connection` header nominates are hop-by-hop (RFC
 *   9110 §7.6.1) and are removed before forwarding. Run by the parser (the codec, as in Envoy's
 *   ServerConnectionImpl) on requests and responses whose Connection header names anything
 *   beyond close / keep-alive / upgrade. Requests are refused as Envoy's
 *   Utility::sanitizeConnectionHeader refuses them: ten or more tokens, or a nominated
 *   x-forwarded-for / -host / -proto (removing those would hide where the request came from;
 *   https://nathandavison.com/blog/abusing-http-hop-by-hop-request-headers) or pseudo-header.
 * - sanitizeTrailers: RFC 9110 §6.5.1 fields that must not be in a trailer section (framing,
 *   routing, request modifiers, authentication, response control, content processing) and the
 *   hop-by-hop fields are dropped from forwarded trailers.
 *
 * Worker-side, synchronous, no allocation beyond the edited list.
 */

/** Envoy's MAX_ALLOWED_NOMINATED_HEADERS: a Connection header with this many tokens is refused. */
export const MAX_CONNECTION_TOKENS = 10;

/**
 * Connection options that are not field names, and fields that frame or route the message:
 * nominating those never removes them (the parser has framed the message on them already, and
 * the encoder forwards the head as parsed, so dropping Content-Length would desynchronise the
 * upstream). Envoy re-derives framing in its encoder; Courier keeps the fields instead.
 */
const NOT_REMOVED: ReadonlySet<string> = new Set([
  'close',
  'keep-alive',
  'upgrade',
  'http2-settings',
  'connection',
  'host',
  'content-length',
  'transfer-encoding',
]);

/** Nominating one of these in a request is refused (Envoy: http1.connection_header_rejected). */
const REFUSED_IN_REQUESTS: ReadonlySet<string> = new Set(['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);

/**
 * Removes from `headers` (in place) every field the Connection header(s) nominate, and those
 * tokens from the Connection value. Returns undefined when done, or why a request is refused
 * (responses are never refused: isRequest false only strips).
 */
export function sanitizeConnectionHeader(headers: string[], isRequest: boolean): string | undefined {
  // The tokens, lower-cased, from every Connection field (there may be several lines). At most
  // a handful: plain arrays and loops, no Set, no split (this runs once per such head).
  const tokens: string[] = [];
  for (let k = 0; k < headers.length; k += 2) {
    if (headers[k] === 'connection') collectTokens(headers[k + 1]!, tokens);
  }
  if (isRequest && tokens.length >= MAX_CONNECTION_TOKENS) return `the Connection header has ${tokens.length} tokens (limit ${MAX_CONNECTION_TOKENS - 1})`;
  const remove: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (NOT_REMOVED.has(t)) continue;
    if (isRequest && (REFUSED_IN_REQUESTS.has(t) || t.charCodeAt(0) === 0x3a)) return `the Connection header nominates ${t}`;
    remove.push(t);
  }
  if (remove.length === 0) return undefined;
  // One compacting pass: drop nominated fields, rewrite the first Connection field to the
  // tokens that remain (an upgrade forwards it), drop the other Connection fields.
  let kept = '';
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!remove.includes(t)) kept = kept === '' ? t : `${kept}, ${t}`;
  }
  let out = 0;
  let connectionWritten = false;
  for (let k = 0; k < headers.length; k += 2) {
    const name = headers[k]!;
    let value = headers[k + 1]!;
    if (remove.includes(name)) continue;
    if (name === 'connection') {
      if (connectionWritten || kept === '') continue;
      connectionWritten = true;
      value = kept;
    }
    headers[out] = name;
    headers[out + 1] = value;
    out += 2;
  }
  headers.length = out;
  return undefined;
}

/** Appends the non-empty comma-separated tokens of `v`, without surrounding OWS, lower-cased. */
function collectTokens(v: string, into: string[]): void {
  const n = v.length;
  let i = 0;
  while (i < n) {
    let c = v.charCodeAt(i);
    while (i < n && (c === 0x20 || c === 0x09 || c === 0x2c)) c = v.charCodeAt(++i);
    const start = i;
    while (i < n && v.charCodeAt(i) !== 0x2c) i++;
    let end = i;
    while (end > start && (v.charCodeAt(end - 1) === 0x20 || v.charCodeAt(end - 1) === 0x09)) end--;
    if (end > start) into.push(v.substring(start, end).toLowerCase());
  }
}

/**
 * Fields RFC 9110 §6.5.1 says a sender must not put in trailers (and a recipient must not merge
 * into the header section), plus the hop-by-hop fields. Their presence in a trailer section is
 * either an attack (a second Host or Content-Length the upstream might merge) or a mistake.
 */
const NOT_IN_TRAILERS: ReadonlySet<string> = new Set([
  // message framing and routing
  'content-length',
  'transfer-encoding',
  'host',
  'trailer',
  // hop-by-hop
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'upgrade',
  // request modifiers: controls and conditionals (RFC 9110 §7.6.2, §10.1, §13, §14.2)
  'cache-control',
  'expect',
  'max-forwards',
  'pragma',
  'range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'if-range',
  // authentication
  'authorization',
  'proxy-authorization',
  'www-authenticate',
  'proxy-authenticate',
  'cookie',
  'set-cookie',
  // response control data (RFC 9110 §15.2.1 … as listed in §6.5.1)
  'age',
  'expires',
  'date',
  'location',
  'retry-after',
  'vary',
  'warning',
  // how to process the content
  'content-encoding',
  'content-type',
  'content-range',
]);

/**
 * The trailers to forward: `trailers` without the fields that must not be there, edited in
 * place. Undefined when none is left (the encoder then writes a bare last chunk).
 */
export function sanitizeTrailers(trailers: string[] | undefined): string[] | undefined {
  if (trailers === undefined) return undefined;
  let out = 0;
  for (let k = 0; k < trailers.length; k += 2) {
    const name = trailers[k]!;
    if (NOT_IN_TRAILERS.has(name)) continue;
    trailers[out] = name;
    trailers[out + 1] = trailers[k + 1]!;
    out += 2;
  }
  trailers.length = out;
  return out === 0 ? undefined : trailers;
}
