import { ADMIN_YAML, listenerHeadYaml, staticClusterYaml } from './configs.js';

/**
 * Envoy v3 bootstraps with dubbo_proxy for tests. Providers are clusters named after them.
 */
export interface DubboTestConfig {
  /** Cluster name → provider ports. */
  clusters: Record<string, number[]>;
  /** The DubboProxy route_config list, as YAML lines indented by 10 spaces. */
  routeConfig: string;
  /** Extra Cluster fields for every cluster, as YAML lines indented by 4 spaces. */
  clusterExtra?: string;
  upstreamMode?: 'EXCLUSIVE' | 'MULTIPLEXED';
  requestTimeout?: string;
}

export function dubboYaml(c: DubboTestConfig): string {
  const options =
    c.upstreamMode || c.requestTimeout
      ? `
    typed_extension_protocol_options:
      envoy.filters.network.dubbo_proxy:
        "@type": type.googleapis.com/courier.extensions.filters.network.dubbo_proxy.v1.DubboProtocolOptions${
          c.upstreamMode ? `\n        upstream_mode: ${c.upstreamMode}` : ''
        }${c.requestTimeout ? `\n        request_timeout: ${c.requestTimeout}` : ''}`
      : '';
  const clusters = Object.entries(c.clusters)
    .map(([name, ports]) => staticClusterYaml(name, ports, `${c.clusterExtra ?? ''}${options}`.replace(/^\n/, '')))
    .join('\n');
  return `${ADMIN_YAML}
static_resources:
  listeners:
${listenerHeadYaml('dubbo')}
    filter_chains:
    - filters:
      - name: envoy.filters.network.dubbo_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.dubbo_proxy.v3.DubboProxy
          stat_prefix: dubbo_stats
          route_config:
${c.routeConfig}
  clusters:
${clusters}
`;
}

/** A route config sending every method of every interface to `cluster`. */
export function allTo(cluster: string): string {
  return `          - name: all
            interface: "*"
            routes:
            - match: { method: { name: { safe_regex: { regex: ".*" } } } }
              route: { cluster: ${cluster} }`;
}
