/**
 * Courier's internal configuration: what the bootstrap (and later xDS) becomes after checking.
 * Plain data only: it is posted from main to workers as JSON, and no protobuf object or
 * class instance may appear in it.
 */
import type { LbPolicyConfig } from '../api/load-balancer.js';
import type { XdsConfigSource, XdsGrpcServer } from '../xds/config-source.js';
import type { OverloadConfig } from './overload-config.js';
import type { RuntimeConfig } from './runtime-config.js';
import type { StatsConfig } from './stats-config.js';

export interface SocketAddressConfig {
  host: string;
  /** 0 asks the kernel for a port; the bound port is reported back by the workers. */
  port: number;
}

export interface NetworkFilterConfig {
  /** Filter name as configured (Envoy's `name`). */
  name: string;
  /** Registered factory name (the typed_config's filter), e.g. envoy.filters.network.tcp_proxy. */
  factory: string;
  /** The factory's own parsed config. */
  config: unknown;
}

export interface FilterChainConfig {
  name: string;
  filters: NetworkFilterConfig[];
}

export interface ListenerConfig {
  name: string;
  address: SocketAddressConfig;
  /** Scope for listener.* stats: `listener.<stat_prefix or address>.` */
  statPrefix: string;
  /** per_connection_buffer_limit_bytes (default 1 MiB). */
  bufferLimitBytes: number;
  filterChains: FilterChainConfig[];
}

/** envoy.config.core.v3.HealthStatus as given by the load assignment (EDS or static). */
export type HostHealth = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED';

export interface EndpointConfig {
  /** IP address or hostname (STRICT_DNS, LOGICAL_DNS). */
  address: string;
  port: number;
  weight: number;
  /** LocalityLbEndpoints.priority; absent means 0. */
  priority?: number;
  /** LbEndpoint.health_status; absent means UNKNOWN (used, as HEALTHY). */
  health?: HostHealth;
  /** Endpoint.hostname; absent means none. */
  hostname?: string;
}

export interface CircuitBreakerConfig {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
}

export type DnsLookupFamily = 'AUTO' | 'V4_ONLY' | 'V6_ONLY' | 'V4_PREFERRED' | 'ALL';

/** How a STRICT_DNS or LOGICAL_DNS cluster resolves (src/config/dns-cluster-config.ts). */
export interface DnsClusterSettings {
  refreshRateMs: number;
  lookupFamily: DnsLookupFamily;
  /** respect_dns_ttl: refresh at the answer's TTL (when the resolver gives one) instead of refreshRateMs. */
  respectTtl: boolean;
  /** dns_failure_refresh_rate: jittered exponential backoff after a failed resolution; absent means refreshRateMs. */
  failureRefreshRate?: { baseMs: number; maxMs: number };
  /** DNS servers to ask (c-ares `resolvers`); empty means the system resolver. */
  resolvers: SocketAddressConfig[];
}

export interface ClusterConfig {
  name: string;
  /** Stats scope name: alt_stat_name or name. */
  statName: string;
  type: 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS';
  connectTimeoutMs: number;
  lb: LbPolicyConfig;
  endpoints: EndpointConfig[];
  dns: DnsClusterSettings;
  circuitBreakers: CircuitBreakerConfig;
  /** per_connection_buffer_limit_bytes for upstream connections (default 1 MiB). */
  bufferLimitBytes: number;
  /** typed_extension_protocol_options, parsed by the filter named by each key. */
  protocolOptions: Record<string, unknown>;
  /** type EDS: where the ClusterLoadAssignment comes from, and its name (service_name or the cluster's name). */
  eds?: { source: XdsConfigSource; serviceName: string };
}

export interface AdminConfig {
  address: SocketAddressConfig;
}

export interface NodeConfig {
  id: string;
  cluster: string;
}

/**
 * One RDS route config provider main must run: every HCM `rds` with the same (config source,
 * route_config_name) shares it (its `key`). Main only; workers see the routes through the
 * `routes` slot.
 */
export interface RdsProviderConfig {
  key: string;
  routeConfigName: string;
  source: XdsConfigSource;
  /** The stat_prefix of the first filter naming it: stats go to `<kind root>.<statPrefix>.rds.<name>.`. */
  statPrefix: string;
  /**
   * How the RouteConfiguration resource is read (src/extensions/route-config-kinds.ts):
   * `http` for the HCM, `meta_protocol` for MetaRDS, `dubbo` for dubbo_proxy's drds.
   */
  kind: RouteConfigKindName;
}

export type RouteConfigKindName = 'http' | 'meta_protocol' | 'dubbo';

export interface ServerConfig {
  node: NodeConfig;
  admin: AdminConfig | undefined;
  listeners: ListenerConfig[];
  clusters: ClusterConfig[];
  statsFlushIntervalMs: number;
  /** stats_config and stats_sinks (src/config/stats-config.ts). */
  stats: StatsConfig;
  /** dynamic_resources.ads_config: the ADS management server, if any. */
  ads: XdsGrpcServer | undefined;
  /** RDS providers the listeners need, one per distinct key. */
  rds: RdsProviderConfig[];
  /** dynamic_resources.cds_config: where clusters beyond the static ones come from. */
  cds: XdsConfigSource | undefined;
  /** dynamic_resources.lds_config: where listeners beyond the static ones come from. */
  lds: XdsConfigSource | undefined;
  /** overload_manager (src/server/overload/). */
  overload?: OverloadConfig | undefined;
  /** layered_runtime: the runtime's layers, in override order (src/config/runtime-config.ts). */
  runtime: RuntimeConfig;
}

/**
 * One cluster's hosts as posted to workers: only the ones to balance over (HEALTHY or UNKNOWN,
 * of the lowest priority that has any; see src/server/cluster-membership.ts). Re-posted when
 * DNS answers or an EDS assignment change them.
 */
export interface ClusterMembership {
  cluster: string;
  hosts: Array<{ address: string; host: string; port: number; weight: number; hostname: string }>;
}
