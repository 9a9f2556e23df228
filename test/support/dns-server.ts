/**
 * A tiny authoritative DNS responder on UDP loopback, for tests of DNS clusters. Node ships
 * a DNS client (c-ares) but no DNS server, and tests must not depend on the machine's
 * resolver, so this stand-in answers A and AAAA questions (RFC 1035 wire format) from a
 * table the test changes at run time, with the TTLs the test chooses. It can also fail on
 * purpose: answer SERVFAIL, or not answer at all (the client times out).
 */
import dgram from 'node:dgram';
import net from 'node:net';

export interface DnsRecords {
  a?: string[];
  aaaa?: string[];
  /** TTL of every record of the name (seconds). Default 30. */
  ttl?: number;
}

export type DnsFailure = 'none' | 'servfail' | 'drop';

export interface DnsTestServer {
  readonly port: number;
  /** Sets (replaces) the records of `name` (case-insensitive, no trailing dot). */
  set(name: string, records: DnsRecords): void;
  /** Makes every answer fail from now on ('none' answers again). */
  fail(mode: DnsFailure): void;
  /** Questions received so far, as "name TYPE". */
  readonly questions: string[];
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;

export async function startDnsServer(): Promise<DnsTestServer> {
  const socket = dgram.createSocket('udp4');
  const table = new Map<string, DnsRecords>();
  const questions: string[] = [];
  let failure: DnsFailure = 'none';
  socket.on('message', (query, peer) => {
    const parsed = parseQuestion(query);
    if (!parsed) return;
    questions.push(`${parsed.name} ${parsed.type === TYPE_A ? 'A' : parsed.type === TYPE_AAAA ? 'AAAA' : parsed.type}`);
    if (failure === 'drop') return;
    const records = table.get(parsed.name.toLowerCase());
    const rcode = failure === 'servfail' ? 2 : records ? 0 : 3; // SERVFAIL, NOERROR, NXDOMAIN
    const addresses = failure === 'none' && records ? (parsed.type === TYPE_A ? records.a : parsed.type === TYPE_AAAA ? records.aaaa : undefined) ?? [] : [];
    socket.send(answer(query, parsed.questionEnd, rcode, parsed.type, addresses, records?.ttl ?? 30), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return {
    port: socket.address().port,
    questions,
    set: (name, records) => void table.set(name.toLowerCase(), records),
    fail: (mode) => void (failure = mode),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** The first question: name, type and the offset just past it. */
function parseQuestion(msg: Buffer): { name: string; type: number; questionEnd: number } | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  while (at < msg.length) {
    const len = msg[at]!;
    if (len === 0) break;
    labels.push(msg.toString('latin1', at + 1, at + 1 + len));
    at += 1 + len;
  }
  if (at + 5 > msg.length) return undefined;
  return { name: labels.join('.'), type: msg.readUInt16BE(at + 1), questionEnd: at + 5 };
}

/** The query's header and question, turned into a response with one record per address. */
function answer(query: Buffer, questionEnd: number, rcode: number, type: number, addresses: string[], ttl: number): Buffer {
  const header = Buffer.from(query.subarray(0, 12));
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | rcode, 2); // QR, AA, RD copied
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  header.writeUInt16BE(0, 8);
  header.writeUInt16BE(0, 10);
  const records = addresses.map((address) => {
    const rdata = type === TYPE_A ? Buffer.from(address.split('.').map(Number)) : ipv6Bytes(address);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(type, 2);
    rr.writeUInt16BE(1, 4); // class IN
    rr.writeUInt32BE(ttl, 6);
    rr.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([rr, rdata]);
  });
  return Buffer.concat([header, query.subarray(12, questionEnd), ...records]);
}

function ipv6Bytes(address: string): Buffer {
  if (!net.isIPv6(address)) throw new Error(`not an IPv6 address: ${address}`);
  const [head = '', tail = ''] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
