/**
 * Real Thrift peers for tests, from npm `thrift` (0.24) and the code Apache Thrift's compiler
 * generated from test/fixtures/thrift/echo.thrift (gen-nodejs/, committed; see regen.sh):
 *  - startThriftServer(): a `thrift.createMultiplexServer` in this process on 127.0.0.1 serving
 *    the Echo service, counting its calls;
 *  - createThriftClient(): the generated Echo client over `thrift.createConnection`, promise-based.
 *
 * Transports use the codec's words: 'framed' is TFramedTransport, 'unframed' is
 * TBufferedTransport, 'header' is THeaderProtocol over TBufferedTransport (the wire format of
 * HeaderFormat.md) with `protocol` as its payload protocol.
 *
 * Echo methods (server `name` given at start):
 *   echo(msg) -> msg          whoami() -> name          add(a, b) -> a + b (i32)
 *   fire(msg)                 oneway: recorded in server.fired
 *   bulk(p)   -> p with `server` set to name (Payload: every Thrift type, nested)
 *   fail(msg, code)           throws EchoError {code, message: msg, server: name} (a declared exception)
 *   sleep(ms) -> ms, after ms milliseconds
 *   headers() -> the call's THeader info headers ({} on other transports)
 *   ping()    -> void
 * Over THeader the server's replies also carry the info header `server: <name>`.
 *
 * Two npm thrift quirks are worked around here: its generated clients flush the transport, not
 * the THeaderProtocol, so a client never writes THeader headers (the client's transport flush is
 * wrapped to write them); and its THeader server replies through the transport that reads the
 * next request, so a reply sent after another request was read loses its header (each call gets
 * its own reply transport here).
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const THRIFT_GEN_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'thrift', 'gen-nodejs');

export type ThriftPeerTransport = 'framed' | 'unframed' | 'header';
export type ThriftPeerProtocol = 'binary' | 'compact';

export interface ThriftPeerOptions {
  transport: ThriftPeerTransport;
  protocol: ThriftPeerProtocol;
}

// ---------------------------------------------------------------------------------------------
// The untyped npm library and generated code, narrowed to what is used here.

/** npm thrift's Int64 (node-int64): what i64 fields hold when read. */
export interface Int64 {
  toNumber(allowImprecise?: boolean): number;
}

/** echo.thrift's Payload as the generated code holds it: unset fields are null. */
export interface Payload {
  name?: string | null;
  count?: number | null;
  /** A number when writing; an Int64 when read. */
  big?: number | Int64 | null;
  ratio?: number | null;
  blob?: Buffer | null;
  flag?: boolean | null;
  small?: number | null;
  medium?: number | null;
  tags?: string[] | null;
  weights?: Record<string, number | Int64> | null;
  /** set<i16>: an array. */
  codes?: number[] | null;
  children?: Payload[] | null;
  series?: Record<string, number[]> | null;
  server?: string | null;
}

export interface EchoError extends Error {
  code: number;
  message: string;
  server: string;
}

/** npm thrift's TApplicationException, as a client rejects with it. */
export interface TApplicationException extends Error {
  type: number;
  message: string;
}

interface HeaderTransport {
  onFlush?: (buf: Buffer) => void;
  outCount: number;
  shouldWriteHeaders: boolean;
  flush(): void;
  writeHeaders(): void;
  setSeqId(seqid: number): void;
  getSeqId(): number;
  setProtocolId(id: number): void;
  getProtocolId(): number;
  getReadHeaders(): Record<string, string>;
  clearReadHeaders(): void;
  setWriteHeader(key: string, value: string): void;
}
interface Protocol {
  trans: HeaderTransport;
  readMessageBegin(): { fname: string; mtype: number; rseqid: number };
  setProtocol?(): void;
}
interface NpmThrift {
  TFramedTransport: new (buffer?: Buffer, onFlush?: (buf: Buffer) => void) => HeaderTransport;
  TBufferedTransport: new (buffer?: Buffer, onFlush?: (buf: Buffer) => void) => HeaderTransport;
  TBinaryProtocol: new (trans: HeaderTransport) => Protocol;
  TCompactProtocol: new (trans: HeaderTransport) => Protocol;
  THeaderProtocol: new (trans: HeaderTransport) => Protocol;
  createMultiplexServer(processor: { process(input: Protocol, output: Protocol): unknown }, options: object): net.Server;
  createConnection(host: string, port: number, options: object): NpmConnection;
  createClient(service: unknown, connection: NpmConnection): GeneratedClient;
  Thrift: { TApplicationException: new (type?: number, message?: string) => TApplicationException };
}
interface NpmConnection {
  connection: net.Socket;
  on(event: 'connect' | 'close', listener: () => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  once(event: 'connect' | 'close', listener: () => void): void;
  once(event: 'error', listener: (err: Error) => void): void;
  end(): void;
  destroy(): void;
}
interface GeneratedClient {
  output: HeaderTransport;
  _reqs: Record<string, (err: unknown, result?: unknown) => void>;
  seqid(): number;
  [method: string]: unknown;
}
interface EchoModule {
  Processor: new (handler: object) => { process(input: Protocol, output: Protocol): unknown };
  Client: unknown;
}
interface EchoTypes {
  Payload: new (init?: Payload) => Payload;
  EchoError: new (init?: { code?: number; message?: string; server?: string }) => EchoError;
}

export const thrift = require('thrift') as NpmThrift;
const Echo = require(path.join(THRIFT_GEN_DIR, 'Echo.js')) as EchoModule;
export const echoTypes = require(path.join(THRIFT_GEN_DIR, 'echo_types.js')) as EchoTypes;

const HEADER_PROTOCOL_ID = { binary: 0, compact: 2 } as const;

interface NpmOptions {
  transport: new (buffer?: Buffer, onFlush?: (buf: Buffer) => void) => HeaderTransport;
  protocol: new (trans: HeaderTransport) => Protocol;
}

function npmOptions({ transport, protocol }: ThriftPeerOptions): NpmOptions {
  const proto = protocol === 'binary' ? thrift.TBinaryProtocol : thrift.TCompactProtocol;
  if (transport === 'header') return { transport: thrift.TBufferedTransport, protocol: thrift.THeaderProtocol };
  return { transport: transport === 'framed' ? thrift.TFramedTransport : thrift.TBufferedTransport, protocol: proto };
}

// ---------------------------------------------------------------------------------------------
// server

export interface ThriftServerOptions extends ThriftPeerOptions {
  name: string;
  /** Default 0: a free port, reported back. */
  port?: number;
}

export interface ThriftServer {
  readonly name: string;
  readonly port: number;
  /** "127.0.0.1:port". */
  readonly address: string;
  /** Handler calls so far (oneway included). */
  readonly calls: number;
  /** Handler calls so far, by method. */
  readonly callsByMethod: ReadonlyMap<string, number>;
  /** Connections accepted so far. */
  readonly connections: number;
  /** The msg of every fire() received, in order. */
  readonly fired: readonly string[];
  /** Closes the listener and every open connection. */
  stop(): Promise<void>;
}

export async function startThriftServer(opts: ThriftServerOptions): Promise<ThriftServer> {
  const { name } = opts;
  const callsByMethod = new Map<string, number>();
  const fired: string[] = [];
  let calls = 0;
  let connections = 0;
  /** The THeader info headers of the call being dispatched (handlers run synchronously in it). */
  let callHeaders: Record<string, string> = {};

  const count = (method: string): void => {
    calls++;
    callsByMethod.set(method, (callsByMethod.get(method) ?? 0) + 1);
  };
  // Promise-style handlers: the generated processor picks that style by arity.
  const handler = {
    echo: async (msg: string) => (count('echo'), msg),
    whoami: async () => (count('whoami'), name),
    add: async (a: number, b: number) => (count('add'), (a + b) | 0),
    fire: async (msg: string) => {
      count('fire');
      fired.push(msg);
    },
    bulk: async (p: Payload) => {
      count('bulk');
      p.server = name;
      return p;
    },
    fail: async (msg: string, code: number) => {
      count('fail');
      throw new echoTypes.EchoError({ code, message: msg, server: name });
    },
    sleep: async (ms: number) => {
      count('sleep');
      await new Promise((r) => setTimeout(r, ms));
      return ms;
    },
    headers: async () => (count('headers'), callHeaders),
    ping: async () => {
      count('ping');
    },
  };
  const inner = new Echo.Processor(handler);
  const npm = npmOptions(opts);
  const header = opts.transport === 'header';
  const processor = {
    process(input: Protocol, output: Protocol): unknown {
      callHeaders = {};
      if (!header) {
        // A reply protocol of its own for this call: npm's compact protocol warns when one
        // writes the replies of several calls read from the same chunk.
        const reply = new npm.protocol(new npm.transport(undefined, output.trans.onFlush));
        return inner.process(input, reply);
      }
      // A reply transport of its own for this call, set up from the request's header.
      const replyTransport = new thrift.TBufferedTransport(undefined, input.trans.onFlush);
      const reply = new thrift.THeaderProtocol(replyTransport);
      const read = input.readMessageBegin;
      input.readMessageBegin = function readAndCopyHeader() {
        input.readMessageBegin = read;
        const begin = read.call(input);
        const t = input.trans;
        callHeaders = { ...t.getReadHeaders() };
        t.clearReadHeaders();
        replyTransport.shouldWriteHeaders = t.shouldWriteHeaders;
        replyTransport.setProtocolId(t.getProtocolId());
        replyTransport.setSeqId(t.getSeqId());
        replyTransport.setWriteHeader('server', name);
        reply.setProtocol!();
        return begin;
      };
      return inner.process(input, reply);
    },
  };
  const server = thrift.createMultiplexServer(processor, npm);
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('error', () => {}); // a peer sending garbage: the library ends that connection
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    name,
    port,
    address: `127.0.0.1:${port}`,
    get calls() {
      return calls;
    },
    callsByMethod,
    get connections() {
      return connections;
    },
    fired,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// client

export interface ThriftClientOptions extends ThriftPeerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Each call rejects after this long without a reply (default 5000 ms). */
  timeoutMs?: number;
}

export interface ThriftClient {
  echo(msg: string): Promise<string>;
  whoami(): Promise<string>;
  add(a: number, b: number): Promise<number>;
  /** Resolves once written (oneway). */
  fire(msg: string): Promise<void>;
  bulk(p: Payload): Promise<Payload>;
  /** Rejects with an EchoError (or a TApplicationException from a proxy). */
  fail(msg: string, code: number): Promise<string>;
  sleep(ms: number): Promise<number>;
  headers(): Promise<Record<string, string>>;
  ping(): Promise<void>;
  /** THeader only: an info header sent with every later call. */
  setHeader(key: string, value: string): void;
  /** The seqid of the last call sent. */
  lastSeqid(): number;
  /** The client's socket (its localPort, say). */
  readonly socket: net.Socket;
  /** Ends the connection; pending calls reject. */
  close(): void;
}

/** A generated Payload from a plain object, children included (the generated writer needs instances). */
export function toPayload(p: Payload): Payload {
  return new echoTypes.Payload({ ...p, children: p.children?.map(toPayload) ?? p.children });
}

const METHODS = ['echo', 'whoami', 'add', 'fire', 'bulk', 'fail', 'sleep', 'headers', 'ping'] as const;

export async function createThriftClient(port: number, opts: ThriftClientOptions): Promise<ThriftClient> {
  const connection = thrift.createConnection(opts.host ?? '127.0.0.1', port, npmOptions(opts));
  let closed = false;
  await new Promise<void>((resolve, reject) => {
    connection.once('connect', resolve);
    connection.once('error', reject);
  });
  const generated = thrift.createClient(Echo, connection);
  const failPending = (err: Error): void => {
    for (const [seqid, callback] of Object.entries(generated._reqs)) {
      delete generated._reqs[seqid];
      callback(err);
    }
  };
  connection.on('error', (err) => failPending(err));
  connection.on('close', () => {
    closed = true;
    failPending(new Error('thrift client: connection closed'));
  });

  if (opts.transport === 'header') {
    const transport = generated.output;
    transport.setProtocolId(HEADER_PROTOCOL_ID[opts.protocol]);
    const flush = transport.flush;
    transport.flush = function flushWithHeader() {
      if (transport.outCount > 0) {
        transport.setSeqId(generated.seqid());
        transport.writeHeaders();
      }
      return flush.call(transport);
    };
  }

  const timeoutMs = opts.timeoutMs ?? 5000;
  const call = (method: string, args: unknown[]): Promise<unknown> => {
    if (closed) return Promise.reject(new Error('thrift client: connection closed'));
    const pending = (generated[method] as (...a: unknown[]) => Promise<unknown>).apply(generated, args);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`thrift client: ${method} timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
  };
  const client = {
    setHeader(key: string, value: string) {
      if (opts.transport !== 'header') throw new Error('thrift client: headers need the header transport');
      generated.output.setWriteHeader(key, value);
    },
    lastSeqid: () => generated.seqid(),
    socket: connection.connection,
    close() {
      connection.end();
    },
  } as Record<string, unknown>;
  for (const method of METHODS) client[method] = (...args: unknown[]) => call(method, args);
  client['bulk'] = (p: Payload) => call('bulk', [toPayload(p)]);
  return client as unknown as ThriftClient;
}
