/**
 * Apache Thrift through courier.meta_protocol_proxy with the built-in thrift codec, against
 * the npm `thrift` library's own client and server (test/support/thrift-peers.ts): routing by
 * method, every transport and protocol pair, mirroring, mutation carried in THeader headers,
 * TApplicationException local replies, oneway calls, business exceptions and multiplexing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_YAML, metaProxyListenerYaml, staticClusterYaml } from '../support/configs.js';
import { eventually, startCourier, type CourierHandle } from '../support/courier-harness.js';
import {
  createThriftClient,
  startThriftServer,
  type ThriftClient,
  type ThriftPeerProtocol,
  type ThriftPeerTransport,
  type ThriftServer,
} from '../support/thrift-peers.js';

const PAIRS: Array<[ThriftPeerTransport, ThriftPeerProtocol]> = [
  ['framed', 'binary'],
  ['unframed', 'binary'],
  ['framed', 'compact'],
  ['unframed', 'compact'],
  ['header', 'binary'],
];

function yaml(routes: string, clusters: Record<string, number>, multiplexing: boolean): string {
  const protocol = `{ name: thrift, codec: { name: courier.meta_protocol.codec.thrift }, multiplexing: ${multiplexing} }`;
  return `${ADMIN_YAML}
static_resources:
  listeners:
${metaProxyListenerYaml('thrift', 'thrift_in', protocol)}
          route_config:
            name: thrift_routes
            routes:
${routes}
  clusters:
${Object.entries(clusters).map(([name, port]) => staticClusterYaml(name, [port])).join('\n')}`;
}

const ROUTES = `            - match: { metadata: [ { name: method, string_match: { exact: whoami } } ] }
              route: { cluster: b }
            - match: { metadata: [ { name: method, string_match: { exact: headers } } ] }
              route: { cluster: a }
              request_mutation: [ { key: x-mesh, value: courier } ]
            - match: { metadata: [ { name: method, string_match: { safe_regex: { regex: "echo|add|fire|bulk|fail|sleep|ping" } } } ] }
              route:
                cluster: a
                request_mirror_policies: [ { cluster: shadow } ]`;

for (const [transport, protocol] of PAIRS) {
  test(`thrift ${transport}/${protocol}: routing by method, mirroring, oneway, exceptions, unknown method`, async () => {
    const peer = { transport, protocol };
    const [a, b, shadow] = await Promise.all(['a', 'b', 'shadow'].map((name) => startThriftServer({ name, ...peer })));
    let courier: CourierHandle | undefined;
    let client: ThriftClient | undefined;
    try {
      courier = await startCourier(yaml(ROUTES, { a: a.port, b: b.port, shadow: shadow!.port }, protocol === 'binary'));
      client = await createThriftClient(await courier.listenerPort('thrift'), peer);
      assert.equal(await client.whoami(), 'b');
      assert.equal(await client.echo('hello'), 'hello');
      assert.equal(await client.add(2, 40), 42);
      const payload = await client.bulk({ name: 'p', count: 3, tags: ['x', 'y'], children: [{ name: 'child' }] } as never);
      assert.equal(payload.server, 'a');
      await assert.rejects(client.fail('nope', 7), (e: { code?: number; server?: string }) => e.code === 7 && e.server === 'a');
      await client.fire('f1');
      await eventually(() => a.fired.includes('f1'), 'oneway reached a');
      // Every call to `a` was mirrored to `shadow`; its answers were dropped.
      await eventually(() => shadow!.calls === a.calls, `shadow saw ${shadow!.calls} of ${a.calls}`);
      assert.equal(b.calls, 1);
      const s = await courier.stats();
      assert.equal(s.get('meta_protocol.thrift_in.response_business_exception'), 1);
      assert.equal(s.get('meta_protocol.thrift_in.request_oneway'), 1);
    } finally {
      client?.close();
      await courier?.stop();
      await Promise.all([a, b, shadow].map((srv) => srv!.stop()));
    }
  });
}

let a: ThriftServer;
before(async () => {
  a = await startThriftServer({ name: 'a', transport: 'header', protocol: 'binary' });
});
after(async () => {
  await a.stop();
});

test('thrift THeader: the route request_mutation arrives as an info header', async () => {
  const courier = await startCourier(yaml(ROUTES, { a: a.port, b: a.port, shadow: a.port }, true));
  const client = await createThriftClient(await courier.listenerPort('thrift'), { transport: 'header', protocol: 'binary' });
  try {
    client.setHeader('tenant', 't1');
    const headers = await client.headers();
    assert.equal(headers['x-mesh'], 'courier');
    assert.equal(headers['tenant'], 't1');
  } finally {
    client.close();
    await courier.stop();
  }
});

test('thrift: no route is a TApplicationException UNKNOWN_METHOD carrying the seqid; timeouts are INTERNAL_ERROR', async () => {
  const srv = await startThriftServer({ name: 'solo', transport: 'framed', protocol: 'binary' });
  const routes = `            - match: { metadata: [ { name: method, string_match: { exact: sleep } } ] }
              route: { cluster: solo, timeout: 0.2s }
            - match: { metadata: [ { name: method, string_match: { exact: echo } } ] }
              route: { cluster: solo }`;
  const courier = await startCourier(yaml(routes, { solo: srv.port }, true));
  const client = await createThriftClient(await courier.listenerPort('thrift'), { transport: 'framed', protocol: 'binary' });
  try {
    await assert.rejects(client.whoami(), (e: { type?: number; message?: string }) => e.type === 1 && /no route/.test(e.message ?? ''));
    await assert.rejects(client.sleep(1000), (e: { type?: number; message?: string }) => e.type === 6 && /timeout/.test(e.message ?? ''));
    assert.equal(await client.echo('still here'), 'still here');
    const many = await Promise.all(Array.from({ length: 100 }, (_, i) => client.echo(`m${i}`)));
    many.forEach((m, i) => assert.equal(m, `m${i}`));
    assert.equal(await courier.stat('meta_protocol.thrift_in.local_response_error'), 2);
  } finally {
    client.close();
    await courier.stop();
    await srv.stop();
  }
});
