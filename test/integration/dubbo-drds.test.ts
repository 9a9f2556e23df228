/**
 * dubbo_proxy's drds: Dubbo routes (a dubbo_proxy.v3.MultipleRouteConfiguration) over ADS from
 * the real `courier xds-server`, through the same route-config provider machinery as HTTP RDS,
 * with the npm Dubbo provider and consumer on either side.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DUBBO_MULTIPLE_ROUTE_CONFIGURATION } from '../../src/xds/resource-type.js';
import { startXdsServer } from '../../src/xds/server/xds-server.js';
import { ADMIN_YAML, adsDynamicResourcesYaml, listenerHeadYaml, staticClusterYaml } from '../support/configs.js';
import { eventually, startCourier } from '../support/courier-harness.js';
import { DEMO_SERVICE, createConsumer, startProvider, type DubboProvider } from '../support/dubbo-peers.js';

const DRDS = DUBBO_MULTIPLE_ROUTE_CONFIGURATION.typeUrl;

let p1: DubboProvider;
let p2: DubboProvider;
before(async () => {
  [p1, p2] = await Promise.all([startProvider({ name: 'p1' }), startProvider({ name: 'p2' })]);
});
after(async () => {
  await Promise.all([p1.stop(), p2.stop()]);
});

function routes(cluster: string, iface = DEMO_SERVICE): Record<string, unknown> {
  return {
    '@type': DRDS,
    name: 'dubbo_routes',
    route_config: [{ name: 'demo', interface: iface, routes: [{ match: { method: { name: { safe_regex: { regex: '.*' } } } }, route: { cluster } }] }],
  };
}

test('drds over ADS: routes arrive, change without dropping calls, a NACK keeps the last good ones', async () => {
  const xds = await startXdsServer({ port: 0, resources: [routes('p1')] });
  const yaml = `node: { id: drds-test, cluster: tests }
${ADMIN_YAML}
static_resources:
  listeners:
${listenerHeadYaml('dubbo')}
    filter_chains:
    - filters:
      - name: envoy.filters.network.dubbo_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.dubbo_proxy.v3.DubboProxy
          stat_prefix: dubbo_stats
          drds:
            route_config_name: dubbo_routes
            config_source: { resource_api_version: V3, ads: {}, initial_fetch_timeout: 5s }
  clusters:
${staticClusterYaml('p1', [p1.port])}
${staticClusterYaml('p2', [p2.port])}
${staticClusterYaml('xds_cluster', [xds.port])}
${adsDynamicResourcesYaml()}`;
  const courier = await startCourier(yaml);
  const consumer = createConsumer(`127.0.0.1:${await courier.listenerPort('dubbo')}`);
  try {
    assert.deepEqual(await consumer.whoami(), { res: 'p1', err: null });
    let stop = false;
    const failures: string[] = [];
    let ok = 0;
    const load = (async () => {
      while (!stop) {
        const r = await consumer.sayHello('x');
        if (r.err === null && /^Hello x from p[12]$/.test(String(r.res))) ok++;
        else failures.push(String(r.err));
      }
    })();
    for (let i = 0; i < 10; i++) {
      const target = i % 2 === 0 ? 'p2' : 'p1';
      xds.setResources(DRDS, [routes(target)]);
      await eventually(async () => (await consumer.whoami()).res === target, `routes to ${target}`);
    }
    xds.setResources(DRDS, [routes('p2', '')], 'empty-interface');
    const nack = await xds.waitFor('nack', undefined, 5000);
    assert.match(nack.errorDetail?.message ?? '', /interface must not be empty/);
    assert.deepEqual(await consumer.whoami(), { res: 'p1', err: null }, 'the last good routes stay');
    stop = true;
    await load;
    assert.deepEqual(failures, []);
    assert.ok(ok > 10);
    assert.equal(await courier.stat('dubbo.dubbo_stats.drds.dubbo_routes.config_reload'), 11);
    assert.equal(await courier.stat('dubbo.dubbo_stats.drds.dubbo_routes.update_rejected'), 1);
  } finally {
    consumer.close();
    await courier.stop();
    await xds.stop();
  }
});
