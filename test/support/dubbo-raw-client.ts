/**
 * A raw Dubbo (hessian2) client for tests: encodes request frames with hessian.js, writes them on
 * a net.Socket and decodes whatever comes back. Unlike apache-dubbo-consumer it lets a test
 * choose everything: request ids (64-bit), flags (two-way, one-way, event), the attachments map,
 * the parameter descriptor, pipelining many requests in one write, heartbeats, and malformed bytes.
 *
 * Frame layout (16-byte header, then the body):
 *   0-1 magic 0xdabb | 2 flags: 0x80 request, 0x40 two-way, 0x20 event, low 5 bits serialization (2 = hessian2)
 *   3 status (responses; 20 = OK) | 4-11 request id (int64 BE) | 12-15 body length (uint32 BE)
 * Request body (hessian2 values in a row): dubbo version "2.0.2", path, service version, method,
 *   parameter descriptor ("Ljava/lang/String;J"), each argument, attachments map.
 * Response body (status 20): body flag int (0 exception, 1 value, 2 null, 3/4/5 = same + attachments),
 *   then the value or exception, then the attachments map when the flag is 3, 4 or 5.
 *   Any other status: one hessian string (the error message).
 */
import net from 'node:net';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------------------------
// hessian.js and js-to-java, typed as far as these tests use them

/** A value tagged with its Java class, as js-to-java builds it: {$class: 'long', $: 42}. */
export interface JavaValue {
  $class: string;
  $: unknown;
}

interface HessianEncoder {
  write(value: unknown): HessianEncoder;
  get(): Buffer;
}
interface HessianDecoder {
  read(withType?: boolean): unknown;
  byteBuffer: { position(): number };
}
interface HessianModule {
  EncoderV2: new () => HessianEncoder;
  DecoderV2: new (buf: Buffer) => HessianDecoder;
}
export const hessian = require('hessian.js') as HessianModule;

/** js-to-java helpers (the subset the Dubbo tests use). */
export interface JavaHelpers {
  String(v: string | null): JavaValue;
  long(v: number | string): JavaValue;
  Long(v: number | string | null): JavaValue;
  int(v: number): JavaValue;
  Integer(v: number | null): JavaValue;
  double(v: number): JavaValue;
  Double(v: number | null): JavaValue;
  boolean(v: boolean): JavaValue;
  Boolean(v: boolean | null): JavaValue;
  Map(v: Record<string, unknown>): JavaValue;
  HashMap(v: Record<string, unknown>): JavaValue;
  List(v: unknown[]): JavaValue;
  array(className: string, v: unknown[]): JavaValue;
  combine(className: string, v: unknown): JavaValue;
}
export const java = require('js-to-java') as JavaHelpers;

/** Encodes one value as hessian2 bytes. */
export function hessianEncode(value: unknown): Buffer {
  return new hessian.EncoderV2().write(value).get();
}

/** Decodes hessian2 values from bytes (as many as asked, in order). */
export function hessianDecodeAll(bytes: Buffer, count: number): unknown[] {
  const d = new hessian.DecoderV2(bytes);
  const out: unknown[] = [];
  for (let i = 0; i < count; i++) out.push(d.read());
  return out;
}

// ---------------------------------------------------------------------------------------------
// constants

export const DUBBO_MAGIC = 0xdabb;
export const HEADER_LENGTH = 16;
export const FLAG_REQUEST = 0x80;
export const FLAG_TWOWAY = 0x40;
export const FLAG_EVENT = 0x20;
export const SERIALIZATION_HESSIAN2 = 2;
/** Flags of a normal two-way hessian2 request (0xc2). */
export const FLAGS_TWOWAY_REQUEST = FLAG_REQUEST | FLAG_TWOWAY | SERIALIZATION_HESSIAN2;
/** Flags of a one-way hessian2 request (0x82). */
export const FLAGS_ONEWAY_REQUEST = FLAG_REQUEST | SERIALIZATION_HESSIAN2;
/** Flags of a heartbeat request (0xe2). */
export const FLAGS_HEARTBEAT_REQUEST = FLAG_REQUEST | FLAG_TWOWAY | FLAG_EVENT | SERIALIZATION_HESSIAN2;
/** Flags of a heartbeat response as Java Dubbo writes it (0x22). */
export const FLAGS_HEARTBEAT_RESPONSE = FLAG_EVENT | SERIALIZATION_HESSIAN2;
export const DEFAULT_DUBBO_VERSION = '2.0.2';
/** The service version the test provider registers by default, and the clients send by default. */
export const DEFAULT_SERVICE_VERSION = '1.0.0';
export const MAX_PAYLOAD = 8 * 1024 * 1024;

export const ResponseStatus = {
  OK: 20,
  CLIENT_TIMEOUT: 30,
  SERVER_TIMEOUT: 31,
  BAD_REQUEST: 40,
  BAD_RESPONSE: 50,
  SERVICE_NOT_FOUND: 60,
  SERVICE_ERROR: 70,
  SERVER_ERROR: 80,
  CLIENT_ERROR: 90,
} as const;

export const BodyFlag = {
  RESPONSE_WITH_EXCEPTION: 0,
  RESPONSE_VALUE: 1,
  RESPONSE_NULL_VALUE: 2,
  RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS: 3,
  RESPONSE_VALUE_WITH_ATTACHMENTS: 4,
  RESPONSE_NULL_VALUE_WITH_ATTACHMENTS: 5,
} as const;

// ---------------------------------------------------------------------------------------------
// encoding

export interface FrameHeader {
  flags: number;
  /** Response status; 0 in requests. */
  status?: number;
  id: bigint | number;
  /** Override the length field (to forge a lying header); default body.length. */
  bodyLength?: number;
}

/** A whole frame: header + body. */
export function encodeFrame(h: FrameHeader, body: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt16BE(DUBBO_MAGIC, 0);
  header[2] = h.flags & 0xff;
  header[3] = (h.status ?? 0) & 0xff;
  header.writeBigUInt64BE(BigInt.asUintN(64, BigInt(h.id)), 4);
  header.writeUInt32BE(h.bodyLength ?? body.length, 12);
  return Buffer.concat([header, body]);
}

const PRIMITIVE_DESCRIPTORS: Record<string, string> = {
  void: 'V',
  boolean: 'Z',
  byte: 'B',
  char: 'C',
  double: 'D',
  float: 'F',
  int: 'I',
  long: 'J',
  short: 'S',
};

function isJavaValue(v: unknown): v is JavaValue {
  return typeof v === 'object' && v !== null && typeof (v as JavaValue).$class === 'string' && '$' in v;
}

/** JVM descriptor of one argument, from its $class (untagged JS values get a best guess). */
export function descriptorOf(arg: unknown): string {
  if (isJavaValue(arg)) {
    let cls = arg.$class;
    let dims = '';
    while (cls.startsWith('[')) {
      dims += '[';
      cls = cls.slice(1);
    }
    if (cls.endsWith('[]')) {
      // js-to-java's 'char[]'
      dims += '[';
      cls = cls.slice(0, -2);
    }
    return dims + (PRIMITIVE_DESCRIPTORS[cls] ?? `L${cls.replace(/\./g, '/')};`);
  }
  if (typeof arg === 'string') return 'Ljava/lang/String;';
  if (typeof arg === 'boolean') return 'Z';
  if (typeof arg === 'number') return Number.isInteger(arg) ? (arg >= -0x80000000 && arg <= 0x7fffffff ? 'I' : 'J') : 'D';
  return 'Ljava/lang/Object;';
}

export interface RequestSpec {
  service: string;
  method: string;
  /** Service version in the body and the `version` attachment; default DEFAULT_SERVICE_VERSION. */
  version?: string;
  /** Sent as the `group` attachment when set. */
  group?: string;
  args?: unknown[];
  /** Parameter descriptor; default computed from args. */
  parameterTypes?: string;
  /** Extra attachments (merged over path/interface/version/group). */
  attachments?: Record<string, unknown>;
  /** Replace the attachments map entirely (null writes a hessian null). */
  rawAttachments?: Record<string, unknown> | null;
  /** Dubbo protocol version, first body field; default "2.0.2". */
  dubboVersion?: string;
}

export function encodeRequestBody(spec: RequestSpec): Buffer {
  const version = spec.version ?? DEFAULT_SERVICE_VERSION;
  const args = spec.args ?? [];
  const enc = new hessian.EncoderV2();
  enc.write(spec.dubboVersion ?? DEFAULT_DUBBO_VERSION);
  enc.write(spec.service);
  enc.write(version);
  enc.write(spec.method);
  enc.write(spec.parameterTypes ?? args.map(descriptorOf).join(''));
  for (const a of args) enc.write(a);
  if (spec.rawAttachments !== undefined) {
    enc.write(spec.rawAttachments === null ? null : { $class: 'java.util.HashMap', $: spec.rawAttachments });
  } else {
    const map: Record<string, unknown> = { path: spec.service, interface: spec.service, version };
    if (spec.group) map.group = spec.group;
    Object.assign(map, spec.attachments ?? {});
    enc.write({ $class: 'java.util.HashMap', $: map });
  }
  return enc.get();
}

export interface EncodeOptions {
  /** Default true; false clears the two-way flag (one-way call: no response). */
  twoWay?: boolean;
  /** Override the flags byte entirely. */
  flags?: number;
}

export function encodeRequest(id: bigint | number, spec: RequestSpec, opts: EncodeOptions = {}): Buffer {
  const flags = opts.flags ?? (opts.twoWay === false ? FLAGS_ONEWAY_REQUEST : FLAGS_TWOWAY_REQUEST);
  return encodeFrame({ flags, id }, encodeRequestBody(spec));
}

/** Heartbeat request (flags 0xe2, body hessian null 'N'). */
export function encodeHeartbeat(id: bigint | number): Buffer {
  return encodeFrame({ flags: FLAGS_HEARTBEAT_REQUEST, id }, Buffer.from([0x4e]));
}

/** Heartbeat response as Java Dubbo writes it (flags 0x22, status 20, same id, body 'N'). */
export function encodeHeartbeatResponse(id: bigint | number): Buffer {
  return encodeFrame({ flags: FLAGS_HEARTBEAT_RESPONSE, status: ResponseStatus.OK, id }, Buffer.from([0x4e]));
}

/** A response frame, for tests that play the provider. */
export function encodeResponse(
  id: bigint | number,
  result: { value?: unknown; exception?: unknown; attachments?: Record<string, unknown> | null; status?: number; errorMessage?: string },
): Buffer {
  const status = result.status ?? ResponseStatus.OK;
  const enc = new hessian.EncoderV2();
  if (status !== ResponseStatus.OK) {
    enc.write(result.errorMessage ?? 'error');
  } else {
    const withAtt = result.attachments !== null;
    if (result.exception !== undefined) {
      enc.write(withAtt ? BodyFlag.RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS : BodyFlag.RESPONSE_WITH_EXCEPTION);
      enc.write(result.exception);
    } else if (result.value === undefined || result.value === null) {
      enc.write(withAtt ? BodyFlag.RESPONSE_NULL_VALUE_WITH_ATTACHMENTS : BodyFlag.RESPONSE_NULL_VALUE);
    } else {
      enc.write(withAtt ? BodyFlag.RESPONSE_VALUE_WITH_ATTACHMENTS : BodyFlag.RESPONSE_VALUE);
      enc.write(result.value);
    }
    if (withAtt) enc.write({ dubbo: DEFAULT_DUBBO_VERSION, ...(result.attachments ?? {}) });
  }
  return encodeFrame({ flags: SERIALIZATION_HESSIAN2, status, id }, enc.get());
}

// ---------------------------------------------------------------------------------------------
// decoding

export interface DubboFrame {
  flags: number;
  status: number;
  id: bigint;
  body: Buffer;
  /** The whole frame, header included. */
  raw: Buffer;
  isRequest: boolean;
  isTwoWay: boolean;
  isEvent: boolean;
  serializationId: number;
}

export function parseHeader(raw: Buffer): DubboFrame {
  const flags = raw[2] ?? 0;
  return {
    flags,
    status: raw[3] ?? 0,
    id: raw.readBigUInt64BE(4),
    body: raw.subarray(HEADER_LENGTH),
    raw,
    isRequest: (flags & FLAG_REQUEST) !== 0,
    isTwoWay: (flags & FLAG_TWOWAY) !== 0,
    isEvent: (flags & FLAG_EVENT) !== 0,
    serializationId: flags & 0x1f,
  };
}

/** Splits a byte stream into frames. Throws on bad magic or a body over maxPayload. */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly maxPayload = MAX_PAYLOAD) {}

  push(chunk: Buffer): DubboFrame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: DubboFrame[] = [];
    while (this.buf.length >= HEADER_LENGTH) {
      if (this.buf.readUInt16BE(0) !== DUBBO_MAGIC) {
        throw new Error(`bad magic 0x${this.buf.subarray(0, 2).toString('hex')}`);
      }
      const len = this.buf.readUInt32BE(12);
      if (len > this.maxPayload) throw new Error(`body length ${len} over ${this.maxPayload}`);
      if (this.buf.length < HEADER_LENGTH + len) break;
      out.push(parseHeader(Buffer.from(this.buf.subarray(0, HEADER_LENGTH + len))));
      this.buf = this.buf.subarray(HEADER_LENGTH + len);
    }
    return out;
  }

  get buffered(): number {
    return this.buf.length;
  }
}

export interface DecodedResponse {
  frame: DubboFrame;
  id: bigint;
  status: number;
  /** Event frame (heartbeat reply). */
  heartbeat: boolean;
  /** Body flag (0-5) when status is OK and not an event. */
  bodyFlag?: number;
  /** The result value (null for a null value). */
  value?: unknown;
  /** The business exception as hessian.js decodes it (an Error for *Exception classes). */
  exception?: unknown;
  /** Response attachments (flags 3, 4, 5). */
  attachments?: Record<string, unknown>;
  /** Message of a non-OK status. */
  errorMessage?: string;
}

export function decodeResponse(frame: DubboFrame): DecodedResponse {
  const out: DecodedResponse = { frame, id: frame.id, status: frame.status, heartbeat: frame.isEvent };
  if (frame.body.length === 0) return out;
  const d = new hessian.DecoderV2(frame.body);
  if (frame.isEvent) {
    out.value = d.read();
    return out;
  }
  if (frame.status !== ResponseStatus.OK) {
    out.errorMessage = String(d.read());
    return out;
  }
  const flag = Number(d.read());
  out.bodyFlag = flag;
  switch (flag) {
    case BodyFlag.RESPONSE_VALUE:
      out.value = d.read();
      break;
    case BodyFlag.RESPONSE_NULL_VALUE:
      out.value = null;
      break;
    case BodyFlag.RESPONSE_WITH_EXCEPTION:
      out.exception = d.read();
      break;
    case BodyFlag.RESPONSE_VALUE_WITH_ATTACHMENTS:
      out.value = d.read();
      out.attachments = d.read() as Record<string, unknown>;
      break;
    case BodyFlag.RESPONSE_NULL_VALUE_WITH_ATTACHMENTS:
      out.value = null;
      out.attachments = d.read() as Record<string, unknown>;
      break;
    case BodyFlag.RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS:
      out.exception = d.read();
      out.attachments = d.read() as Record<string, unknown>;
      break;
    default:
      throw new Error(`unknown response body flag ${flag}`);
  }
  return out;
}

export interface DecodedRequest {
  frame: DubboFrame;
  dubboVersion: string;
  path: string;
  version: string;
  method: string;
  parameterTypes: string;
  args: unknown[];
  attachments: Record<string, unknown>;
}

function countParameters(desc: string): number {
  let n = 0;
  for (let i = 0; i < desc.length; ) {
    while (desc[i] === '[') i++;
    if (desc[i] === 'L') {
      const end = desc.indexOf(';', i);
      if (end < 0) throw new Error(`bad descriptor ${desc}`);
      i = end + 1;
    } else {
      i++;
    }
    n++;
  }
  return n;
}

/** Decodes a request frame (for tests that play the provider). Heartbeats give method ''. */
export function decodeRequest(frame: DubboFrame): DecodedRequest {
  const out: DecodedRequest = { frame, dubboVersion: '', path: '', version: '', method: '', parameterTypes: '', args: [], attachments: {} };
  if (frame.isEvent) return out;
  const d = new hessian.DecoderV2(frame.body);
  out.dubboVersion = String(d.read());
  out.path = String(d.read());
  out.version = String(d.read());
  out.method = String(d.read());
  out.parameterTypes = String(d.read());
  const n = countParameters(out.parameterTypes);
  for (let i = 0; i < n; i++) out.args.push(d.read());
  if (d.byteBuffer.position() < frame.body.length) {
    const att = d.read();
    if (att && typeof att === 'object') out.attachments = att as Record<string, unknown>;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// client

interface Pending {
  resolve(r: DecodedResponse): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export interface RawClientOptions {
  host?: string;
  /** Default per-request timeout. */
  timeoutMs?: number;
  /** Answer heartbeat requests from the peer (default true). */
  answerHeartbeats?: boolean;
}

export class DubboRawClient {
  /** Every frame received, in order (responses, heartbeats, unsolicited frames). */
  readonly frames: DubboFrame[] = [];
  /** Set when the peer sent bytes that are not Dubbo frames. */
  protocolError: Error | undefined;
  private readonly parser = new FrameParser();
  private readonly pending = new Map<bigint, Pending>();
  private readonly waiters = new Set<{ pred: (f: DubboFrame) => boolean; resolve(f: DubboFrame): void }>();
  private idSeq = 0n;
  private readonly closedPromise: Promise<void>;
  private readonly timeoutMs: number;
  private readonly answerHeartbeats: boolean;

  private constructor(
    readonly socket: net.Socket,
    opts: RawClientOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.answerHeartbeats = opts.answerHeartbeats ?? true;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new Error('connection closed'));
        }
        this.pending.clear();
        resolve();
      }),
    );
  }

  static connect(port: number, opts: RawClientOptions = {}): Promise<DubboRawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: opts.host ?? '127.0.0.1' });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new DubboRawClient(socket, opts));
      });
    });
  }

  private onData(chunk: Buffer): void {
    let frames: DubboFrame[];
    try {
      frames = this.parser.push(chunk);
    } catch (e) {
      this.protocolError = e as Error;
      this.socket.destroy();
      return;
    }
    for (const f of frames) {
      this.frames.push(f);
      if (f.isRequest) {
        if (f.isEvent && f.isTwoWay && this.answerHeartbeats) this.socket.write(encodeHeartbeatResponse(f.id));
      } else {
        const p = this.pending.get(f.id);
        if (p) {
          this.pending.delete(f.id);
          clearTimeout(p.timer);
          try {
            p.resolve(decodeResponse(f));
          } catch (e) {
            p.reject(e as Error);
          }
        }
      }
      for (const w of this.waiters) {
        if (w.pred(f)) {
          this.waiters.delete(w);
          w.resolve(f);
        }
      }
    }
  }

  /** Next request id (1, 2, 3 ...). */
  nextId(): bigint {
    return ++this.idSeq;
  }

  /** Raw bytes, for malformed frames. */
  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Expect a response with this id (after writing its request yourself). */
  expect(id: bigint, timeoutMs = this.timeoutMs): Promise<DecodedResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no response to request ${id} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  /** Two-way call; the response is matched by id. */
  request(spec: RequestSpec, opts: { id?: bigint; timeoutMs?: number } = {}): Promise<DecodedResponse> {
    const id = opts.id ?? this.nextId();
    const response = this.expect(id, opts.timeoutMs);
    this.socket.write(encodeRequest(id, spec));
    return response;
  }

  /** Many two-way calls written in ONE socket write (pipelined); responses matched by id, returned in request order. */
  pipeline(specs: RequestSpec[], opts: { timeoutMs?: number } = {}): Promise<DecodedResponse[]> {
    const ids = specs.map(() => this.nextId());
    const responses = ids.map((id) => this.expect(id, opts.timeoutMs));
    this.socket.write(Buffer.concat(specs.map((s, i) => encodeRequest(ids[i]!, s))));
    return Promise.all(responses);
  }

  /** One-way call (flags 0x82): nothing comes back. Returns the id used. */
  oneway(spec: RequestSpec, opts: { id?: bigint } = {}): bigint {
    const id = opts.id ?? this.nextId();
    this.socket.write(encodeRequest(id, spec, { twoWay: false }));
    return id;
  }

  /** Heartbeat request; resolves with the peer's heartbeat response (same id). */
  heartbeat(opts: { id?: bigint; timeoutMs?: number } = {}): Promise<DecodedResponse> {
    const id = opts.id ?? this.nextId();
    const response = this.expect(id, opts.timeoutMs);
    this.socket.write(encodeHeartbeat(id));
    return response;
  }

  /** The first frame (already received or future) matching pred. */
  waitForFrame(pred: (f: DubboFrame) => boolean, timeoutMs = this.timeoutMs): Promise<DubboFrame> {
    const seen = this.frames.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (f: DubboFrame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`no matching frame in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  /** Resolves when the connection is closed (by either side). */
  closed(): Promise<void> {
    return this.closedPromise;
  }

  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closedPromise;
  }
}
