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
