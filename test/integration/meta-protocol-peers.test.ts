/**
 * courier.meta_protocol_proxy with real peers: the npm Dubbo provider and consumer through the
 * built-in dubbo codec, and MetaRDS from the real `courier xds-server` gRPC server (routes
 * changed under load). The Thrift peers are in meta-protocol-thrift.test.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROUTE_CONFIGURATION } from '../../src/xds/resource-type.js';
import { startXdsServer } from '../../src/xds/server/xds-server.js';
import { ADMIN_YAML, adsDynamicResourcesYaml, metaProxyListenerYaml, staticClusterYaml } from '../support/configs.js';
import { REPO_ROOT, eventually, startCourier, type CourierHandle } from '../support/courier-harness.js';
import { DEMO_SERVICE, OTHER_SERVICE, createConsumer, startProvider, type DubboProvider } from '../support/dubbo-peers.js';
import { DubboRawClient } from '../support/dubbo-raw-client.js';

let p1: DubboProvider;
let p2: DubboProvider;
before(async () => {
  [p1, p2] = await Promise.all([startProvider({ name: 'p1' }), startProvider({ name: 'p2' })]);
});
after(async () => {
  await Promise.all([p1.stop(), p2.stop()]);
});

function listenerYaml(name: string, statPrefix: string, protocol: string, routeSpecifier: string): string {
  return `${metaProxyListenerYaml(name, statPrefix, protocol)}
${routeSpecifier}`;
}

const DUBBO_PROTOCOL = (multiplexing: boolean): string => `{ name: dubbo, codec: { name: courier.meta_protocol.codec.dubbo }, multiplexing: ${multiplexing} }`;

const DUBBO_ROUTES = `          route_config:
            name: dubbo_routes
            routes:
            - match:
                metadata:
                - { name: interface, string_match: { exact: ${OTHER_SERVICE} } }
              route: { cluster: p2 }
            - match:
                metadata:
                - { name: interface, string_match: { exact: ${DEMO_SERVICE} } }
                - { name: method, string_match: { prefix: get } }
              route: { cluster: p2 }
              request_mutation: [ { key: x-mesh, value: courier } ]
              response_mutation: [ { key: x-answered-via, value: courier } ]
            - match:
                metadata: [ { name: interface, string_match: { exact: ${DEMO_SERVICE} } } ]
              route: { cluster: p1 }`;

for (const multiplexing of [false, true]) {
  test(`dubbo codec (multiplexing ${multiplexing}): the npm consumer and provider, routing on interface and method, mutation both ways`, async () => {
    const yaml = `${ADMIN_YAML}
static_resources:
  listeners:
${listenerYaml('dubbo', 'dubbo_meta', DUBBO_PROTOCOL(multiplexing), DUBBO_ROUTES)}
  clusters:
${staticClusterYaml('p1', [p1.port])}
${staticClusterYaml('p2', [p2.port])}`;
    const courier = await startCourier(yaml);
    const port = await courier.listenerPort('dubbo');
    const consumer = createConsumer(`127.0.0.1:${port}`);
    const raw = await DubboRawClient.connect(port);
    try {
      assert.deepEqual(await consumer.whoami(), { res: 'p1', err: null });
      assert.deepEqual(await consumer.whoami(OTHER_SERVICE), { res: 'p2', err: null });
      assert.deepEqual(await consumer.sayHello('ann'), { res: 'Hello ann from p1', err: null });
      // getAttachment goes to p2 with the request mutation added as an attachment.
      assert.deepEqual(await consumer.getAttachment('x-mesh'), { res: 'courier', err: null });
      const many = await Promise.all(Array.from({ length: 50 }, (_, i) => consumer.sayHello(`n${i}`)));
      many.forEach((r, i) => assert.equal(r.res, `Hello n${i} from p1`));
      // The response mutation lands in the response attachments.
      const r = await raw.request({ service: DEMO_SERVICE, method: 'getAttachment', args: ['k'], attachments: { k: 'v' } });
      assert.equal(r.value, 'v');
      assert.equal(r.attachments?.['x-answered-via'], 'courier');
      assert.equal(r.attachments?.['provider'], 'p2');
      const s = await courier.stats();
      assert.equal(s.get('meta_protocol.dubbo_meta.request_twoway'), 55);
      assert.equal(s.get('meta_protocol.dubbo_meta.response_success'), 55);
    } finally {
      consumer.close();
      await raw.close();
      await courier.stop();
    }
  });
}

test('dubbo codec: no route → SERVICE_NOT_FOUND (60), business exceptions counted, heartbeat answered', async () => {
  const yaml = `${ADMIN_YAML}
static_resources:
  listeners:
${listenerYaml('dubbo', 'dubbo_meta', DUBBO_PROTOCOL(true), `          route_config:
            name: only_demo
            routes:
            - match: { metadata: [ { name: interface, string_match: { exact: ${DEMO_SERVICE} } } ] }
              route: { cluster: p1 }`)}
  clusters:
${staticClusterYaml('p1', [p1.port])}`;
  const courier = await startCourier(yaml);
  const raw = await DubboRawClient.connect(await courier.listenerPort('dubbo'));
  try {
    const miss = await raw.request({ service: OTHER_SERVICE, method: 'whoami', args: [] });
    assert.equal(miss.status, 60);
    assert.match(miss.errorMessage ?? '', /no route/);
    const failed = await raw.request({ service: DEMO_SERVICE, method: 'fail', args: ['boom'] });
    assert.ok(failed.exception, 'a business exception comes back');
    const hb = await raw.heartbeat();
    assert.equal(hb.heartbeat, true);
    const s = await courier.stats();
    assert.equal(s.get('meta_protocol.dubbo_meta.response_business_exception'), 1);
    assert.equal(s.get('meta_protocol.dubbo_meta.request_event'), 1);
  } finally {
    await raw.close();
    await courier.stop();
  }
});

test('MetaRDS over ADS: routes changed 50 times under load with 0 failed calls; a NACK keeps the last good routes', async () => {
  const RDS = ROUTE_CONFIGURATION.typeUrl;
  const toyDir = path.join(REPO_ROOT, 'examples', 'toy-codec');
  type Reply = { type: string; meta: Map<string, string>; body: string };
  const { startToyServer } = (await import(pathToFileURL(path.join(toyDir, 'toy-server.mjs')).href)) as {
    startToyServer(o: { name: string }): Promise<{ port: number; close(): Promise<void> }>;
  };
  const { ToyClient } = (await import(pathToFileURL(path.join(toyDir, 'toy-client.mjs')).href)) as {
    ToyClient: { connect(port: number): Promise<{ call(meta: Record<string, string>, body?: string): Promise<Reply>; close(): void }> };
  };
  const [blue, green] = await Promise.all([startToyServer({ name: 'blue' }), startToyServer({ name: 'green' })]);
  // MetaRDS rides on the HTTP RDS type: one virtual host, header matchers are metadata matchers.
  const routes = (rev: number, cluster: string): Record<string, unknown> => ({
    '@type': RDS,
    name: 'toy_routes',
    virtual_hosts: [
      {
        name: 'dummy',
        domains: ['*'],
        routes: [
          {
            match: { prefix: '/', headers: [{ name: 'method', string_match: { exact: 'paint' } }] },
            route: { cluster },
            response_headers_to_add: [{ header: { key: 'rev', value: String(rev) } }],
          },
        ],
      },
    ],
  });
  const xds = await startXdsServer({ port: 0, resources: [routes(1, 'blue')] });
  const yaml = `node: { id: meta-rds-test, cluster: tests }
${ADMIN_YAML}
static_resources:
  listeners:
${listenerYaml('toy', 'toy', `{ name: toy, codec: { name: toy, module: ${JSON.stringify(path.join(toyDir, 'toy-codec.mjs'))} }, multiplexing: true }`, `          rds:
            route_config_name: toy_routes
            config_source: { resource_api_version: V3, ads: {}, initial_fetch_timeout: 5s }`)}
  clusters:
${staticClusterYaml('blue', [blue.port])}
${staticClusterYaml('green', [green.port])}
${staticClusterYaml('xds_cluster', [xds.port])}
${adsDynamicResourcesYaml()}`;
  let courier: CourierHandle | undefined;
  try {
    courier = await startCourier(yaml);
    const port = await courier.listenerPort('toy');
    const probe = await ToyClient.connect(port);
    assert.equal((await probe.call({ method: 'paint' })).meta.get('rev'), '1');
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const loop = async (): Promise<void> => {
      const client = await ToyClient.connect(port);
      while (!stop) {
        const r = await client.call({ method: 'paint' }, 'x');
        if (r.type === 'response' && /^(blue|green): x$/.test(r.body)) ok++;
        else failures.push(`${r.type} ${r.body}`);
      }
      client.close();
    };
    const loops = [loop(), loop(), loop(), loop()];
    const times: number[] = [];
    for (let rev = 2; rev <= 51; rev++) {
      const t0 = performance.now();
      xds.setResources(RDS, [routes(rev, rev % 2 ? 'blue' : 'green')]);
      await eventually(async () => (await probe.call({ method: 'paint' })).meta.get('rev') === String(rev), `rev ${rev}`);
      times.push(performance.now() - t0);
    }
    const bad = routes(99, 'blue');
    (bad['virtual_hosts'] as unknown[]).push({ name: 'second', domains: ['x'], routes: [] });
    xds.setResources(RDS, [bad], 'two-vhosts');
    const nack = await xds.waitFor('nack', undefined, 5000);
    assert.match(nack.errorDetail?.message ?? '', /exactly one virtual host/);
    assert.equal((await probe.call({ method: 'paint' })).meta.get('rev'), '51', 'last good routes kept');
    stop = true;
    await Promise.all(loops);
    probe.close();
    const max = Math.max(...times);
    console.log(`# 50 MetaRDS updates under load: ${ok} calls ok, ${failures.length} failed; max propagation ${max.toFixed(1)} ms`);
    assert.deepEqual(failures, []);
    assert.ok(ok > 50);
    assert.equal(await courier.stat('meta_protocol.toy.rds.toy_routes.config_reload'), 51);
    const dump = JSON.parse((await courier.admin('/config_dump')).body) as { configs: unknown[] };
    assert.match(JSON.stringify(dump), /toy_routes/);
  } finally {
    await courier?.stop();
    await xds.stop();
    await Promise.all([blue.close(), green.close()]);
  }
});
