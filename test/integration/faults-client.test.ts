/**
 * Fault suite, resetting clients of the RPC proxies and tcp_proxy (HTTP's are in the HTTP
 * tests): clients that reset their connection (RST) while their request is at the upstream,
 * beside a well-behaved client on the same route and upstream. The well-behaved client must
 * not see a failure, a late answer for a gone client must be dropped, and every gauge and the
 * proxy's fd counts must come back to their baseline. Real command, one worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metaProxyListenerYaml, ADMIN_YAML, staticClusterYaml, tcpProxyYaml } from '../support/configs.js';
import { sleep, startCourier } from '../support/courier-harness.js';
import { dubboYaml, allTo } from '../support/dubbo-configs.js';
import { DEMO_SERVICE, java, startProvider } from '../support/dubbo-peers.js';
import { DubboRawClient } from '../support/dubbo-raw-client.js';
import { beside } from '../support/faults.js';
import { connect, echoServer } from '../support/peers.js';
import { createThriftClient, startThriftServer } from '../support/thrift-peers.js';
import { ask } from '../support/xds-resources.js';

for (const mode of ['EXCLUSIVE', 'MULTIPLEXED'] as const) {
  test(`dubbo_proxy ${mode}: clients reset while their call is at the provider; the others are served, gauges and fds back`, { timeout: 30_000 }, async () => {
    const provider = await startProvider({ name: 'p' });
    const courier = await startCourier(dubboYaml({ clusters: { c: [provider.port] }, routeConfig: allTo('c'), upstreamMode: mode }), { processes: 1 });
    let good: DubboRawClient | undefined;
    try {
      const port = await courier.listenerPort('dubbo');
      good = await DubboRawClient.connect(port, { timeoutMs: 5000 });
      const client = good;
      let n = 0;
      await beside(courier, {
        gauges: ['server.total_connections', 'dubbo.dubbo_stats.request_active', 'cluster.c.upstream_rq_active'],
        pooled: ['c'],
        good: async () => {
          const text = `call-${n++}`;
          assert.equal((await client.request({ service: DEMO_SERVICE, method: 'echo', args: [java.String(text)] })).value, text);
        },
        faulty: async () => {
          const raw = await DubboRawClient.connect(port);
          void raw.request({ service: DEMO_SERVICE, method: 'sleep', args: [java.int(300)] }).catch(() => undefined);
          await sleep(100);
          raw.socket.resetAndDestroy();
          await raw.closed();
          await sleep(400); // the provider's late answer arrives for a client that is gone
        },
      });
    } finally {
      await good?.close();
      await courier.stop();
      await provider.stop();
    }
  });
}

test('meta_protocol_proxy (thrift): clients reset while their call is at the server; the others are served, gauges and fds back', { timeout: 30_000 }, async () => {
  const server = await startThriftServer({ name: 's', transport: 'framed', protocol: 'binary' });
  const protocol = '{ name: thrift, codec: { name: courier.meta_protocol.codec.thrift }, multiplexing: true }';
  const courier = await startCourier(
    `${ADMIN_YAML}
static_resources:
  listeners:
${metaProxyListenerYaml('thrift', 'thrift_in', protocol)}
          route_config:
            name: thrift_routes
            routes:
            - match: { metadata: [ { name: method, string_match: { safe_regex: { regex: ".*" } } } ] }
              route: { cluster: s }
  clusters:
${staticClusterYaml('s', [server.port])}
`,
    { processes: 1 },
  );
  const peer = { transport: 'framed', protocol: 'binary' } as const;
  try {
    const port = await courier.listenerPort('thrift');
    const client = await createThriftClient(port, { ...peer, timeoutMs: 5000 });
    let n = 0;
    try {
      await beside(courier, {
        gauges: ['server.total_connections', 'meta_protocol.thrift_in.request_active', 'cluster.s.upstream_rq_active'],
        pooled: ['s'],
        good: async () => {
          const text = `call-${n++}`;
          assert.equal(await client.echo(text), text);
        },
        faulty: async () => {
          const c = await createThriftClient(port, { ...peer, timeoutMs: 5000 });
          const gone = new Promise((r) => c.socket.once('close', r));
          void c.sleep(300).catch(() => undefined);
          await sleep(100);
          c.socket.resetAndDestroy();
          await gone;
          await sleep(400);
        },
      });
    } finally {
      client.close();
    }
  } finally {
    await courier.stop();
    await server.stop();
  }
});

test('tcp_proxy: clients reset in the middle of an upload; the others are served, gauges and fds back', { timeout: 30_000 }, async () => {
  const echo = await echoServer();
  const courier = await startCourier(tcpProxyYaml({ ports: [echo.port] }), { processes: 1 });
  try {
    const port = await courier.listenerPort('tcp');
    const block = Buffer.alloc(256 * 1024, 7);
    await beside(courier, {
      gauges: ['server.total_connections', 'cluster.backend.upstream_cx_active', 'cluster.backend.upstream_rq_active'],
      pooled: [],
      good: async () => assert.equal(await ask(port), 'hi'),
      faulty: async () => {
        const s = await connect(port);
        s.on('error', () => undefined);
        s.resume();
        for (let i = 0; i < 8; i++) s.write(block);
        await sleep(50);
        s.resetAndDestroy();
      },
    });
  } finally {
    await courier.stop();
    await echo.close();
  }
});
