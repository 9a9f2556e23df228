/**
 * Membership of DNS clusters, on MAIN. One refresh loop, two readings of the answers:
 *
 * - STRICT_DNS: every endpoint's name is resolved; each address is a host; the cluster is
 *   the union. A successful answer with no address empties the cluster (as Envoy says); a
 *   failed resolution keeps the previous hosts.
 * - LOGICAL_DNS: exactly one endpoint; the cluster has one logical host whose address is
 *   the first address of the latest answer. New connections go to that address; open
 *   connections stay where they are (workers keep the logical host's pools across a change:
 *   see ThreadLocalClusterImpl). An empty or failed answer keeps the last good address.
 *
 * The loop (Envoy's): each attempt counts cluster.<name>.update_attempt, then update_success
 * or update_failure. The next attempt comes after dns_refresh_rate, or after the answer's
 * TTL with respect_dns_ttl (when the resolver gives TTLs and the TTL is not 0); after a
 * failure, after dns_failure_refresh_rate's jittered exponential backoff (base_interval to
 * max_interval), or dns_refresh_rate when that is unset. The cluster warms after the first
 * attempt, answered or not.
 */
import type { StatsScope } from '../api/stats.js';
import type { ClusterConfig } from '../config/server-config.js';
import { JitteredBackoff } from '../xds/backoff.js';
import { dedupe, hostOf, type MemberHost, type MembershipCallbacks, type MembershipSource } from './cluster-membership.js';
import { createDnsResolver, type DnsResolver } from './dns-resolver.js';

/** The result of one attempt: new hosts, or undefined to keep the ones there are. */
interface Attempt {
  readonly hosts: MemberHost[] | undefined;
  readonly ok: boolean;
  readonly ttlSeconds: number | undefined;
}

abstract class DnsMembershipBase implements MembershipSource {
  protected readonly config: ClusterConfig;
  protected readonly resolver: DnsResolver;
  readonly #scope: StatsScope;
  readonly #failureBackoff: JitteredBackoff | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #last = '';

  /** `scope` is `cluster.<stat name>.`. */
  constructor(config: ClusterConfig, scope: StatsScope) {
    this.config = config;
    this.#scope = scope;
    this.resolver = createDnsResolver(config.dns.resolvers);
    const failure = config.dns.failureRefreshRate;
    if (failure) this.#failureBackoff = new JitteredBackoff({ baseMs: failure.baseMs, maxMs: failure.maxMs });
  }

  /** One resolution of the cluster's names. */
  protected abstract attempt(): Promise<Attempt>;

  start(callbacks: MembershipCallbacks): void {
    const tick = async (first: boolean): Promise<void> => {
      if (this.#stopped) return;
      this.#scope.counter('update_attempt').inc();
      let result: Attempt;
      try {
        result = await this.attempt();
      } catch {
        result = { hosts: undefined, ok: false, ttlSeconds: undefined };
      }
      if (this.#stopped) return;
      this.#scope.counter(result.ok ? 'update_success' : 'update_failure').inc();
      if (result.hosts) {
        const json = JSON.stringify(result.hosts);
        if (json !== this.#last) {
          this.#last = json;
          callbacks.onHosts(result.hosts);
        }
      }
      if (first) callbacks.onWarm();
      if (!this.#stopped) this.#timer = setTimeout(() => void tick(false), this.#nextDelayMs(result)).unref();
    };
    void tick(true);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  #nextDelayMs(result: Attempt): number {
    const dns = this.config.dns;
    if (!result.ok) return this.#failureBackoff ? this.#failureBackoff.next() : dns.refreshRateMs;
    this.#failureBackoff?.reset();
    if (dns.respectTtl && result.ttlSeconds !== undefined && result.ttlSeconds > 0) return result.ttlSeconds * 1000;
    return dns.refreshRateMs;
  }
}

export class StrictDnsMembership extends DnsMembershipBase {
  protected async attempt(): Promise<Attempt> {
    const answers = await Promise.all(
      this.config.endpoints.map(async (e) => ({ e, answer: await this.resolver.resolve(e.address, this.config.dns.lookupFamily) })),
    );
    const hosts = dedupe(answers.flatMap(({ e, answer }) => answer.addresses.map((ip) => hostOf(e, ip, e.address))));
    const ttls = answers.map((a) => a.answer.ttlSeconds).filter((t): t is number => t !== undefined);
    return { hosts, ok: true, ttlSeconds: ttls.length ? Math.min(...ttls) : undefined };
  }
}

export class LogicalDnsMembership extends DnsMembershipBase {
  protected async attempt(): Promise<Attempt> {
    const e = this.config.endpoints[0];
    if (!e) return { hosts: undefined, ok: false, ttlSeconds: undefined };
    const answer = await this.resolver.resolve(e.address, this.config.dns.lookupFamily);
    const first = answer.addresses[0];
    // Envoy: an empty answer does not update a logical DNS cluster (it never falls back to no host).
    if (first === undefined) return { hosts: undefined, ok: false, ttlSeconds: undefined };
    return { hosts: [hostOf(e, first, e.address)], ok: true, ttlSeconds: answer.ttlSeconds };
  }
}
