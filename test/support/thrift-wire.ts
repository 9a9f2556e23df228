/**
 * Thrift messages as npm `thrift` itself writes and reads them, for codec tests: npmWrite gives
 * the exact bytes a real client would send for one message on a (transport, protocol) pair,
 * npmRead reads bytes back the way npm thrift's receivers do.
 */
import assert from 'node:assert/strict';

import { thrift } from './thrift-peers.js';


export type Transport = 'framed' | 'unframed' | 'header';
export type Protocol = 'binary' | 'compact';
export const COMBOS: readonly [Transport, Protocol][] = [
  ['framed', 'binary'],
  ['unframed', 'binary'],
  ['framed', 'compact'],
  ['unframed', 'compact'],
  ['header', 'binary'],
  ['header', 'compact'],
];

export interface NpmProtocol {
  writeMessageBegin(name: string, type: number, seqid: number): void;
  writeMessageEnd(): void;
  writeStructBegin(name: string): void;
  writeStructEnd(): void;
  writeFieldBegin(name: string, type: number, id: number): void;
  writeFieldEnd(): void;
  writeFieldStop(): void;
  writeListBegin(type: number, size: number): void;
  writeListEnd(): void;
  writeString(s: string): void;
  writeI32(n: number): void;
  writeUuid(u: string): void;
  readMessageBegin(): { fname: string; mtype: number; rseqid: number };
  readStructBegin(): unknown;
  readFieldBegin(): { fname: string; ftype: number; fid: number };
  readFieldEnd(): void;
  readStructEnd(): void;
  readString(): string;
  readI32(): number;
  skip(type: number): void;
  flush(): void;
  trans: NpmTransport;
}
interface NpmTransport {
  flush(): void;
  setProtocolId(id: number): void;
  setSeqId(id: number): void;
  setWriteHeader(k: string, v: string): void;
  getReadHeaders(): Record<string, string>;
}
interface NpmLib {
  TFramedTransport: NpmTransportClass;
  TBufferedTransport: NpmTransportClass;
  TBinaryProtocol: new (t: NpmTransport, strictRead?: boolean, strictWrite?: boolean) => NpmProtocol;
  TCompactProtocol: new (t: NpmTransport) => NpmProtocol;
  THeaderProtocol: new (t: NpmTransport) => NpmProtocol;
  Thrift: {
    Type: Record<string, number>;
    MessageType: Record<string, number>;
    TApplicationException: new () => { type: number; message: string; read(p: NpmProtocol): void };
  };
}
interface NpmTransportClass {
  new (buf?: Buffer, onFlush?: (b: Buffer) => void): NpmTransport;
  receiver(cb: (t: NpmTransport) => void): (data: Buffer) => void;
}
export const npm = thrift as unknown as NpmLib;
export const T = npm.Thrift.Type;
export const M = npm.Thrift.MessageType;

export interface WriteOptions {
  headers?: Record<string, string>;
  /** Binary: write old-style (non-strict) message headers. */
  oldStyle?: boolean;
  /** THeader: the header's own seqid (default: the message's, as real clients do). */
  headerSeqid?: number;
}

/** The bytes npm thrift writes for one message on (transport, protocol). */
export function npmWrite(transport: Transport, protocol: Protocol, body: (p: NpmProtocol) => void, opts: WriteOptions = {}): Buffer {
  const chunks: Buffer[] = [];
  const onFlush = (b: Buffer): void => void chunks.push(Buffer.from(b));
  if (transport === 'header') {
    const trans = new npm.TBufferedTransport(undefined, onFlush);
    trans.setProtocolId(protocol === 'binary' ? 0 : 2);
    for (const [k, v] of Object.entries(opts.headers ?? {})) trans.setWriteHeader(k, v);
    const p = new npm.THeaderProtocol(trans);
    const begin = p.writeMessageBegin.bind(p);
    p.writeMessageBegin = (name, type, seqid) => {
      trans.setSeqId(seqid);
      begin(name, type, seqid);
    };
    body(p);
    if (opts.headerSeqid !== undefined) trans.setSeqId(opts.headerSeqid);
    p.flush();
  } else {
    const trans = new (transport === 'framed' ? npm.TFramedTransport : npm.TBufferedTransport)(undefined, onFlush);
    const p = protocol === 'binary' ? new npm.TBinaryProtocol(trans, false, !opts.oldStyle) : new npm.TCompactProtocol(trans);
    body(p);
    trans.flush();
  }
  return Buffer.concat(chunks);
}

/** A protocol reading `bytes` as npm thrift's receivers deliver them. */
export function npmRead(transport: Transport, protocol: Protocol, bytes: Buffer): NpmProtocol {
  let got: NpmTransport | undefined;
  const Trans = transport === 'framed' ? npm.TFramedTransport : npm.TBufferedTransport;
  Trans.receiver((t) => (got = t))(bytes);
  assert.ok(got, 'npm receiver delivered no message');
  if (transport === 'header') return new npm.THeaderProtocol(got);
  return protocol === 'binary' ? new npm.TBinaryProtocol(got) : new npm.TCompactProtocol(got);
}