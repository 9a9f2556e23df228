/**
 * Name resolution for STRICT_DNS and LOGICAL_DNS clusters, on MAIN (Envoy resolves on its
 * main thread too). Two resolvers, one contract:
 * - the system resolver (no `resolvers` configured): getaddrinfo through dns.lookup, which
 *   reads /etc/hosts and /etc/resolv.conf; it gives no TTL, so respect_dns_ttl falls back to
 *   dns_refresh_rate;
 * - c-ares (`envoy.network.dns_resolver.cares` with `resolvers`): Node's dns.Resolver pointed
 *   at exactly those servers, asking A and AAAA queries whose answers carry their TTLs.
 *
 * The lookup family follows Envoy: AUTO asks AAAA and falls back to A, V4_PREFERRED the
 * reverse, V4_ONLY / V6_ONLY one family, ALL both (IPv4 first). An answer with no address
 * ("no such name", "no record of that type") is an empty answer, not a failure; a timeout,
 * a refused query or an unreachable server is a failure.
 */
import dns from 'node:dns';
import { isIP } from 'node:net';
import type { DnsLookupFamily, SocketAddressConfig } from '../config/server-config.js';

export interface DnsAnswer {
  /** Addresses in the resolver's order, the preferred family first. */
  readonly addresses: readonly string[];
  /** The smallest TTL of the records used (seconds); undefined when the resolver gives none. */
  readonly ttlSeconds: number | undefined;
}

export interface DnsResolver {
  /** Rejects on a resolution failure; an empty answer resolves with no addresses. */
  resolve(name: string, family: DnsLookupFamily): Promise<DnsAnswer>;
}

/** Errors that mean "the name has no address of that family", not "could not ask". */
const EMPTY_ANSWER_CODES: ReadonlySet<string> = new Set([dns.NODATA, dns.NOTFOUND]);

/** A resolver for one cluster: `servers` empty means the system's. */
export function createDnsResolver(servers: readonly SocketAddressConfig[]): DnsResolver {
  return servers.length === 0 ? new SystemDnsResolver() : new CaresDnsResolver(servers);
}

class SystemDnsResolver implements DnsResolver {
  async resolve(name: string, family: DnsLookupFamily): Promise<DnsAnswer> {
    const literal = literalAnswer(name);
    if (literal) return literal;
    let all: dns.LookupAddress[];
    try {
      all = await dns.promises.lookup(name, { all: true, verbatim: true });
    } catch (err) {
      if (EMPTY_ANSWER_CODES.has((err as NodeJS.ErrnoException).code ?? '')) return { addresses: [], ttlSeconds: undefined };
      throw err;
    }
    const v4 = all.filter((a) => a.family === 4).map((a) => a.address);
    const v6 = all.filter((a) => a.family === 6).map((a) => a.address);
    return { addresses: byFamily(family, v4, v6), ttlSeconds: undefined };
  }
}

class CaresDnsResolver implements DnsResolver {
  readonly #resolver: dns.promises.Resolver;

  constructor(servers: readonly SocketAddressConfig[]) {
    // Two tries of 2 s each: a dead server is a failure within seconds, not minutes.
    this.#resolver = new dns.promises.Resolver({ timeout: 2000, tries: 2 });
    this.#resolver.setServers(servers.map((s) => (s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`)));
  }

  async resolve(name: string, family: DnsLookupFamily): Promise<DnsAnswer> {
    const literal = literalAnswer(name);
    if (literal) return literal;
    const ask4 = (): Promise<dns.RecordWithTtl[]> => this.#query(() => this.#resolver.resolve4(name, { ttl: true }));
    const ask6 = (): Promise<dns.RecordWithTtl[]> => this.#query(() => this.#resolver.resolve6(name, { ttl: true }));
    let records: dns.RecordWithTtl[];
    switch (family) {
      case 'V4_ONLY':
        records = await ask4();
        break;
      case 'V6_ONLY':
        records = await ask6();
        break;
      case 'V4_PREFERRED':
        records = await firstNonEmpty(ask4, ask6);
        break;
      case 'ALL':
        records = [...(await ask4()), ...(await ask6())];
        break;
      case 'AUTO':
      default:
        records = await firstNonEmpty(ask6, ask4);
    }
    const ttl = records.length ? Math.min(...records.map((r) => r.ttl)) : undefined;
    return { addresses: records.map((r) => r.address), ttlSeconds: ttl };
  }

  async #query(ask: () => Promise<dns.RecordWithTtl[]>): Promise<dns.RecordWithTtl[]> {
    try {
      return await ask();
    } catch (err) {
      if (EMPTY_ANSWER_CODES.has((err as NodeJS.ErrnoException).code ?? '')) return [];
      throw err;
    }
  }
}

async function firstNonEmpty<T>(first: () => Promise<T[]>, second: () => Promise<T[]>): Promise<T[]> {
  const a = await first();
  return a.length ? a : second();
}

/** An endpoint given as an IP needs no question (Envoy resolves it to itself). */
function literalAnswer(name: string): DnsAnswer | undefined {
  return isIP(name) ? { addresses: [name], ttlSeconds: undefined } : undefined;
}

function byFamily(family: DnsLookupFamily, v4: string[], v6: string[]): string[] {
  switch (family) {
    case 'V4_ONLY':
      return v4;
    case 'V6_ONLY':
      return v6;
    case 'V4_PREFERRED':
      return v4.length ? v4 : v6;
    case 'ALL':
      return [...v4, ...v6];
    case 'AUTO':
    default:
      // Envoy's AUTO prefers IPv6 and falls back to IPv4.
      return v6.length ? v6 : v4;
  }
}
