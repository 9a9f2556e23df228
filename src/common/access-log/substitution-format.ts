/**
 * Envoy's access log substitution formatter ("command operators").
 *
 * A format string is compiled once, at config time on the worker, into an array of parts:
 * literal strings and operator closures. Formatting one StreamInfo is then a single loop that
 * concatenates literals and closure results; no regex and no parsing happen per log line.
 *
 * Operator closures return the operator's natural value: a string, a number, or `undefined`
 * when the value is absent. Text output prints absent values as "-" (Envoy's default); typed
 * JSON output keeps numbers as numbers and prints absent values as null.
 */

import { hostname } from 'node:os';
import { RESPONSE_FLAG_ORDER, ResponseFlag, type ResponseFlagCode, type StreamInfo } from '../../api/stream-info.js';

/** What an operator yields: a string, a number, or undefined when the value is absent. */
export type FormatValue = string | number | undefined;
/** A compiled operator: reads one value from a StreamInfo. Never throws. */
export type OperatorFn = (info: StreamInfo) => FormatValue;
/** One compiled piece of a format: a literal, or an operator. */
export type FormatPart = string | OperatorFn;

/** Anything that turns a finished stream into one log line (newline included). */
export interface Formatter {
  format(info: StreamInfo): string;
}

/**
 * Envoy's default access log format (the HTTP one, also used by TCP proxy access logs).
 * For a TCP connection the HTTP fields print "-" and RESPONSE_CODE prints 0.
 */
export const DEFAULT_TCP_ACCESS_LOG_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ' +
  '%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ' +
  '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ' +
  '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n';

/** What text output prints for an absent value. */
export const UNSPECIFIED_VALUE = '-';

/**
 * A format could not be compiled. `path` locates the offending value inside a JSON format
 * (`a.b[2]`, relative to the json_format struct); it is '' for text formats.
 */
export class AccessLogFormatError extends Error {
  readonly path: string;
  readonly detail: string;
  constructor(detail: string, path = '') {
    super(path ? `${path}: ${detail}` : detail);
    this.name = 'AccessLogFormatError';
    this.detail = detail;
    this.path = path;
  }
}

// ---------------------------------------------------------------------------------------------
// Operators
// ---------------------------------------------------------------------------------------------

interface OperatorSpec {
  /** Whether `(...)` is forbidden, optional or required. */
  readonly params: 'none' | 'optional' | 'required';
  /** Whether `:N` (max length) is accepted. */
  readonly length?: boolean;
  /** Builds the closure; may throw a plain message (string) for a bad parameter. */
  readonly build: (param: string | undefined, token: string) => OperatorFn;
}

/**
 * The operator for values Courier never has (HTTP headers, TLS, metadata). Formatters fold it
 * into the surrounding literal text at compile time, so it costs nothing per line.
 */
const absent: OperatorFn = () => undefined;

/** Whether an operator always yields undefined (and can be folded into a literal). */
export function isAlwaysAbsent(fn: OperatorFn): boolean {
  return fn === absent;
}

/** An Envoy operator whose data Courier never has (yet): it parses and prints "-". */
const ABSENT_SPEC: OperatorSpec = { params: 'none', build: () => absent };
const ABSENT_WITH_PARAMS_SPEC: OperatorSpec = { params: 'required', length: true, build: () => absent };

interface SplitAddress {
  /** As printed by the full-address operators ([v6]:port). */
  readonly full: string;
  /** The IP (or pipe path) alone; IPv6 without brackets, as Envoy prints it. */
  readonly host: string;
  readonly port: number | undefined;
}

/**
 * Splits "ip:port", "[v6]:port" or "v6:port" (StreamInfo may carry IPv6 unbracketed).
 * Pipe paths ("/x", "@x") have no port.
 */
export function splitAddress(addr: string): SplitAddress {
  if (addr.startsWith('/') || addr.startsWith('@')) return { full: addr, host: addr, port: undefined };
  if (addr.startsWith('[')) {
    const close = addr.indexOf(']');
    if (close > 0) {
      const host = addr.slice(1, close);
      const port = addr.charCodeAt(close + 1) === 58 /* : */ ? toPort(addr.slice(close + 2)) : undefined;
      return { full: port === undefined ? `[${host}]` : `[${host}]:${port}`, host, port };
    }
    return { full: addr, host: addr, port: undefined };
  }
  const last = addr.lastIndexOf(':');
  if (last < 0) return { full: addr, host: addr, port: undefined };
  const host = addr.slice(0, last);
  const port = toPort(addr.slice(last + 1));
  if (port === undefined) return { full: addr, host: addr, port: undefined };
  if (host.includes(':')) return { full: `[${host}]:${port}`, host, port };
  return { full: addr, host, port };
}

function toPort(s: string): number | undefined {
  if (s.length === 0 || s.length > 5) return undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

type AddressPick = 'full' | 'host' | 'port';

/**
 * An operator over one of StreamInfo's address strings. Remembers the last input so a
 * constant address (the listener's, say) is split once, not once per line.
 */
function addressOperator(read: (info: StreamInfo) => string | undefined, pick: AddressPick): OperatorSpec {
  return {
    params: 'none',
    build: () => {
      let lastIn: string | undefined;
      let lastOut: FormatValue;
      return (info) => {
        const a = read(info);
        if (a === undefined || a === '') return undefined;
        if (a !== lastIn) {
          const s = splitAddress(a);
          lastOut = pick === 'full' ? s.full : pick === 'host' ? s.host : s.port;
          lastIn = a;
        }
        return lastOut;
      };
    },
  };
}

function addressOperators(prefix: string, read: (info: StreamInfo) => string | undefined): Record<string, OperatorSpec> {
  return {
    [`${prefix}_ADDRESS`]: addressOperator(read, 'full'),
    [`${prefix}_ADDRESS_WITHOUT_PORT`]: addressOperator(read, 'host'),
    [`${prefix}_PORT`]: addressOperator(read, 'port'),
  };
}

/** Long flag names, as %RESPONSE_FLAGS_LONG% prints them (Envoy's are the same words). */
const LONG_FLAG_NAME: ReadonlyMap<ResponseFlagCode, string> = new Map(
  (Object.entries(ResponseFlag) as [string, ResponseFlagCode][]).map(([long, short]) => [short, long]),
);

function responseFlags(info: StreamInfo, long: boolean): string {
  const flags = info.responseFlags;
  if (flags.size === 0) return UNSPECIFIED_VALUE;
  if (flags.size === 1 && !long) {
    for (const only of flags) return only;
  }
  let out = '';
  for (const code of RESPONSE_FLAG_ORDER) {
    if (!flags.has(code)) continue;
    const name = long ? LONG_FLAG_NAME.get(code) ?? code : code;
    out = out === '' ? name : `${out},${name}`;
  }
  return out === '' ? UNSPECIFIED_VALUE : out;
}

/**
 * REQ/RESP/TRAILER: `HEADER` or `HEADER?ALTERNATIVE`. Request and response headers are read
 * through the StreamInfo's getters, which only HTTP streams have (TCP logs "-"); trailers are
 * not recorded yet, so TRAILER is always absent.
 */
function headerSpec(source: 'request' | 'response' | 'trailer'): OperatorSpec {
  return {
    params: 'required',
    length: true,
    build: (param, token) => {
      const names = (param ?? '').split('?');
      if (names.length > 2) throw `${token}: more than one alternative header (one '?' at most)`;
      if (names[0] === '') throw `${token}: empty header name`;
      if (source === 'trailer') return absent;
      const main = names[0]!.toLowerCase();
      const alt = names[1]?.toLowerCase();
      const read = (info: StreamInfo, name: string): string | undefined =>
        source === 'request' ? info.requestHeader?.(name) : info.responseHeader?.(name);
      return (info) => read(info, main) ?? (alt !== undefined ? read(info, alt) : undefined);
    },
  };
}

const DEFAULT_HOSTNAME = ((): string | undefined => {
  try {
    return hostname() || undefined;
  } catch {
    return undefined;
  }
})();

const OPERATORS: ReadonlyMap<string, OperatorSpec> = new Map<string, OperatorSpec>(Object.entries({
  START_TIME: {
    params: 'optional',
    build: (param) => compileStartTime(param === undefined || param === '' ? DEFAULT_START_TIME_FORMAT : param),
  },
  DURATION: {
    params: 'none',
    build: () => (info) => {
      const end = info.endMonoMs ?? performance.now();
      const d = Math.floor(end - info.startMonoMs);
      return d > 0 ? d : 0;
    },
  },
  BYTES_RECEIVED: { params: 'none', build: () => (info) => info.bytesReceived },
  BYTES_SENT: { params: 'none', build: () => (info) => info.bytesSent },
  RESPONSE_CODE: { params: 'none', build: () => (info) => info.responseCode ?? 0 },
  RESPONSE_FLAGS: { params: 'none', build: () => (info) => responseFlags(info, false) },
  RESPONSE_FLAGS_LONG: { params: 'none', build: () => (info) => responseFlags(info, true) },
  PROTOCOL: { params: 'none', build: () => (info) => info.protocol || undefined },
  UPSTREAM_HOST: addressOperator((info) => info.upstreamHost, 'full'),
  ...addressOperators('UPSTREAM_REMOTE', (info) => info.upstreamHost),
  ...addressOperators('UPSTREAM_LOCAL', (info) => info.upstreamLocalAddress),
  UPSTREAM_CLUSTER: { params: 'none', build: () => (info) => info.upstreamCluster || undefined },
  UPSTREAM_CLUSTER_RAW: { params: 'none', build: () => (info) => info.upstreamCluster || undefined },
  ...addressOperators('DOWNSTREAM_REMOTE', (info) => info.downstreamRemoteAddress),
  ...addressOperators('DOWNSTREAM_DIRECT_REMOTE', (info) => info.downstreamDirectRemoteAddress ?? info.downstreamRemoteAddress),
  ...addressOperators('DOWNSTREAM_LOCAL', (info) => info.downstreamLocalAddress),
  CONNECTION_TERMINATION_DETAILS: {
    params: 'none',
    build: () => (info) => info.connectionTerminationDetails || undefined,
  },
  UPSTREAM_TRANSPORT_FAILURE_REASON: {
    params: 'none',
    // StreamInfo has no such field yet; read it if a later StreamInfo carries one.
    build: () => (info) => (info as { upstreamTransportFailureReason?: string }).upstreamTransportFailureReason || undefined,
  },
  HOSTNAME: { params: 'none', build: () => () => DEFAULT_HOSTNAME },
  REQ: headerSpec('request'),
  REQUEST_HEADER: headerSpec('request'),
  RESP: headerSpec('response'),
  RESPONSE_HEADER: headerSpec('response'),
  TRAILER: headerSpec('trailer'),
  RESPONSE_TRAILER: headerSpec('trailer'),
  // Envoy operators for data Courier does not have on a plain TCP connection: Envoy prints
  // "-" for these on TCP too, so configs written for Envoy keep working.
  REQUEST_DURATION: ABSENT_SPEC,
  REQUEST_TX_DURATION: ABSENT_SPEC,
  RESPONSE_DURATION: ABSENT_SPEC,
  RESPONSE_TX_DURATION: ABSENT_SPEC,
  RESPONSE_CODE_DETAILS: ABSENT_SPEC,
  ROUTE_NAME: ABSENT_SPEC,
  REQUESTED_SERVER_NAME: ABSENT_SPEC,
  DOWNSTREAM_TLS_VERSION: ABSENT_SPEC,
  DOWNSTREAM_TLS_CIPHER: ABSENT_SPEC,
  DOWNSTREAM_TLS_SESSION_ID: ABSENT_SPEC,
  DOWNSTREAM_PEER_URI_SAN: ABSENT_SPEC,
  DOWNSTREAM_LOCAL_URI_SAN: ABSENT_SPEC,
  DOWNSTREAM_PEER_SUBJECT: ABSENT_SPEC,
  DOWNSTREAM_LOCAL_SUBJECT: ABSENT_SPEC,
  DOWNSTREAM_PEER_ISSUER: ABSENT_SPEC,
  DOWNSTREAM_PEER_SERIAL: ABSENT_SPEC,
  DOWNSTREAM_PEER_FINGERPRINT_1: ABSENT_SPEC,
  DOWNSTREAM_PEER_FINGERPRINT_256: ABSENT_SPEC,
  DOWNSTREAM_PEER_CERT: ABSENT_SPEC,
  UPSTREAM_TLS_VERSION: ABSENT_SPEC,
  UPSTREAM_TLS_CIPHER: ABSENT_SPEC,
  UPSTREAM_TLS_SESSION_ID: ABSENT_SPEC,
  UPSTREAM_PEER_URI_SAN: ABSENT_SPEC,
  UPSTREAM_PEER_SUBJECT: ABSENT_SPEC,
  UPSTREAM_PEER_ISSUER: ABSENT_SPEC,
  UPSTREAM_PEER_CERT: ABSENT_SPEC,
  DYNAMIC_METADATA: ABSENT_WITH_PARAMS_SPEC,
  CLUSTER_METADATA: ABSENT_WITH_PARAMS_SPEC,
  UPSTREAM_METADATA: ABSENT_WITH_PARAMS_SPEC,
  FILTER_STATE: ABSENT_WITH_PARAMS_SPEC,
  UPSTREAM_FILTER_STATE: ABSENT_WITH_PARAMS_SPEC,
}));

/** Names of every operator this formatter accepts (for docs and diagnostics). */
export const SUPPORTED_OPERATORS: readonly string[] = [...OPERATORS.keys()];

// ---------------------------------------------------------------------------------------------
// START_TIME
// ---------------------------------------------------------------------------------------------

/** Envoy's default START_TIME format (UTC): 2016-08-25T17:55:20.110Z. */
export const DEFAULT_START_TIME_FORMAT = '%Y-%m-%dT%H:%M:%E3SZ';

/** A piece of a compiled strftime format: literal, second-resolution field, or sub-second field. */
type TimeToken =
  | { readonly kind: 'lit'; readonly text: string }
  | { readonly kind: 'sec'; readonly fn: (d: Date, epochSec: number) => string }
  | { readonly kind: 'frac'; readonly fn: (nanos: number) => string };

const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTH_NAMES = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));
const pad3 = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));

/** First `digits` digits of the nanoseconds within the second (truncated, like absl). */
function fraction(nanos: number, digits: number): string {
  return String(nanos).padStart(9, '0').slice(0, digits);
}

/** Fraction with trailing zeros removed, '.'-prefixed; '' when zero (absl's %E*S). */
function fullFraction(nanos: number): string {
  if (nanos === 0) return '';
  let s = String(nanos).padStart(9, '0');
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 48) end--;
  s = s.slice(0, end);
  return `.${s}`;
}

function dayOfYear(d: Date): number {
  return Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
}

const SEC_FIELDS: Readonly<Record<string, (d: Date, epochSec: number) => string>> = {
  Y: (d) => String(d.getUTCFullYear()),
  C: (d) => pad2(Math.floor(d.getUTCFullYear() / 100)),
  y: (d) => pad2(d.getUTCFullYear() % 100),
  m: (d) => pad2(d.getUTCMonth() + 1),
  d: (d) => pad2(d.getUTCDate()),
  e: (d) => String(d.getUTCDate()).padStart(2, ' '),
  j: (d) => pad3(dayOfYear(d)),
  H: (d) => pad2(d.getUTCHours()),
  I: (d) => pad2(d.getUTCHours() % 12 || 12),
  p: (d) => (d.getUTCHours() < 12 ? 'AM' : 'PM'),
  M: (d) => pad2(d.getUTCMinutes()),
  S: (d) => pad2(d.getUTCSeconds()),
  s: (_d, sec) => String(sec),
  a: (d) => DAY_NAMES[d.getUTCDay()]!.slice(0, 3),
  A: (d) => DAY_NAMES[d.getUTCDay()]!,
  b: (d) => MONTH_NAMES[d.getUTCMonth()]!.slice(0, 3),
  h: (d) => MONTH_NAMES[d.getUTCMonth()]!.slice(0, 3),
  B: (d) => MONTH_NAMES[d.getUTCMonth()]!,
  u: (d) => String(d.getUTCDay() || 7),
  w: (d) => String(d.getUTCDay()),
  z: () => '+0000',
  Z: () => 'UTC',
};

/** Composite specifiers, expanded before compiling. */
const COMPOSITE: Readonly<Record<string, string>> = {
  T: '%H:%M:%S',
  F: '%Y-%m-%d',
  D: '%m/%d/%y',
  R: '%H:%M',
};

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Compiles a strftime-like format (UTC) into tokens. Supports the usual strftime fields,
 * Envoy's %s, %f and %1f..%9f (fractional seconds, %f = 9 digits), and absl's %E<n>S,
 * %E*S, %E<n>f, %E*f, %Ez and %E4Y. Unknown specifiers are printed as written.
 */
function compileStrftime(fmt: string): TimeToken[] {
  const out: TimeToken[] = [];
  let lit = '';
  const pushLit = (): void => {
    if (lit !== '') out.push({ kind: 'lit', text: lit });
    lit = '';
  };
  const sec = (fn: (d: Date, s: number) => string): void => {
    pushLit();
    out.push({ kind: 'sec', fn });
  };
  const frac = (fn: (nanos: number) => string): void => {
    pushLit();
    out.push({ kind: 'frac', fn });
  };
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    if (c !== '%' || i + 1 >= fmt.length) {
      lit += c;
      continue;
    }
    const n = fmt[i + 1]!;
    if (n === '%') {
      lit += '%';
      i++;
    } else if (n === 'n') {
      lit += '\n';
      i++;
    } else if (n === 't') {
      lit += '\t';
      i++;
    } else if (n === 'f') {
      frac((ns) => fraction(ns, 9));
      i++;
    } else if (isDigit(n) && n !== '0' && fmt[i + 2] === 'f') {
      const digits = Number(n);
      frac((ns) => fraction(ns, digits));
      i += 2;
    } else if (n === 'E') {
      const a = fmt[i + 2];
      const b = fmt[i + 3];
      if (isDigit(a) && b === 'S') {
        const digits = Number(a);
        sec(SEC_FIELDS.S!);
        if (digits > 0) frac((ns) => `.${fraction(ns, digits)}`);
        i += 3;
      } else if (a === '*' && b === 'S') {
        sec(SEC_FIELDS.S!);
        frac(fullFraction);
        i += 3;
      } else if (isDigit(a) && b === 'f') {
        const digits = Number(a);
        if (digits > 0) frac((ns) => fraction(ns, digits));
        i += 3;
      } else if (a === '*' && b === 'f') {
        frac((ns) => fullFraction(ns).slice(1) || '0');
        i += 3;
      } else if (a === 'z') {
        lit += '+00:00';
        i += 2;
      } else if (a === '4' && b === 'Y') {
        sec((d) => String(d.getUTCFullYear()).padStart(4, '0'));
        i += 3;
      } else {
        lit += '%E';
        i++;
      }
    } else if (COMPOSITE[n] !== undefined) {
      pushLit();
      out.push(...compileStrftime(COMPOSITE[n]!));
      i++;
    } else if (SEC_FIELDS[n] !== undefined) {
      sec(SEC_FIELDS[n]!);
      i++;
    } else {
      lit += `%${n}`;
      i++;
    }
  }
  pushLit();
  // Merge adjacent literals produced by composites.
  const merged: TimeToken[] = [];
  for (const t of out) {
    const prev = merged[merged.length - 1];
    if (t.kind === 'lit' && prev?.kind === 'lit') merged[merged.length - 1] = { kind: 'lit', text: prev.text + t.text };
    else merged.push(t);
  }
  return merged;
}

/**
 * START_TIME(FORMAT): everything at second resolution is rendered once per distinct second
 * and cached; only the fractional-second fields are rendered per line.
 */
function compileStartTime(fmt: string): OperatorFn {
  const tokens = compileStrftime(fmt);
  const fracs: ((nanos: number) => string)[] = [];
  for (const t of tokens) if (t.kind === 'frac') fracs.push(t.fn);
  let cachedSec = Number.NaN;
  // pieces[i] is the text before fracs[i]; pieces[fracs.length] is the tail.
  let pieces: string[] = [];
  const render = (epochSec: number): void => {
    const d = new Date(epochSec * 1000);
    pieces = [];
    let cur = '';
    for (const t of tokens) {
      if (t.kind === 'lit') cur += t.text;
      else if (t.kind === 'sec') cur += t.fn(d, epochSec);
      else {
        pieces.push(cur);
        cur = '';
      }
    }
    pieces.push(cur);
    cachedSec = epochSec;
  };
  return (info) => {
    const ms = info.startTimeMs;
    if (!Number.isFinite(ms)) return undefined;
    const epochSec = Math.floor(ms / 1000);
    if (epochSec !== cachedSec) render(epochSec);
    if (fracs.length === 0) return pieces[0];
    let nanos = Math.round((ms - epochSec * 1000) * 1e6);
    if (nanos > 999_999_999) nanos = 999_999_999;
    let s = pieces[0]!;
    for (let i = 0; i < fracs.length; i++) s += fracs[i]!(nanos) + pieces[i + 1]!;
    return s;
  };
}

// ---------------------------------------------------------------------------------------------
// Text formats
// ---------------------------------------------------------------------------------------------

const isNameChar = (c: number): boolean =>
  (c >= 65 && c <= 90) /* A-Z */ || (c >= 48 && c <= 57) /* 0-9 */ || c === 95 /* _ */;
const isLower = (c: number): boolean => c >= 97 && c <= 122;

function truncating(fn: OperatorFn, max: number): OperatorFn {
  return (info) => {
    const v = fn(info);
    return typeof v === 'string' && v.length > max ? v.slice(0, max) : v;
  };
}

/** Parses one `%NAME(param):N%` at `start` (the '%'); returns the closure and the end index. */
function parseOperator(format: string, start: number): { fn: OperatorFn; next: number } {
  let i = start + 1;
  while (i < format.length && (isNameChar(format.charCodeAt(i)) || isLower(format.charCodeAt(i)))) i++;
  const name = format.slice(start + 1, i);
  if (name === '') {
    throw new AccessLogFormatError(
      `invalid access log format: '%' at position ${start} does not start an operator (write %% for a literal percent)`,
    );
  }
  let param: string | undefined;
  if (format[i] === '(') {
    const close = format.indexOf(')', i + 1);
    if (close < 0) throw new AccessLogFormatError(`access log operator %${name}(... at position ${start} has no closing ')'`);
    param = format.slice(i + 1, close);
    i = close + 1;
  }
  let maxLength: number | undefined;
  if (format[i] === ':') {
    const digitsStart = i + 1;
    i = digitsStart;
    while (i < format.length && isDigit(format[i])) i++;
    if (i === digitsStart) {
      throw new AccessLogFormatError(`access log operator %${name}% at position ${start}: ':' must be followed by a length`);
    }
    maxLength = Number(format.slice(digitsStart, i));
  }
  if (format[i] !== '%') {
    throw new AccessLogFormatError(
      `invalid access log format: operator %${format.slice(start + 1, i)} at position ${start} is not closed by '%' (write %% for a literal percent)`,
    );
  }
  const token = format.slice(start, i + 1);
  const spec = OPERATORS.get(name);
  if (spec === undefined) throw new AccessLogFormatError(`unknown access log operator %${name}%`);
  if (spec.params === 'none' && param !== undefined) {
    throw new AccessLogFormatError(`access log operator %${name}% takes no parameters (got ${token})`);
  }
  if (spec.params === 'required' && (param === undefined || param === '')) {
    throw new AccessLogFormatError(`access log operator %${name}% requires a parameter, e.g. %${name}(X)%`);
  }
  if (maxLength !== undefined && !spec.length) {
    throw new AccessLogFormatError(`access log operator %${name}% takes no length (got ${token})`);
  }
  let fn: OperatorFn;
  try {
    fn = spec.build(param, token);
  } catch (e) {
    throw new AccessLogFormatError(`access log operator ${typeof e === 'string' ? e : (e as Error).message}`);
  }
  if (maxLength !== undefined && fn !== absent) fn = truncating(fn, maxLength);
  return { fn, next: i + 1 };
}

/**
 * Compiles a text format into parts. Adjacent literal text is merged; "%%" is a literal '%'.
 * Throws AccessLogFormatError naming the operator for an unknown or malformed one.
 */
export function compileFormat(format: string): FormatPart[] {
  const parts: FormatPart[] = [];
  let lit = '';
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      lit += format.slice(i);
      break;
    }
    lit += format.slice(i, pct);
    if (format.charCodeAt(pct + 1) === 37 /* % */) {
      lit += '%';
      i = pct + 2;
      continue;
    }
    const { fn, next } = parseOperator(format, pct);
    if (lit !== '') parts.push(lit);
    lit = '';
    parts.push(fn);
    i = next;
  }
  if (lit !== '') parts.push(lit);
  return parts;
}

/**
 * Replaces always-absent operators by `empty` and merges adjacent literals: what a
 * formatter with a fixed empty value actually loops over.
 */
export function foldParts(parts: readonly FormatPart[], empty = UNSPECIFIED_VALUE): FormatPart[] {
  const out: FormatPart[] = [];
  for (const p of parts) {
    const q = typeof p !== 'string' && p === absent ? empty : p;
    const last = out[out.length - 1];
    if (typeof q === 'string' && typeof last === 'string') out[out.length - 1] = last + q;
    else if (q !== '') out.push(q);
  }
  return out;
}

/** Renders compiled text parts. `empty` replaces absent values ("-", or "" to omit them). */
export function formatParts(parts: readonly FormatPart[], info: StreamInfo, empty = UNSPECIFIED_VALUE): string {
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (typeof p === 'string') {
      out += p;
    } else {
      const v = p(info);
      out += v === undefined ? empty : v;
    }
  }
  return out;
}

export interface FormatOptions {
  /**
   * Envoy's omit_empty_values: text prints absent values as "" instead of "-"; JSON leaves
   * out keys whose value is null (and objects left empty by that).
   */
  omitEmptyValues?: boolean;
}

/** A compiled text format (the user supplies any trailing newline, as in Envoy). */
export class TextFormatter implements Formatter {
  readonly parts: readonly FormatPart[];
  private readonly empty: string;
  constructor(format: string, options: FormatOptions = {}) {
    this.empty = options.omitEmptyValues ? '' : UNSPECIFIED_VALUE;
    this.parts = foldParts(compileFormat(format), this.empty);
  }
  format(info: StreamInfo): string {
    return formatParts(this.parts, info, this.empty);
  }
}

// ---------------------------------------------------------------------------------------------
// JSON formats
// ---------------------------------------------------------------------------------------------

/** Compiled JSON tree; rendered either flat (fast path) or recursively (omitting nulls). */
type JsonNode =
  | { readonly kind: 'raw'; readonly json: string }
  | { readonly kind: 'value'; readonly fn: OperatorFn }
  | { readonly kind: 'string'; readonly parts: readonly FormatPart[] }
  | { readonly kind: 'object'; readonly entries: readonly (readonly [string, JsonNode])[] }
  | { readonly kind: 'array'; readonly items: readonly JsonNode[] };

function childPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base ? `${base}.${key}` : key;
}

function compileJsonValue(value: unknown, path: string): JsonNode {
  if (typeof value === 'string') {
    let parts: FormatPart[];
    try {
      parts = compileFormat(value);
    } catch (e) {
      if (e instanceof AccessLogFormatError) throw new AccessLogFormatError(e.detail, path);
      throw e;
    }
    if (parts.length === 0) return { kind: 'raw', json: '""' };
    if (parts.length === 1) {
      const only = parts[0]!;
      // A single operator keeps its natural type (typed JSON, Envoy's v3 default).
      if (typeof only === 'string') return { kind: 'raw', json: JSON.stringify(only) };
      return only === absent ? { kind: 'raw', json: 'null' } : { kind: 'value', fn: only };
    }
    return { kind: 'string', parts };
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new AccessLogFormatError('number values in json_format must be finite', path);
    return { kind: 'raw', json: String(value) };
  }
  if (Array.isArray(value)) return { kind: 'array', items: value.map((v, i) => compileJsonValue(v, childPath(path, i))) };
  if (value !== null && typeof value === 'object') return compileJsonObject(value as Record<string, unknown>, path);
  throw new AccessLogFormatError(
    'Only string values, nested structs, list values and number values are supported in structured access log format.',
    path,
  );
}

function compileJsonObject(obj: Record<string, unknown>, path: string): JsonNode {
  // Envoy always prints the properties sorted.
  const keys = Object.keys(obj).sort();
  return { kind: 'object', entries: keys.map((k) => [k, compileJsonValue(obj[k], childPath(path, k))] as const) };
}

function jsonOf(v: FormatValue): string {
  if (v === undefined) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  return JSON.stringify(v);
}

/** Flattens a tree into text parts whose closures yield JSON fragments (never undefined). */
function flattenJson(node: JsonNode, out: FormatPart[]): void {
  const lit = (s: string): void => {
    const last = out[out.length - 1];
    if (typeof last === 'string') out[out.length - 1] = last + s;
    else out.push(s);
  };
  switch (node.kind) {
    case 'raw':
      lit(node.json);
      return;
    case 'value': {
      const fn = node.fn;
      out.push((info) => jsonOf(fn(info)));
      return;
    }
    case 'string': {
      const parts = foldParts(node.parts);
      if (parts.length === 1 && typeof parts[0] === 'string') lit(JSON.stringify(parts[0]));
      else out.push((info) => JSON.stringify(formatParts(parts, info)));
      return;
    }
    case 'object':
      lit('{');
      node.entries.forEach(([k, child], i) => {
        lit(`${i > 0 ? ',' : ''}${JSON.stringify(k)}:`);
        flattenJson(child, out);
      });
      lit('}');
      return;
    case 'array':
      lit('[');
      node.items.forEach((child, i) => {
        if (i > 0) lit(',');
        flattenJson(child, out);
      });
      lit(']');
      return;
  }
}

/** Renders a tree leaving out null values (omit_empty_values); undefined means "omit me". */
function renderOmitting(node: JsonNode, info: StreamInfo): string | undefined {
  switch (node.kind) {
    case 'raw':
      // A raw null can only be a folded always-absent operator (config nulls are rejected).
      return node.json === 'null' ? undefined : node.json;
    case 'value': {
      const v = node.fn(info);
      return v === undefined ? undefined : jsonOf(v);
    }
    case 'string':
      return JSON.stringify(formatParts(node.parts, info, ''));
    case 'object': {
      let s = '';
      for (const [k, child] of node.entries) {
        const v = renderOmitting(child, info);
        if (v === undefined) continue;
        s += `${s === '' ? '' : ','}${JSON.stringify(k)}:${v}`;
      }
      return s === '' ? undefined : `{${s}}`;
    }
    case 'array': {
      let s = '';
      let n = 0;
      for (const child of node.items) {
        const v = renderOmitting(child, info);
        if (v === undefined) continue;
        s += n++ === 0 ? v : `,${v}`;
      }
      return `[${s}]`;
    }
  }
}

/**
 * Compiles a json_format struct into text parts producing one compact JSON object
 * (without the trailing newline). Throws AccessLogFormatError with `path` set to the key.
 */
export function compileJsonFormat(jsonFormat: Record<string, unknown>): FormatPart[] {
  const out: FormatPart[] = [];
  flattenJson(compileJsonObject(jsonFormat, ''), out);
  return out;
}

/**
 * A compiled json_format: one JSON object per line, keys sorted, values that are a single
 * operator typed (numbers stay numbers, absent values are null), anything else a string.
 */
export class JsonFormatter implements Formatter {
  private readonly parts: readonly FormatPart[] | undefined;
  private readonly tree: JsonNode | undefined;
  constructor(jsonFormat: Record<string, unknown>, options: FormatOptions = {}) {
    if (jsonFormat === null || typeof jsonFormat !== 'object' || Array.isArray(jsonFormat)) {
      throw new AccessLogFormatError('json_format must be an object');
    }
    if (options.omitEmptyValues) {
      this.tree = compileJsonObject(jsonFormat, '');
    } else {
      const parts = compileJsonFormat(jsonFormat);
      this.parts = parts;
    }
  }
  format(info: StreamInfo): string {
    if (this.parts !== undefined) return `${formatParts(this.parts, info)}\n`;
    return `${renderOmitting(this.tree!, info) ?? '{}'}\n`;
  }
}
