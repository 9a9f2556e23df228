/**
 * Admin endpoints, named and shaped as Envoy's (docs: operations/admin).
 */
import { formatStats, type StatsFormat, type StatsFormatOptions } from '../../common/stats/stats-format.js';
import { compileRe2, Re2SyntaxError, type Re2Regex } from '../../common/matchers/re2.js';
import type { HostStats } from '../../common/upstream/host-stats.js';
import { VERSION } from '../../version.js';
import type { HostHealth } from '../../config/server-config.js';
import type { ClusterEntry } from '../cluster-manager.js';
import type { AdminContext } from './admin-context.js';
import { RUNTIME_ADMIN_HANDLERS } from './runtime-handlers.js';
import { queryConfigDump } from './config-dump-query.js';
import { handleLogging } from './logging-handler.js';
import { logger } from '../../common/log-registry.js';

export interface AdminResponse {
  status: number;
  contentType: string;
  body: string;
}

export interface AdminHandler {
  path: string;
  help: string;
  /** Mutating endpoints refuse GET, as Envoy's do. */
  mutates: boolean;
  handle(query: URLSearchParams, ctx: AdminContext): Promise<AdminResponse> | AdminResponse;
}

const text = (body: string, status = 200): AdminResponse => ({ status, contentType: 'text/plain; charset=UTF-8', body });
const json = (value: unknown, status = 200): AdminResponse => ({
  status,
  contentType: 'application/json',
  body: `${JSON.stringify(value, null, 2)}\n`,
});

function statsOptions(query: URLSearchParams): StatsFormatOptions | string {
  const out: { filter?: Re2Regex; usedOnly?: boolean } = {};
  const filter = query.get('filter');
  if (filter) {
    // RE2 as in Envoy: admin input must not be able to stall main with a backtracking regex.
    try {
      out.filter = compileRe2(filter);
    } catch (e) {
      return `Invalid re2 regex: ${e instanceof Re2SyntaxError ? e.reason : (e as Error).message}`;
    }
  }
  if (query.has('usedonly')) out.usedOnly = true;
  return out;
}

async function statsResponse(query: URLSearchParams, ctx: AdminContext, format: StatsFormat): Promise<AdminResponse> {
  const options = statsOptions(query);
  if (typeof options === 'string') return text(`${options}\n`, 400);
  const { snapshot } = await ctx.collectStats();
  const body = formatStats(snapshot, format, { ...options, tags: ctx.statsTags });
  if (format === 'json') return { status: 200, contentType: 'application/json', body };
  if (format === 'prometheus') return { status: 200, contentType: 'text/plain; version=0.0.4', body };
  return text(body);
}

/** The inline route_configs of the bootstrap's HTTP connection managers (as given). */
function staticRouteConfigs(listeners: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const l of listeners) {
    for (const chain of ((l as Record<string, unknown>)['filter_chains'] as unknown[] | undefined) ?? []) {
      for (const f of ((chain as Record<string, unknown>)['filters'] as unknown[] | undefined) ?? []) {
        const tc = (f as Record<string, unknown>)['typed_config'] as Record<string, unknown> | undefined;
        const type = String(tc?.['@type'] ?? '');
        if (type.endsWith('.HttpConnectionManager') && tc?.['route_config']) {
          out.push({ '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', ...(tc['route_config'] as object) });
        }
      }
    }
  }
  return out;
}

const TYPE_URL = 'type.googleapis.com/';

function dynamicCluster(e: ClusterEntry): unknown {
  return {
    version_info: e.versionInfo,
    cluster: { '@type': `${TYPE_URL}envoy.config.cluster.v3.Cluster`, ...e.resource },
    last_updated: new Date(e.lastUpdatedMs).toISOString(),
  };
}

/** Envoy's /clusters health_flags for a host's EDS health. */
function healthFlags(health: HostHealth): string {
  if (health === 'UNKNOWN' || health === 'HEALTHY') return 'healthy';
  return health === 'DEGRADED' ? '/degraded_eds_health' : '/failed_eds_health';
}

const HOST_COUNTERS: ReadonlyArray<keyof HostStats> = [
  'cx_active', 'cx_connect_fail', 'cx_total', 'rq_active', 'rq_error', 'rq_success', 'rq_timeout', 'rq_total',
];

export const ADMIN_HANDLERS: readonly AdminHandler[] = [
  {
    path: '/stats',
    help: 'print server stats (?filter=REGEX, ?usedonly, ?format=json|prometheus)',
    mutates: false,
    handle: (q, ctx) => {
      const format = q.get('format');
      if (format && format !== 'json' && format !== 'prometheus' && format !== 'text') return text(`unsupported format "${format}"\n`, 400);
      return statsResponse(q, ctx, (format as StatsFormat | null) ?? 'text');
    },
  },
  {
    path: '/stats/prometheus',
    help: 'print server stats in prometheus format',
    mutates: false,
    handle: (q, ctx) => statsResponse(q, ctx, 'prometheus'),
  },
  {
    path: '/clusters',
    help: 'upstream cluster status (?format=json)',
    mutates: false,
    handle: async (q, ctx) => {
      const { hosts } = await ctx.collectStats();
      const entries = ctx.clusters();
      if (q.get('format') === 'json') {
        return json({
          cluster_statuses: entries.map(({ config: c, addedViaApi, hosts: members }) => ({
            name: c.name,
            observability_name: c.statName,
            added_via_api: addedViaApi,
            circuit_breakers: {
              thresholds: [
                {
                  priority: 'DEFAULT',
                  max_connections: c.circuitBreakers.maxConnections,
                  max_pending_requests: c.circuitBreakers.maxPendingRequests,
                  max_requests: c.circuitBreakers.maxRequests,
                  max_retries: c.circuitBreakers.maxRetries,
                },
              ],
            },
            host_statuses: members.map((h) => {
              const hs = hosts[c.name]?.[h.address];
              return {
                address: { socket_address: { address: h.host, port_value: h.port } },
                stats: HOST_COUNTERS.map((name) => ({
                  name,
                  value: String(hs?.[name] ?? 0),
                  ...(name.endsWith('_active') ? { type: 'GAUGE' } : {}),
                })),
                health_status: { eds_health_status: h.health === 'UNKNOWN' ? 'HEALTHY' : h.health },
                weight: h.weight,
                hostname: h.hostname,
                locality: {},
                ...(h.priority !== 0 ? { priority: h.priority } : {}),
              };
            }),
          })),
        });
      }
      const lines: string[] = [];
      for (const { config: c, addedViaApi, hosts: members } of entries) {
        const p = `${c.name}::`;
        lines.push(`${p}observability_name::${c.statName}`);
        const cb = c.circuitBreakers;
        lines.push(`${p}default_priority::max_connections::${cb.maxConnections}`);
        lines.push(`${p}default_priority::max_pending_requests::${cb.maxPendingRequests}`);
        lines.push(`${p}default_priority::max_requests::${cb.maxRequests}`);
        lines.push(`${p}default_priority::max_retries::${cb.maxRetries}`);
        lines.push(`${p}added_via_api::${addedViaApi}`);
        for (const h of members) {
          const hs = hosts[c.name]?.[h.address];
          const hp = `${p}${h.address}::`;
          for (const name of HOST_COUNTERS) lines.push(`${hp}${name}::${hs?.[name] ?? 0}`);
          lines.push(`${hp}hostname::${h.hostname}`);
          lines.push(`${hp}health_flags::${healthFlags(h.health)}`);
          lines.push(`${hp}weight::${h.weight}`);
          lines.push(`${hp}region::`, `${hp}zone::`, `${hp}sub_zone::`, `${hp}canary::false`, `${hp}priority::${h.priority}`);
          lines.push(`${hp}success_rate::-1`, `${hp}local_origin_success_rate::-1`);
        }
      }
      return text(lines.length ? `${lines.join('\n')}\n` : '');
    },
  },
  {
    path: '/listeners',
    help: 'print listener info (?format=json)',
    mutates: false,
    handle: (q, ctx) => {
      const bound = new Map(ctx.listenerBindings().map((b) => [b.listener, b]));
      const rows = ctx.activeListeners().map((l) => {
        const b = bound.get(l.name);
        return { name: l.name, host: l.address.host, port: b?.port ?? l.address.port };
      });
      if (q.get('format') === 'json') {
        return json({
          listener_statuses: rows.map((r) => ({ name: r.name, local_address: { socket_address: { address: r.host, port_value: r.port } } })),
        });
      }
      return text(rows.map((r) => `${r.name}::${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}\n`).join(''));
    },
  },
  {
    path: '/ready',
    help: 'print server state, return 200 if LIVE, otherwise return 503',
    mutates: false,
    handle: (_q, ctx) => {
      const state = ctx.state();
      return text(`${state}\n`, state === 'LIVE' ? 200 : 503);
    },
  },
  {
    path: '/server_info',
    help: 'print server version/status information',
    mutates: false,
    handle: (_q, ctx) => {
      const uptime = `${Math.floor((Date.now() - ctx.startedAtMs) / 1000)}s`;
      return json({
        version: `courier/${VERSION}`,
        state: ctx.state(),
        hot_restart_version: 'disabled',
        command_line_options: ctx.commandLine,
        node: { id: ctx.config.node.id, cluster: ctx.config.node.cluster },
        uptime_current_epoch: uptime,
        uptime_all_epochs: uptime,
      });
    },
  },
  {
    path: '/config_dump',
    help: 'dump current Courier configs (?resource=FIELD, ?mask=PATHS, ?include_eds)',
    mutates: false,
    handle: (q, ctx) => {
      const lastUpdated = new Date(ctx.startedAtMs).toISOString();
      const raw = (ctx.rawBootstrap ?? {}) as Record<string, unknown>;
      const sr = (raw['static_resources'] ?? raw['staticResources'] ?? {}) as Record<string, unknown[]>;
      const configs: Array<Record<string, unknown>> = [
          {
            '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump',
            bootstrap: raw,
            last_updated: lastUpdated,
          },
          {
            '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
            version_info: ctx.cdsVersion() ?? '',
            static_clusters: (sr['clusters'] ?? []).map((cluster) => ({
              cluster: { '@type': `${TYPE_URL}envoy.config.cluster.v3.Cluster`, ...(cluster as object) },
              last_updated: lastUpdated,
            })),
            // The checked CDS resources (Durations in milliseconds, as Courier decodes them).
            dynamic_active_clusters: ctx.clusters().filter((e) => e.addedViaApi).map(dynamicCluster),
            dynamic_warming_clusters: ctx.warmingClusters().map(dynamicCluster),
          },
          ...(q.has('include_eds')
            ? [
                {
                  '@type': 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
                  dynamic_endpoint_configs: ctx.edsAssignments().map((a) => ({
                    version_info: a.versionInfo,
                    endpoint_config: { '@type': `${TYPE_URL}envoy.config.endpoint.v3.ClusterLoadAssignment`, ...a.resource },
                    last_updated: new Date(a.lastUpdatedMs).toISOString(),
                  })),
                },
              ]
            : []),
          {
            '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
            version_info: ctx.ldsVersion() ?? '',
            static_listeners: (sr['listeners'] ?? []).map((listener) => ({
              listener: { '@type': `${TYPE_URL}envoy.config.listener.v3.Listener`, ...(listener as object) },
              last_updated: lastUpdated,
            })),
            dynamic_listeners: ctx.dynamicListeners().map(({ entry, warming }) => ({
              name: entry.config.name,
              [warming ? 'warming_state' : 'active_state']: {
                version_info: entry.versionInfo,
                listener: { '@type': `${TYPE_URL}envoy.config.listener.v3.Listener`, ...entry.resource },
                last_updated: new Date(entry.lastUpdatedMs).toISOString(),
              },
            })),
          },
          {
            '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
            static_route_configs: staticRouteConfigs(sr['listeners'] ?? []).map((route_config) => ({ route_config, last_updated: lastUpdated })),
            // Only accepted configs: a NACKed one never shows. The route_config is the checked
            // resource (Durations in milliseconds, as Courier decodes them), not re-encoded JSON.
            dynamic_route_configs: ctx.dynamicRouteConfigs().map((d) => ({
              version_info: d.versionInfo,
              route_config: { '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', ...d.resource },
              last_updated: new Date(d.lastUpdatedMs).toISOString(),
            })),
          },
        ];
      const result = queryConfigDump(configs, q.get('resource'), q.get('mask'));
      return result.ok ? json({ configs: result.configs }) : text(`${result.message}\n`, result.status);
    },
  },
  {
    path: '/quitquitquit',
    help: 'exit the server (drains first)',
    mutates: true,
    handle: (_q, ctx) => {
      ctx.quit();
      return text('OK\n');
    },
  },
  {
    path: '/healthcheck/fail',
    help: 'cause the server to fail health checks',
    mutates: true,
    handle: (_q, ctx) => {
      ctx.setHealthCheckFailed(true);
      return text('OK\n');
    },
  },
  {
    path: '/healthcheck/ok',
    help: 'cause the server to pass health checks',
    mutates: true,
    handle: (_q, ctx) => {
      ctx.setHealthCheckFailed(false);
      // Draining (/drain_listeners, SIGTERM, /quitquitquit) is not undone by this: the server
      // keeps failing health checks, and says so rather than "OK".
      if (ctx.draining()) return text('DRAINING: the server is draining; health checks keep failing\n', 503);
      return text('OK\n');
    },
  },
  {
    path: '/drain_listeners',
    help: 'drain listeners (?graceful: wait the drain time first)',
    mutates: true,
    handle: (q, ctx) => {
      ctx.drainListeners(q.has('graceful'));
      return text('OK\n');
    },
  },
  {
    path: '/logging',
    help: 'query/change logging levels (?level=L, ?<logger>=L, ?paths=a:L,b:L)',
    mutates: true,
    handle: handleLogging,
  },
  {
    path: '/reopen_logs',
    help: 'reopen access logs (log rotation; as SIGUSR1)',
    mutates: true,
    handle: (_q, ctx) => {
      logger('admin').info('reopening access logs (/reopen_logs)');
      ctx.reopenAccessLogs();
      return text('OK\n');
    },
  },
  {
    path: '/reset_counters',
    help: 'reset all counters to zero',
    mutates: true,
    handle: (_q, ctx) => {
      ctx.resetCounters();
      return text('OK\n');
    },
  },
  ...RUNTIME_ADMIN_HANDLERS,
];
