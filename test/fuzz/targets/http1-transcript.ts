/**
 * HTTP/1 framing transcripts: what a parser made of a byte stream, as a list of events that two
 * parsers can be compared on. Courier's Http1Parser and Node's own llhttp (the HTTPParser
 * binding node:http is built on, reached through process.binding on Node 20) each produce one.
 *
 * Events: `H <start line> ka=<keep-alive>` at each head (`up=1` instead for an upgrade), `B <n>`
 * for the body bytes of the message (summed), `C` at its end, `E` on a parse error (the
 * parser's own code is kept beside the events: the codes of two parsers never match). Framing is what is
 * compared (message boundaries, body length, keep-alive, accept or reject); header values are
 * not, since each parser reports them in its own form.
 *
 * The transcript stops where both parsers stop being HTTP parsers: after a head that upgrades
 * (the rest is a tunnel) and after the message that ends the connection (later bytes are never
 * parsed: Courier ignores them, llhttp reports HPE_CLOSED_CONNECTION).
 */
import { Http1Parser, type Http1Head, type Http1ParseResult, type Http1RequestHead, type Http1ResponseHead } from '../../../src/common/http/http1-parser.js';

export type Side = 'request' | 'response';

export interface Transcript {
  readonly events: string[];
  /** Courier's error code or llhttp's error code, when the stream was rejected. */
  readonly error: string | null;
}

class TranscriptBuilder {
  readonly events: string[] = [];
  #body = -1;
  #ended = false;
  error: string | null = null;

  get ended(): boolean {
    return this.#ended;
  }

  head(start: string, keepAlive: boolean, upgrade: boolean): void {
    if (this.#ended) return;
    // An interim 1xx response (not 101) never ends the connection: the final response decides,
    // so its keep-alive is not compared. After an upgrade the connection is a tunnel.
    this.#interim = !upgrade && /^1\d\d /.test(start) && !start.startsWith('101 ');
    this.events.push(upgrade ? `H ${start} up=1` : this.#interim ? `H ${start}` : `H ${start} ka=${keepAlive ? 1 : 0}`);
    this.#body = 0;
    if (upgrade) this.#ended = true;
  }

  body(n: number): void {
    if (!this.#ended && this.#body >= 0) this.#body += n;
  }

  complete(keepAlive: boolean): void {
    if (this.#ended) return;
    if (this.#body > 0) this.events.push(`B ${this.#body}`);
    this.events.push('C');
    this.#body = -1;
    if (!keepAlive && !this.#interim) this.#ended = true;
  }

  #interim = false;

  fail(code: string): void {
    if (this.#ended || this.error !== null) return;
    // A message refused is refused, whether its head was reported first or not (llhttp reports
    // a head and then refuses its framing, Courier refuses the head): drop its partial events.
    while (this.events.length > 0 && this.events.at(-1) !== 'C') this.events.pop();
    // Both parsers refusing the same message is agreement: their codes differ by design.
    this.error = code;
    this.events.push('E');
  }

  done(): Transcript {
    return { events: this.events, error: this.error };
  }
}

/** Courier's transcript. `methods`: for responses, the request method each answers (default GET). */
export function courierTranscript(
  side: Side,
  chunks: readonly Buffer[],
  opts: { pauseEachMessage?: boolean; methods?: readonly string[] } = {},
): Transcript {
  const t = new TranscriptBuilder();
  let lastKeepAlive = true;
  let pausedParser: Http1Parser<Http1Head> | null = null;
  const callbacks = {
    onHead(head: Http1Head): void {
      lastKeepAlive = head.keepAlive;
      const start =
        'method' in head
          ? `${(head as Http1RequestHead).method} ${(head as Http1RequestHead).path} 1.${head.versionMinor}`
          : `${(head as Http1ResponseHead).statusCode} 1.${head.versionMinor}`;
      t.head(start, head.keepAlive, head.upgrade);
    },
    onBody(chunk: Buffer): void {
      t.body(chunk.length);
    },
    onMessageComplete(): void {
      t.complete(lastKeepAlive);
      if (opts.pauseEachMessage) pausedParser?.pause();
    },
  };
  const parser: Http1Parser<Http1Head> =
    side === 'request'
      ? (Http1Parser.forRequests(callbacks) as Http1Parser<Http1Head>)
      : (Http1Parser.forResponses(callbacks) as Http1Parser<Http1Head>);
  pausedParser = parser;
  if (side === 'response') {
    const methods = opts.methods ?? [];
    for (let i = 0; i < 64; i++) parser.expectResponse(methods.length > 0 ? methods[i % methods.length]! : 'GET');
  }
  const check = (r: Http1ParseResult): boolean => {
    if (r.ok) return true;
    t.fail(r.code);
    return false;
  };
  for (const chunk of chunks) {
    if (!check(parser.execute(chunk))) return t.done();
    // As the connection manager does: the answer is written, then parsing goes on.
    while (parser.paused && !t.ended) {
      if (!check(parser.resume())) return t.done();
    }
  }
  check(parser.finish());
  while (parser.paused && !t.ended) {
    if (!check(parser.resume())) break;
  }
  return t.done();
}

// ---------------------------------------------------------------------------------------------
// llhttp, through Node's internal binding (the parser node:http uses, with node:http's defaults)

interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  finish(): undefined | Error;
  close(): void;
  [k: number]: unknown;
}
interface LlhttpBinding {
  HTTPParser: {
    new (): LlhttpParser;
    REQUEST: number;
    RESPONSE: number;
    kOnMessageBegin: number;
    kOnHeaders: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
    kOnExecute: number;
  };
  methods: string[];
}

let binding: LlhttpBinding | null = null;

function llhttpBinding(): LlhttpBinding {
  if (binding) return binding;
  // process.binding is deprecated (DEP0111) but is how Node 20 exposes the parser it uses.
  const saved = process.emitWarning;
  process.emitWarning = () => {};
  try {
    binding = (process as unknown as { binding(name: string): LlhttpBinding }).binding('http_parser');
  } finally {
    process.emitWarning = saved;
  }
  return binding;
}

/** Whether this Node exposes llhttp (the differential check is skipped, and says so, if not). */
export function llhttpAvailable(): boolean {
  try {
    return typeof llhttpBinding().HTTPParser === 'function';
  } catch {
    return false;
  }
}

/** The same limit as Courier's default (60 KiB) so head size is not a difference by itself. */
const LLHTTP_MAX_HEADER_SIZE = 60 * 1024;

export function llhttpTranscript(side: Side, chunks: readonly Buffer[]): Transcript {
  const { HTTPParser, methods } = llhttpBinding();
  const p = new HTTPParser();
  const t = new TranscriptBuilder();
  let url = '';
  let keepAlive = true;
  // Node flushes the URL (and trailers) through kOnHeaders; a new message starts a new URL.
  p[HTTPParser.kOnMessageBegin] = (): void => {
    url = '';
  };
  p[HTTPParser.kOnHeaders] = (_headers: string[], u: string): void => {
    url += u;
  };
  p[HTTPParser.kOnHeadersComplete] = (
    major: number,
    minor: number,
    _headers: string[],
    method: number,
    u: string,
    status: number,
    _reason: string,
    upgrade: boolean,
    shouldKeepAlive: boolean,
  ): number => {
    url += u ?? '';
    const version = major === 1 ? `1.${minor === 0 ? 0 : 1}` : `${major}.${minor}`;
    const start = side === 'request' ? `${methods[method]} ${url} ${version}` : `${status} ${version}`;
    url = '';
    keepAlive = shouldKeepAlive;
    t.head(start, shouldKeepAlive, upgrade);
    return 0;
  };
  p[HTTPParser.kOnBody] = (b: Buffer): void => t.body(b.length);
  p[HTTPParser.kOnMessageComplete] = (): void => t.complete(keepAlive);
  p[HTTPParser.kOnExecute] = (): void => {};
  p.initialize(side === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE, {}, LLHTTP_MAX_HEADER_SIZE, 0);
  try {
    for (const chunk of chunks) {
      const r = p.execute(chunk);
      if (r instanceof Error) {
        t.fail((r as Error & { code?: string }).code ?? 'HPE_UNKNOWN');
        return t.done();
      }
      if (t.ended) return t.done();
    }
    const r = p.finish();
    if (r instanceof Error) t.fail((r as Error & { code?: string }).code ?? 'HPE_UNKNOWN');
    return t.done();
  } finally {
    p.close();
  }
}
