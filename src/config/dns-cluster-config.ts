/**
 * The DNS settings of a STRICT_DNS or LOGICAL_DNS cluster (envoy.config.cluster.v3.Cluster):
 * `dns_refresh_rate`, `dns_failure_refresh_rate`, `respect_dns_ttl`, `dns_lookup_family` and
 * the resolver to ask: `typed_dns_resolver_config` holding
 * envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig, the older
 * `dns_resolution_config`, or the deprecated `dns_resolvers`. MAIN process.
 *
 * As Envoy: `typed_dns_resolver_config` wins over `dns_resolution_config`, which wins over
 * `dns_resolvers`. Without any of them Courier asks the system resolver (getaddrinfo, which
 * reads /etc/hosts), as Envoy's default c-ares resolver reads /etc/resolv.conf.
 */
import type { ProblemSink } from '../api/network-filter.js';
import { parseSocketAddress } from './address.js';
import { bool, durationMs, list, obj, rejectUnsupported, str, type Obj } from './plain-reader.js';
import type { DnsClusterSettings, DnsLookupFamily, SocketAddressConfig } from './server-config.js';

/** The Cluster fields read here, for the cluster reader's list of supported fields. */
export const DNS_CLUSTER_FIELDS = [
  'dns_refresh_rate', 'dns_failure_refresh_rate', 'respect_dns_ttl', 'dns_lookup_family',
  'typed_dns_resolver_config', 'dns_resolution_config', 'dns_resolvers',
] as const;

export const CARES_RESOLVER_NAME = 'envoy.network.dns_resolver.cares';
const CARES_CONFIG_TYPE = 'envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig';
/** Envoy's default dns_refresh_rate. */
const DEFAULT_REFRESH_MS = 5000;

/** Reads the DNS fields of cluster `c`; `dnsType` is false for STATIC and EDS, which take none of them but the defaults. */
export function parseDnsSettings(c: Obj, dnsType: boolean, problems: ProblemSink): DnsClusterSettings {
  if (!dnsType) {
    for (const f of ['dns_failure_refresh_rate', 'typed_dns_resolver_config', 'dns_resolution_config', 'dns_resolvers']) {
      if (c[f] !== undefined) problems.add(f, `${f} is only used by STRICT_DNS and LOGICAL_DNS clusters`);
    }
  }
  const refreshMs = durationMs(c, 'dns_refresh_rate', DEFAULT_REFRESH_MS);
  if (c['dns_refresh_rate'] !== undefined && refreshMs < 1) problems.add('dns_refresh_rate', 'dns_refresh_rate must be at least 1ms');
  const settings: DnsClusterSettings = {
    refreshRateMs: refreshMs,
    lookupFamily: ((c['dns_lookup_family'] as string | undefined) ?? 'AUTO') as DnsLookupFamily,
    respectTtl: bool(c, 'respect_dns_ttl', false),
    resolvers: parseResolvers(c, problems),
  };
  const failure = obj(c['dns_failure_refresh_rate']);
  if (failure) {
    const p = problems.at('dns_failure_refresh_rate');
    rejectUnsupported(failure, ['base_interval', 'max_interval'], 'Cluster.RefreshRate', p);
    const baseMs = durationMs(failure, 'base_interval', 0);
    const maxMs = durationMs(failure, 'max_interval', baseMs * 10);
    if (baseMs <= 1) p.add('base_interval', 'base_interval is required and must be greater than 1ms');
    else if (maxMs < baseMs) p.add('max_interval', 'dns_failure_refresh_rate must have max_interval greater than or equal to the base_interval');
    settings.failureRefreshRate = { baseMs, maxMs };
  }
  return settings;
}

function parseResolvers(c: Obj, problems: ProblemSink): SocketAddressConfig[] {
  const typed = obj(c['typed_dns_resolver_config']);
  if (typed) {
    const p = problems.at('typed_dns_resolver_config');
    rejectUnsupported(typed, ['name', 'typed_config'], 'TypedExtensionConfig', p);
    const config = obj(typed['typed_config']) ?? {};
    const typeUrl = str(config, '@type');
    const typeName = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
    if (typeName !== CARES_CONFIG_TYPE) {
      p.add('typed_config', `DNS resolver ${typeName || str(typed, 'name') || '(none)'} is not supported by Courier yet (${CARES_RESOLVER_NAME} with ${CARES_CONFIG_TYPE} only)`);
      return [];
    }
    const tp = p.at('typed_config');
    rejectUnsupported(config, ['resolvers'], 'CaresDnsResolverConfig', tp);
    return addresses(config['resolvers'], tp.at('resolvers'));
  }
  const resolution = obj(c['dns_resolution_config']);
  if (resolution) {
    const p = problems.at('dns_resolution_config');
    rejectUnsupported(resolution, ['resolvers'], 'DnsResolutionConfig', p);
    return addresses(resolution['resolvers'], p.at('resolvers'));
  }
  return addresses(c['dns_resolvers'], problems.at('dns_resolvers'));
}

/** Resolver addresses must be IPs (Envoy: a resolver is not itself resolved); port 0 means 53. */
function addresses(value: unknown, problems: ProblemSink): SocketAddressConfig[] {
  const out: SocketAddressConfig[] = [];
  list(value).forEach((a, i) => {
    const parsed = parseSocketAddress(obj(a), problems.at(`[${i}]`), true);
    if (parsed) out.push({ host: parsed.host, port: parsed.port || 53 });
  });
  return out;
}
