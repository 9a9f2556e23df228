/**
 * /stats/prometheus after HTTP traffic through a real `courier` with two worker processes:
 * Envoy's metric names and labels from the default tag extraction, custom stats_tags, and
 * the text checked by promtool (Debian's `prometheus` package; fetched if missing, else the
 * promtool part is skipped with the reason).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { httpRequest, startCourier } from '../support/courier-harness.js';
import { hcmHeadYaml, staticClusterYaml, catchAllVirtualHostYaml } from '../support/configs.js';
import { debianTool } from '../support/debian-tool.js';

async function webServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    res.statusCode = req.url === '/missing' ? 404 : 200;
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function yaml(webPort: number, statsConfig = ''): string {
  return `${hcmHeadYaml('ingress', '/dev/null', '%RESPONSE_CODE%\n')}
${catchAllVirtualHostYaml('backend')}
  clusters:
${staticClusterYaml('backend', [webPort])}
${statsConfig}`;
}

/**
 * Lint findings promtool reports for Envoy's own metric names (Envoy prints no # HELP, names
 * counters without `_total` and times in milliseconds): Envoy's output has them too. A parse
 * error, a duplicate TYPE or a malformed histogram would show as something else.
 */
const ENVOY_NAMING_LINTS = [
  / no help text$/,
  / counter metrics should have "_total" suffix$/,
  / non-counter metrics should not have "_total" suffix$/, // gauges such as membership_total
  / metric names should not contain abbreviated units$/,
  / use base unit "\w+" instead of "\w+"$/,
];

test('/stats/prometheus: Envoy names and labels, histograms with Envoy buckets, accepted by promtool', async (t) => {
  const web = await webServer();
  const courier = await startCourier(yaml(web.port), { processes: 2 });
  try {
    const port = await courier.listenerPort('http');
    for (let i = 0; i < 4; i++) assert.equal((await httpRequest(port, '/')).status, 200);
    assert.equal((await httpRequest(port, '/missing')).status, 404);
    const { status, body } = await courier.admin('/stats/prometheus');
    assert.equal(status, 200);
    const has = (line: string): void => assert.ok(body.split('\n').includes(line), `missing: ${line}`);
    has('# TYPE envoy_http_downstream_rq_xx counter');
    has('envoy_http_downstream_rq_xx{envoy_response_code_class="2",envoy_http_conn_manager_prefix="ingress"} 4');
    has('envoy_http_downstream_rq_xx{envoy_response_code_class="4",envoy_http_conn_manager_prefix="ingress"} 1');
    has('envoy_http_downstream_rq_total{envoy_http_conn_manager_prefix="ingress"} 5');
    assert.match(body, /^envoy_cluster_upstream_cx_total\{envoy_cluster_name="backend"\} [1-5]$/m);
    has('# TYPE envoy_http_downstream_rq_time histogram');
    assert.match(body, /^envoy_http_downstream_rq_time_bucket\{envoy_http_conn_manager_prefix="ingress",le="0\.5"\} [0-5]$/m);
    has('envoy_http_downstream_rq_time_bucket{envoy_http_conn_manager_prefix="ingress",le="3600000"} 5');
    has('envoy_http_downstream_rq_time_bucket{envoy_http_conn_manager_prefix="ingress",le="+Inf"} 5');
    has('envoy_http_downstream_rq_time_count{envoy_http_conn_manager_prefix="ingress"} 5');
    assert.match(body, /^envoy_http_downstream_rq_time_sum\{envoy_http_conn_manager_prefix="ingress"\} \d+(\.\d+)?$/m);
    assert.doesNotMatch(body, /^# HELP/m); // Envoy prints none

    const tool = debianTool('promtool', 'prometheus');
    if ('skip' in tool) {
      t.skip(`promtool check skipped: ${tool.skip}`);
      return;
    }
    const check = spawnSync(tool.path, ['check', 'metrics'], { input: body, encoding: 'utf8', timeout: 30000 });
    // Exit 0: clean; 3: lint findings only. Anything else (1: "error while linting") is a parse error.
    assert.ok(check.status === 0 || check.status === 3, `promtool exited ${check.status}: ${check.stderr}`);
    assert.doesNotMatch(check.stderr, /error while linting/);
    const findings = check.stderr.split('\n').filter((l) => l !== '');
    const unexpected = findings.filter((l) => !ENVOY_NAMING_LINTS.some((re) => re.test(l)));
    assert.deepEqual(unexpected, [], 'promtool findings beyond Envoy’s own naming');
  } finally {
    await courier.stop();
    await web.close();
  }
});

test('stats_config: use_all_default_tags false with a default named, a custom RE2 regex and a fixed value', async () => {
  const web = await webServer();
  const statsConfig = `stats_config:
  use_all_default_tags: false
  stats_tags:
  - tag_name: envoy.cluster_name
  - tag_name: code_class
    regex: "_rq_((\\\\d)xx)$"
  - tag_name: zone
    fixed_value: eu-1`;
  const courier = await startCourier(yaml(web.port, statsConfig));
  try {
    const port = await courier.listenerPort('http');
    assert.equal((await httpRequest(port, '/')).status, 200);
    const { body } = await courier.admin('/stats/prometheus');
    const lines = body.split('\n');
    // Only the configured tags: the HCM prefix stays in the name; the fixed tag comes first.
    assert.ok(lines.includes('envoy_http_ingress_downstream_rq_{zone="eu-1",code_class="2"} 1'), body);
    assert.ok(lines.includes('envoy_cluster_upstream_cx_total{zone="eu-1",envoy_cluster_name="backend"} 1'), body);
    assert.ok(lines.includes('envoy_server_concurrency{zone="eu-1"} 1'), body);
  } finally {
    await courier.stop();
    await web.close();
  }
});
