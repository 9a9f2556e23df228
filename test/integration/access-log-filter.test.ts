/**
 * Access log filters end to end, in a real `courier` with two worker processes: a busy HTTP
 * listener that logs only its failures (status_code_filter >= 500), a second access log on it
 * sampled by a runtime_filter whose key is changed through /runtime_modify, and a tcp_proxy
 * that logs only connections with an upstream failure flag. The test reads the log files as a
 * user would (lines, after the flush interval).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { eventually, sleep, startCourier, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import { ADMIN_YAML, listenerHeadYaml, staticClusterYaml } from '../support/configs.js';
import { closedPort, connect, echoServer, readAll, type Peer } from '../support/peers.js';

let dir: string;
let backend: http.Server;
let backendPort: number;
let echo: Peer;
let courier: CourierHandle;
let httpPort: number;
let tcpOkPort: number;
let tcpDownPort: number;

const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : []);

function get(port: number, p: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

function fileLog(file: string, format: string, filter: string): string {
  return `
          - name: envoy.access_loggers.file
            filter:
${filter}
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${file}
              log_format: { text_format_source: { inline_string: ${JSON.stringify(format)} } }`;
}

function tcpListener(name: string, cluster: string, logFile: string): string {
  return `${listenerHeadYaml(name)}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: ${name}
          cluster: ${cluster}
          access_log:${fileLog(logFile, '%RESPONSE_FLAGS% %UPSTREAM_CLUSTER%\n', `              response_flag_filter: { flags: [UF, UH] }`)}`;
}

before(async () => {
  dir = tmpDir();
  backend = http.createServer((req, res) => {
    const status = Number(/^\/status\/(\d+)/.exec(req.url ?? '')?.[1] ?? 200);
    res.statusCode = status;
    res.end(String(status));
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  backendPort = (backend.address() as { port: number }).port;
  echo = await echoServer();
  const down = await closedPort();
  const yaml = `${ADMIN_YAML}
layered_runtime:
  layers:
  - name: admin
    admin_layer: {}
static_resources:
  listeners:
${listenerHeadYaml('http')}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: busy
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
          access_log:${fileLog(path.join(dir, 'errors.log'), '%RESPONSE_CODE% %REQ(:PATH)%\n', `              status_code_filter:
                comparison: { op: GE, value: { default_value: 500, runtime_key: access_log.errors.status } }`)}${fileLog(
            path.join(dir, 'sampled.log'),
            '%REQ(:PATH)%\n',
            `              and_filter:
                filters:
                - runtime_filter: { runtime_key: access_log.sampled, percent_sampled: { numerator: 0 } }
                - not_health_check_filter: {}`,
          )}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: / }
                route: { cluster: backend }
${tcpListener('tcp_ok', 'echo', path.join(dir, 'tcp.log'))}
${tcpListener('tcp_down', 'down', path.join(dir, 'tcp.log'))}
  clusters:
${staticClusterYaml('backend', [backendPort])}
${staticClusterYaml('echo', [echo.port])}
${staticClusterYaml('down', [down])}
`;
  courier = await startCourier(yaml, { processes: 2 });
  httpPort = await courier.listenerPort('http');
  tcpOkPort = await courier.listenerPort('tcp_ok');
  tcpDownPort = await courier.listenerPort('tcp_down');
});

after(async () => {
  await courier?.stop();
  await new Promise<void>((r) => backend?.close(() => r()));
  await echo?.close();
});

test('status_code_filter >= 500 on a busy listener logs only the failures', async () => {
  const paths: string[] = [];
  for (let i = 0; i < 60; i++) paths.push(i % 10 === 3 ? `/status/503?i=${i}` : i % 10 === 7 ? `/status/500?i=${i}` : `/ok?i=${i}`);
  const statuses = await Promise.all(paths.map((p) => get(httpPort, p)));
  assert.equal(statuses.filter((s) => s >= 500).length, 12);
  const file = path.join(dir, 'errors.log');
  // Both workers flush within their 1 s interval.
  await eventually(() => lines(file).length >= 12, '12 logged failures');
  await sleep(1200);
  const logged = lines(file).sort();
  const expected = paths.filter((p) => p.startsWith('/status/')).map((p) => `${p.slice(8, 11)} ${p}`).sort();
  assert.deepEqual(logged, expected);
  assert.equal(await courier.stat('http.busy.downstream_rq_completed'), 60);
});

test('the comparison value follows its runtime_key: errors.status=404 logs 404s too', async () => {
  assert.equal((await courier.admin('/runtime_modify?access_log.errors.status=404', 'POST')).status, 200);
  const file = path.join(dir, 'errors.log');
  const before = lines(file).length;
  assert.equal(await get(httpPort, '/status/404?x=1'), 404);
  assert.equal(await get(httpPort, '/status/200?x=2'), 200);
  await eventually(() => lines(file).length > before, 'the 404 line');
  await sleep(1200);
  assert.deepEqual(lines(file).slice(before), ['404 /status/404?x=1']);
  await courier.admin('/runtime_modify?access_log.errors.status=', 'POST');
});

test('runtime_filter samples nothing at 0% and everything once its key is 100', async () => {
  const file = path.join(dir, 'sampled.log');
  for (let i = 0; i < 10; i++) await get(httpPort, `/unsampled/${i}`);
  assert.equal((await courier.admin('/runtime_modify?access_log.sampled=100', 'POST')).status, 200);
  for (let i = 0; i < 10; i++) await get(httpPort, `/sampled/${i}`);
  await eventually(() => lines(file).length >= 10, '10 sampled lines');
  await sleep(1200);
  assert.deepEqual(lines(file).sort(), Array.from({ length: 10 }, (_, i) => `/sampled/${i}`).sort());
});

test('tcp_proxy: response_flag_filter [UF, UH] logs the failed connection, not the good one', async () => {
  const ok = await connect(tcpOkPort);
  ok.end('ping');
  assert.equal((await readAll(ok)).toString(), 'ping');
  const failed = await connect(tcpDownPort);
  await readAll(failed);
  const file = path.join(dir, 'tcp.log');
  await eventually(() => lines(file).length >= 1, 'the failure line');
  await sleep(1200);
  assert.deepEqual(lines(file), ['UF,URX down']);
});
