/**
 * Which client addresses are "internal" (HttpConnectionManager.internal_address_config), for
 * Envoy's internal/external request decision (forwarded-headers.ts). Without cidr_ranges the
 * answer is Envoy's Network::Utility::isInternalAddress: the RFC 1918 ranges (10/8, 172.16/12,
 * 192.168/16), 127.0.0.1, the locally assigned RFC 4193 range fd00::/8, and ::1. With
 * cidr_ranges, exactly those ranges (the defaults no longer apply), as in Envoy.
 *
 * Config (InternalAddressConfigData) is plain data, sent main → workers; each worker builds one
 * matcher on node:net's BlockList. Worker-side, synchronous.
 */
import net from 'node:net';

export interface CidrRangeData {
  readonly addressPrefix: string;
  readonly prefixLen: number;
}

export interface InternalAddressConfigData {
  /** unix_sockets: a pipe peer is internal (Courier listens on IP sockets only; kept for fidelity). */
  readonly unixSockets: boolean;
  /** cidr_ranges; empty = Envoy's defaults. */
  readonly cidrRanges: readonly CidrRangeData[];
}

export const DEFAULT_INTERNAL_ADDRESS_CONFIG: InternalAddressConfigData = { unixSockets: false, cidrRanges: [] };

/** Envoy's isInternalAddress ranges. */
const DEFAULT_RANGES: readonly CidrRangeData[] = [
  { addressPrefix: '10.0.0.0', prefixLen: 8 },
  { addressPrefix: '172.16.0.0', prefixLen: 12 },
  { addressPrefix: '192.168.0.0', prefixLen: 16 },
  { addressPrefix: '127.0.0.1', prefixLen: 32 },
  { addressPrefix: 'fd00::', prefixLen: 8 },
  { addressPrefix: '::1', prefixLen: 128 },
];

/** Checks a CidrRange; undefined when valid, else what is wrong (for the config's problem list). */
export function cidrRangeProblem(r: CidrRangeData): string | undefined {
  const family = net.isIP(r.addressPrefix);
  if (family === 0) return `address_prefix ${JSON.stringify(r.addressPrefix)} is not an IP address`;
  const max = family === 4 ? 32 : 128;
  if (!Number.isInteger(r.prefixLen) || r.prefixLen < 0 || r.prefixLen > max) return `prefix_len ${r.prefixLen} is out of range for IPv${family} (0..${max})`;
  return undefined;
}

/** "1.2.3.4" for "::ffff:1.2.3.4" (a dual-stack socket's view of an IPv4 peer); else `ip`. */
export function unmapIpv4(ip: string): string {
  return ip.length > 7 && ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

export class InternalAddressMatcher {
  readonly #list = new net.BlockList();

  constructor(config: InternalAddressConfigData) {
    const ranges = config.cidrRanges.length > 0 ? config.cidrRanges : DEFAULT_RANGES;
    for (const r of ranges) {
      const family = net.isIP(r.addressPrefix) === 6 ? 'ipv6' : 'ipv4';
      this.#list.addSubnet(r.addressPrefix, r.prefixLen, family);
    }
  }

  /** Whether `ip` (a bare IPv4 or IPv6 address) is internal; anything else is not. */
  isInternal(ip: string): boolean {
    const family = net.isIP(ip);
    if (family === 0) return false;
    return this.#list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }
}
