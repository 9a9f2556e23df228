/**
 * The HTTP connection manager's internal config (plain data, main → workers) and its stats
 * (http.<stat_prefix>.*, Envoy's names). Parsing lives in the extension's config factory.
 */
import type { Counter, Gauge, Histogram, StatsScope } from '../../api/stats.js';
import type { AccessLogConfig } from '../access-log/access-log-config.js';
import type { RouteConfig } from '../router/route-config.js';
import type { ForwardingConfig } from './forwarded-headers.js';
import type { StatusClass } from './http-status.js';
import type { PathNormalizationConfig } from './path-normalizer.js';
import type { RequestIdConfig } from './request-id.js';
import type { ServerHeaderConfig } from './server-header.js';
import type { HeadersWithUnderscoresAction } from './underscore-headers.js';

/**
 * Where an HCM's routes come from: a static inline route_config, compiled once per worker
 * snapshot, or an RDS provider on main, read from the worker's `routes` slot under `key`.
 */
export type HcmRoutesConfig =
  | { kind: 'static'; config: RouteConfig }
  | { kind: 'rds'; key: string; name: string };

/** One HttpConnectionManager.UpgradeConfig: an upgrade type (lower-cased) and whether it is on. */
export interface HcmUpgradeConfig {
  type: string;
  enabled: boolean;
}

/**
 * How a request is taken in before routing (parsed by the extension's request-options.ts):
 * forwarding headers, x-request-id, the `server` header, path normalisation, request_timeout,
 * max_request_headers_kb.
 */
export interface HcmRequestOptions {
  readonly forwarding: ForwardingConfig;
  readonly requestId: RequestIdConfig;
  readonly serverHeader: ServerHeaderConfig;
  readonly pathNormalization: PathNormalizationConfig;
  /** request_timeout in ms; 0 = none (Envoy's default). */
  readonly requestTimeoutMs: number;
  /** max_request_headers_kb, in bytes (Envoy's default 60 KiB). */
  readonly maxRequestHeaderBytes: number;
}

export interface HcmConfig {
  statPrefix: string;
  request: HcmRequestOptions;
  routes: HcmRoutesConfig;
  accessLogs: AccessLogConfig[];
  /** upgrade_configs, in order; an upgrade type not listed is refused unless a route enables it. */
  upgrades: HcmUpgradeConfig[];
  /** http_protocol_options.accept_http_10 (Envoy's default false: HTTP/1.0 gets 426). */
  acceptHttp10: boolean;
  /** http_protocol_options.default_host_for_http_10; '' = none (a 1.0 request without Host gets 400). */
  defaultHostForHttp10: string;
  /** http_protocol_options.enable_trailers (Envoy's default false: trailers are dropped). */
  enableTrailers: boolean;
  /** http_protocol_options.allow_custom_methods (Envoy's default false: unknown methods get 400). */
  allowCustomMethods: boolean;
  /** stream_idle_timeout in ms (Envoy's default 5 minutes); 0 disables it. */
  streamIdleTimeoutMs: number;
  /** request_headers_timeout in ms (Courier's default DEFAULT_REQUEST_HEADERS_TIMEOUT_MS; Envoy's: none); 0 disables it. */
  requestHeadersTimeoutMs: number;
  /** common_http_protocol_options.idle_timeout in ms (Envoy's default 1 hour); 0 disables it. */
  idleTimeoutMs: number;
  /** common_http_protocol_options.max_connection_duration in ms; 0 = none (Envoy's default). */
  maxConnectionDurationMs: number;
  /** common_http_protocol_options.max_requests_per_connection; 0 = no limit (Envoy's default). */
  maxRequestsPerConnection: number;
  /** common_http_protocol_options.max_stream_duration in ms; 0 = none (Envoy's default). */
  maxStreamDurationMs: number;
  /** common_http_protocol_options.max_headers_count (Envoy's default 100; more is 431). */
  maxHeadersCount: number;
  /** common_http_protocol_options.headers_with_underscores_action (Envoy's default ALLOW). */
  headersWithUnderscoresAction: HeadersWithUnderscoresAction;
}

/** Envoy's default stream_idle_timeout. */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000;
/**
 * request_headers_timeout when the config has none. Envoy has none by default (only
 * stream_idle_timeout, 5 minutes, bounds a slow head); Courier bounds a request head to 60 s,
 * Node's http.Server headersTimeout, so that a slowloris client is closed even when the config
 * says nothing. `request_headers_timeout: 0s` turns it off, as in Envoy.
 */
export const DEFAULT_REQUEST_HEADERS_TIMEOUT_MS = 60_000;
/** Envoy's default common_http_protocol_options.idle_timeout for downstream connections. */
export const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;

export interface HcmStats {
  readonly downstream_cx_total: Counter;
  readonly downstream_cx_active: Gauge;
  readonly downstream_cx_http1_total: Counter;
  readonly downstream_cx_http1_active: Gauge;
  /** Upgrades allowed by the config (counted when allowed, as Envoy does, whatever upstream answers). */
  readonly downstream_cx_upgrades_total: Counter;
  readonly downstream_cx_upgrades_active: Gauge;
  readonly downstream_cx_protocol_error: Counter;
  readonly downstream_cx_destroy: Counter;
  /** Connections closed because their listener drained (Envoy's name). */
  readonly downstream_cx_drain_close: Counter;
  /** common_http_protocol_options.idle_timeout closed the connection. */
  readonly downstream_cx_idle_timeout: Counter;
  /** max_connection_duration was reached (the connection drains, then closes). */
  readonly downstream_cx_max_duration_reached: Counter;
  /** max_requests_per_connection was reached (the last response says connection: close). */
  readonly downstream_cx_max_requests_reached: Counter;
  /** Overload action disable_http_keepalive closed the connection after a response. */
  readonly downstream_cx_overload_disable_keepalive: Counter;
  /** Overload action stop_accepting_requests answered 503. */
  readonly downstream_rq_overload_close: Counter;
  readonly downstream_cx_rx_bytes_total: Counter;
  readonly downstream_cx_tx_bytes_total: Counter;
  readonly downstream_rq_total: Counter;
  readonly downstream_rq_http1_total: Counter;
  readonly downstream_rq_active: Gauge;
  readonly downstream_rq_completed: Counter;
  readonly downstream_rq_time: Histogram;
  /** request_timeout fired (408). */
  readonly downstream_rq_timeout: Counter;
  /** common_http_protocol_options.max_stream_duration fired (408, or a reset after the response started). */
  readonly downstream_rq_max_duration_reached: Counter;
  /** stream_idle_timeout fired. */
  readonly downstream_rq_idle_timeout: Counter;
  /** request_headers_timeout fired (408). */
  readonly downstream_rq_header_timeout: Counter;
  /** normalize_path or path_with_escaped_slashes_action refused the path (400). */
  readonly downstream_rq_failed_path_normalization: Counter;
  /** path_with_escaped_slashes_action UNESCAPE_AND_REDIRECT redirected the request (307). */
  readonly downstream_rq_redirected_with_normalized_path: Counter;
  /** An upgrade request refused (403) because neither the HCM nor the route enables its type. */
  readonly downstream_rq_ws_on_non_ws_route: Counter;
  readonly no_route: Counter;
  readonly no_cluster: Counter;
  readonly rq_direct_response: Counter;
  readonly rq_redirect: Counter;
  readonly rq_total: Counter;
  /** downstream_rq_1xx … 5xx by class. */
  readonly byClass: Readonly<Record<StatusClass, Counter>>;
}

export function createHcmStats(scope: StatsScope): HcmStats {
  const c = (n: string): Counter => scope.counter(n);
  return {
    downstream_cx_total: c('downstream_cx_total'),
    downstream_cx_active: scope.gauge('downstream_cx_active'),
    downstream_cx_http1_total: c('downstream_cx_http1_total'),
    downstream_cx_http1_active: scope.gauge('downstream_cx_http1_active'),
    downstream_cx_upgrades_total: c('downstream_cx_upgrades_total'),
    downstream_cx_upgrades_active: scope.gauge('downstream_cx_upgrades_active'),
    downstream_cx_protocol_error: c('downstream_cx_protocol_error'),
    downstream_cx_destroy: c('downstream_cx_destroy'),
    downstream_cx_drain_close: c('downstream_cx_drain_close'),
    downstream_cx_idle_timeout: c('downstream_cx_idle_timeout'),
    downstream_cx_max_duration_reached: c('downstream_cx_max_duration_reached'),
    downstream_cx_max_requests_reached: c('downstream_cx_max_requests_reached'),
    downstream_cx_overload_disable_keepalive: c('downstream_cx_overload_disable_keepalive'),
    downstream_rq_overload_close: c('downstream_rq_overload_close'),
    downstream_cx_rx_bytes_total: c('downstream_cx_rx_bytes_total'),
    downstream_cx_tx_bytes_total: c('downstream_cx_tx_bytes_total'),
    downstream_rq_total: c('downstream_rq_total'),
    downstream_rq_http1_total: c('downstream_rq_http1_total'),
    downstream_rq_active: scope.gauge('downstream_rq_active'),
    downstream_rq_completed: c('downstream_rq_completed'),
    downstream_rq_time: scope.histogram('downstream_rq_time', 'milliseconds'),
    downstream_rq_timeout: c('downstream_rq_timeout'),
    downstream_rq_max_duration_reached: c('downstream_rq_max_duration_reached'),
    downstream_rq_idle_timeout: c('downstream_rq_idle_timeout'),
    downstream_rq_header_timeout: c('downstream_rq_header_timeout'),
    downstream_rq_failed_path_normalization: c('downstream_rq_failed_path_normalization'),
    downstream_rq_redirected_with_normalized_path: c('downstream_rq_redirected_with_normalized_path'),
    downstream_rq_ws_on_non_ws_route: c('downstream_rq_ws_on_non_ws_route'),
    no_route: c('no_route'),
    no_cluster: c('no_cluster'),
    rq_direct_response: c('rq_direct_response'),
    rq_redirect: c('rq_redirect'),
    rq_total: c('rq_total'),
    byClass: {
      '1xx': c('downstream_rq_1xx'),
      '2xx': c('downstream_rq_2xx'),
      '3xx': c('downstream_rq_3xx'),
      '4xx': c('downstream_rq_4xx'),
      '5xx': c('downstream_rq_5xx'),
    },
  };
}

/** Envoy's HTTP/1 codec stats, rooted at `http1.` (shared by every HCM, as in Envoy). */
export interface Http1CodecStats {
  readonly dropped_headers_with_underscores: Counter;
  readonly requests_rejected_with_underscores_in_headers: Counter;
}

export function createHttp1CodecStats(root: StatsScope): Http1CodecStats {
  const scope = root.scope('http1');
  return {
    dropped_headers_with_underscores: scope.counter('dropped_headers_with_underscores'),
    requests_rejected_with_underscores_in_headers: scope.counter('requests_rejected_with_underscores_in_headers'),
  };
}
