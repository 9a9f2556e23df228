/**
 * Envoy v3 bootstraps for tests, written as Envoy users write them (YAML). Every listener
 * and the admin bind port 0.
 */
/** The admin block every test bootstrap starts with (port 0: read it from the harness). */
export const ADMIN_YAML = `
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }`;

/** A listener entry on 127.0.0.1:0, up to (not including) its filter_chains. */
export function listenerHeadYaml(name: string): string {
  return `  - name: ${name}
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }`;
}

/** A STATIC cluster entry on 127.0.0.1 ports; `extra` are Cluster fields indented by 4 spaces. */
export function staticClusterYaml(name: string, ports: readonly number[], extra = ''): string {
  return `  - name: ${name}
    connect_timeout: 1s
    type: STATIC${extra ? `\n${extra}` : ''}
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
${ports.map((p) => `        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } }`).join('\n')}`;
}

/** Extra fields for hcmHeadYaml: Listener fields (4 spaces in), HttpConnectionManager fields (10 spaces in). */
export interface HcmHeadExtra {
  listener?: string;
  hcm?: string;
}

/**
 * A bootstrap's start up to an HTTP connection manager's route_config key: admin, one listener
 * "http", the HCM with a file access log in `logFormat` and the router filter. The caller
 * writes the route_config body (indented by 12 spaces) and the clusters.
 */
export function hcmHeadYaml(statPrefix: string, logPath: string, logFormat: string, extra: HcmHeadExtra = {}): string {
  return `${ADMIN_YAML}
static_resources:
  listeners:
${listenerHeadYaml('http')}${extra.listener ? `\n${extra.listener}` : ''}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${statPrefix}
          codec_type: HTTP1${extra.hcm ? `\n${extra.hcm}` : ''}
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format:
                text_format_source:
                  inline_string: ${JSON.stringify(logFormat)}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          route_config:`;
}

/** A route_config body (for hcmHeadYaml) with one virtual host that sends every path to `cluster`. */
export function catchAllVirtualHostYaml(cluster: string): string {
  return `            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: ${cluster} }`;
}

export interface TcpProxyTestConfig {
  /** Upstream endpoints of cluster "backend" (127.0.0.1 ports). */
  ports: number[];
  /** Extra TcpProxy fields, as YAML lines indented by 10 spaces. */
  tcpProxyExtra?: string;
  /** Extra Cluster fields, as YAML lines indented by 4 spaces. */
  clusterExtra?: string;
  /** Listener per_connection_buffer_limit_bytes. */
  listenerBufferLimit?: number;
  clusterName?: string;
  /** tcp_proxy cluster (defaults to the cluster's name). */
  routeTo?: string;
  accessLogPath?: string;
  accessLogFormat?: string;
}

export function tcpProxyYaml(c: TcpProxyTestConfig): string {
  const cluster = c.clusterName ?? 'backend';
  const accessLog = c.accessLogPath
    ? `
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${c.accessLogPath}${
                c.accessLogFormat !== undefined
                  ? `
              log_format:
                text_format_source:
                  inline_string: ${JSON.stringify(c.accessLogFormat)}`
                  : ''
              }`
    : '';
  return `${ADMIN_YAML}
static_resources:
  listeners:
${listenerHeadYaml('tcp')}${
      c.listenerBufferLimit !== undefined ? `\n    per_connection_buffer_limit_bytes: ${c.listenerBufferLimit}` : ''
    }
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp_stats
          cluster: ${c.routeTo ?? cluster}${c.tcpProxyExtra ? `\n${c.tcpProxyExtra}` : ''}${accessLog}
  clusters:
${staticClusterYaml(cluster, c.ports, c.clusterExtra)}
`;
}

/**
 * A listener entry running courier.meta_protocol_proxy, up to and including `protocol`
 * (a YAML flow mapping); the caller appends route_config or rds and the rest, indented by 10.
 */
export function metaProxyListenerYaml(name: string, statPrefix: string, protocol: string): string {
  return `${listenerHeadYaml(name)}
    filter_chains:
    - filters:
      - name: courier.meta_protocol_proxy
        typed_config:
          "@type": type.googleapis.com/courier.meta_protocol_proxy.v1.MetaProtocolProxy
          stat_prefix: ${statPrefix}
          protocol: ${protocol}`;
}

/** dynamic_resources with ADS over gRPC to the static cluster `cluster` (the bootstrap's tail). */
export function adsDynamicResourcesYaml(cluster = 'xds_cluster'): string {
  return `dynamic_resources:
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services: [ { envoy_grpc: { cluster_name: ${cluster} } } ]`;
}
