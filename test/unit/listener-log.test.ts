/**
 * The per-listener info line (src/server/listener-log.ts) for the filters real configs use:
 * what an operator reads to know where a listener sends traffic. Configs are real bootstraps,
 * loaded as `courier` loads them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadBootstrapText } from '../../src/config/bootstrap.js';
import { networkFilterRegistry } from '../../src/extensions/all.js';
import { describeListener } from '../../src/server/listener-log.js';
import { ADMIN_YAML, hcmHeadYaml, staticClusterYaml, tcpProxyYaml } from '../support/configs.js';

function describeAll(yaml: string): string[] {
  return loadBootstrapText(yaml, 'test.yaml', networkFilterRegistry()).config.listeners.map(describeListener);
}

test('tcp_proxy: its cluster; weighted: every cluster', () => {
  assert.deepEqual(describeAll(tcpProxyYaml({ ports: [9000] })), [
    `'tcp' on 127.0.0.1:0 (port chosen by the OS: see /listeners): envoy.filters.network.tcp_proxy (cluster(s): backend)`,
  ]);
  const weighted = tcpProxyYaml({ ports: [9000], routeTo: 'x' }).replace(
    'cluster: x',
    'weighted_clusters: { clusters: [ { name: backend, weight: 1 }, { name: backend, weight: 2 } ] }',
  );
  assert.match(describeAll(weighted)[0]!, /tcp_proxy \(cluster\(s\): backend\)$/);
});

test('HTTP connection manager: the clusters its inline routes name, or its RDS route config', () => {
  const inline = `${hcmHeadYaml('ingress', '/dev/null', '%RESPONSE_CODE%\n')}
            name: local
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/api" }
                route: { cluster: api }
              - match: { prefix: "/" }
                route: { weighted_clusters: { clusters: [ { name: web, weight: 1 }, { name: api, weight: 1 } ] } }
  clusters:
${staticClusterYaml('api', [9001])}
${staticClusterYaml('web', [9002])}
`;
  assert.match(describeAll(inline)[0]!, /^'http' on 127\.0\.0\.1:0 .*: envoy\.filters\.network\.http_connection_manager \(routes to cluster\(s\): api, web\)$/);

  const rds = `${ADMIN_YAML}
static_resources:
  listeners:
  - name: ingress
    address: { socket_address: { address: 0.0.0.0, port_value: 10000 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          rds:
            route_config_name: local_route
            config_source: { path_config_source: { path: /etc/courier/rds.yaml } }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
`;
  assert.deepEqual(describeAll(rds), [`'ingress' on 0.0.0.0:10000: envoy.filters.network.http_connection_manager (RDS route config 'local_route')`]);
});
