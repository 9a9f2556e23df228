/**
 * Who sent a request, and the headers that carry it, as Envoy's HCM works them out before
 * routing (ConnectionManagerUtility::mutateRequestHeaders): x-forwarded-for, x-forwarded-proto,
 * the internal/external decision, x-envoy-internal, x-envoy-external-address, and the removal
 * of the x-envoy-* request headers an external client must not steer the proxy with.
 *
 * - use_remote_address true (an edge proxy): the connection's peer is the client, or, with
 *   xff_num_trusted_hops N > 0, the address N-1 entries from the right of the incoming XFF
 *   (the peer and the N-1 proxies before it are trusted). The peer's address is appended to
 *   XFF ("," without a space, as Envoy) unless skip_xff_append; a loopback peer is written as
 *   this host's address (Envoy's local_info address: the first non-loopback IPv4 interface).
 *   x-forwarded-proto is overwritten with this connection's scheme unless trusted hops are
 *   configured and the request has one.
 * - use_remote_address false (the default: a proxy behind a trusted one): XFF is left as it is;
 *   the client is the address N entries from its right (N = xff_num_trusted_hops), if that
 *   parses as an IP; x-forwarded-proto is set only when absent.
 *
 * A request is internal when XFF had a single address to decide on (use_remote_address: no
 * XFF arrived; otherwise: XFF is one address) and that address is internal
 * (internal_address_config). Internal requests get `x-envoy-internal: true`; external ones lose
 * the x-envoy-* fields in EXTERNAL_STRIPPED and the route table's internal_only_headers, and
 * edge requests (external with use_remote_address) also EDGE_STRIPPED, and are given
 * x-envoy-external-address. A client-sent x-envoy-internal is always removed first.
 *
 * Config is plain data (main → workers); ForwardedHeaders is built once per worker per HCM.
 * Worker-side, synchronous.
 */
import net from 'node:net';
import os from 'node:os';
import type { HeaderList } from './header-list.js';
import { InternalAddressMatcher, unmapIpv4, type InternalAddressConfigData } from './internal-address.js';

export interface ForwardingConfig {
  /** use_remote_address (Envoy's default false). */
  readonly useRemoteAddress: boolean;
  /** xff_num_trusted_hops (default 0). */
  readonly xffNumTrustedHops: number;
  /** skip_xff_append (default false). */
  readonly skipXffAppend: boolean;
  readonly internalAddress: InternalAddressConfigData;
}

/** What the request turned out to be. */
export interface ForwardingResult {
  /** The client's IP: the peer, or the one taken from XFF (for %DOWNSTREAM_REMOTE_ADDRESS%). */
  readonly remoteIp: string;
  /** remoteIp came from XFF rather than the connection. */
  readonly fromXff: boolean;
  readonly internal: boolean;
  /** External and use_remote_address: this proxy is the first trusted hop. */
  readonly edge: boolean;
}

/** Removed from every external request (Envoy's cleanInternalHeaders); those Courier reads are marked. */
const EXTERNAL_STRIPPED: ReadonlySet<string> = new Set([
  'x-envoy-retriable-status-codes',
  'x-envoy-retriable-header-names',
  'x-envoy-retry-on', // read by the router
  'x-envoy-retry-grpc-on',
  'x-envoy-max-retries', // read by the router
  'x-envoy-upstream-alt-stat-name',
  'x-envoy-upstream-rq-timeout-ms', // read by the router
  'x-envoy-upstream-rq-per-try-timeout-ms', // read by the router
  'x-envoy-upstream-rq-timeout-alt-response',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-force-trace', // read for always_set_request_id_in_response
  'x-envoy-ip-tags',
  'x-envoy-original-url',
  'x-envoy-hedge-on-per-try-timeout',
]);
/** Removed from edge requests only. */
const EDGE_STRIPPED: ReadonlySet<string> = new Set(['x-envoy-decorator-operation', 'x-envoy-downstream-service-cluster', 'x-envoy-downstream-service-node']);

/**
 * The address Envoy writes into XFF for a loopback peer (its local_info address): the first
 * non-internal IPv4 interface address, else 127.0.0.1. Read once per process.
 */
let localAddressCache: string | undefined;
export function localNodeAddress(): string {
  if (localAddressCache !== undefined) return localAddressCache;
  let found = '127.0.0.1';
  outer: for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4' && !a.internal) {
        found = a.address;
        break outer;
      }
    }
  }
  return (localAddressCache = found);
}

/** Envoy's isLoopbackAddress: 127.0.0.0/8 and ::1. */
function isLoopback(ip: string): boolean {
  return ip === '::1' || (ip.startsWith('127.') && net.isIPv4(ip));
}

/**
 * Envoy's getLastAddressFromXFF: the address `skip` entries from the right of XFF (trimmed),
 * if it parses as an IP, and whether XFF holds only that one address.
 */
export function lastAddressFromXff(xff: string | undefined, skip: number): { ip: string | undefined; single: boolean } {
  if (xff === undefined) return { ip: undefined, single: false };
  let s = xff;
  for (let i = 0; i < skip; i++) {
    const comma = s.lastIndexOf(',');
    if (comma < 0) return { ip: undefined, single: false };
    s = s.slice(0, comma);
  }
  const comma = s.lastIndexOf(',');
  // A trailing comma leaves the whole string, which then does not parse: as in Envoy.
  if (comma >= 0 && comma + 1 < s.length) s = s.slice(comma + 1);
  s = s.trim();
  return net.isIP(s) === 0 ? { ip: undefined, single: false } : { ip: s, single: comma < 0 };
}

export class ForwardedHeaders {
  readonly #config: ForwardingConfig;
  readonly #internal: InternalAddressMatcher;
  readonly #localAddress: string;

  constructor(config: ForwardingConfig, localAddress = localNodeAddress()) {
    this.#config = config;
    this.#internal = new InternalAddressMatcher(config.internalAddress);
    this.#localAddress = localAddress;
  }

  /**
   * Rewrites `headers` for a request from `peerIp` (the connection's remote IP) on a
   * connection with `scheme`; `internalOnly` is the route table's internal_only_headers.
   */
  apply(headers: HeaderList, peerIp: string, scheme: 'http' | 'https', internalOnly: readonly string[]): ForwardingResult {
    const c = this.#config;
    const peer = unmapIpv4(peerIp);
    headers.remove('x-envoy-internal');
    const xff = headers.get('x-forwarded-for');
    let remote: string | undefined;
    let single: boolean;
    let fromXff = false;
    if (c.useRemoteAddress) {
      single = xff === undefined;
      if (c.xffNumTrustedHops > 0) {
        remote = lastAddressFromXff(xff, c.xffNumTrustedHops - 1).ip;
        fromXff = remote !== undefined;
      }
      remote ??= peer;
      if (!c.skipXffAppend) {
        const appended = isLoopback(peer) ? this.#localAddress : peer;
        headers.set('x-forwarded-for', xff === undefined || xff === '' ? appended : `${xff},${appended}`);
      }
      // An untrusted peer's x-forwarded-proto is replaced; with trusted hops, one that came is kept.
      if (c.xffNumTrustedHops === 0 || !headers.has('x-forwarded-proto')) headers.set('x-forwarded-proto', scheme);
    } else {
      const last = lastAddressFromXff(xff, c.xffNumTrustedHops);
      remote = last.ip;
      single = last.single;
      fromXff = remote !== undefined;
    }
    if (!headers.has('x-forwarded-proto')) headers.append('x-forwarded-proto', scheme);
    const internal = single && remote !== undefined && this.#internal.isInternal(unmapIpv4(remote));
    remote ??= peer;
    const edge = !internal && c.useRemoteAddress;
    if (internal) {
      headers.append('x-envoy-internal', 'true');
    } else {
      // Most requests carry no x-envoy-* field: one scan for the prefix first.
      if (headers.hasNamePrefix('x-envoy-')) {
        headers.removeAll(EXTERNAL_STRIPPED);
        if (edge) headers.removeAll(EDGE_STRIPPED);
      }
      for (const name of internalOnly) headers.remove(name);
    }
    if (edge) headers.set('x-envoy-external-address', remote);
    return { remoteIp: remote, fromXff, internal, edge };
  }
}
