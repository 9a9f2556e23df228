/**
 * The Dubbo proxy with real Dubbo peers: the npm apache-dubbo-service provider and
 * apache-dubbo-consumer client, plus a raw-frame client where a test needs to see statuses,
 * pipelining, heartbeats, one-way requests and malformed frames. Two cases need an upstream
 * that misbehaves in a way no real provider does (a response with an unknown id, a reset in
 * the middle of a response): a small fake provider on a raw socket stands in, as marked.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCourier, eventually, type CourierHandle } from '../support/courier-harness.js';
import { dubboYaml, allTo } from '../support/dubbo-configs.js';
import { startProvider, createConsumer, java, type DubboProvider } from '../support/dubbo-peers.js';
import { DubboRawClient, FrameParser, encodeResponse, ResponseStatus } from '../support/dubbo-raw-client.js';
import { closedPort, listen } from '../support/peers.js';

const DEMO = 'org.apache.dubbo.demo.DemoService';
const OTHER = 'org.apache.dubbo.demo.OtherService';

let p1: DubboProvider;
let p2: DubboProvider;
before(async () => {
  [p1, p2] = await Promise.all([startProvider({ name: 'p1' }), startProvider({ name: 'p2' })]);
});
after(async () => {
  await Promise.all([p1.stop(), p2.stop()]);
});

async function withCourier(yaml: string, body: (courier: CourierHandle, port: number) => Promise<void>, processes?: number): Promise<void> {
  const courier = await startCourier(yaml, processes ? { processes } : {});
  try {
    await body(courier, await courier.listenerPort('dubbo'));
  } finally {
    await courier.stop();
  }
}

for (const mode of ['EXCLUSIVE', 'MULTIPLEXED'] as const) {
  test(`${mode}: arguments of every kind round-trip through the proxy`, async () => {
    await withCourier(dubboYaml({ clusters: { c1: [p1.port] }, routeConfig: allTo('c1'), upstreamMode: mode }), async (courier, port) => {
      const client = createConsumer(`127.0.0.1:${port}`);
      try {
        const big = 'x'.repeat(1024 * 1024);
        const cases: Array<[unknown, unknown]> = [
          [java.String('hello'), 'hello'],
          [java.long(1234567890123), 1234567890123],
          [java.double(3.25), 3.25],
          [java.Map({ a: java.String('1'), b: java.String('2') }), { a: '1', b: '2' }],
          [java.List([java.String('a'), java.String('b')]), ['a', 'b']],
          [java.combine('org.apache.dubbo.demo.User', { id: java.long(42), name: java.String('ann'), tags: java.List([java.String('t')]) }), { id: 42, name: 'ann', tags: ['t'] }],
          [java.String(null), null],
          [java.String(big), big],
        ];
        for (const [arg, expected] of cases) {
          const { res, err } = await client.echo(arg as never);
          assert.equal(err, null);
          assert.deepEqual(res, expected);
        }
        const s = await courier.stats();
        assert.equal(s.get('dubbo.dubbo_stats.request_twoway'), cases.length);
        assert.equal(s.get('dubbo.dubbo_stats.response_success'), cases.length);
        assert.equal(s.get('dubbo.dubbo_stats.request_active'), 0);
      } finally {
        client.close();
      }
    });
  });
}

test('routes by method, by interface wildcard and by attachment', async () => {
  const routeConfig = `          - name: by_attachment
            interface: "*"
            routes:
            - match: { method: { name: { exact: whoami } }, headers: [ { name: canary, exact_match: "yes" } ] }
              route: { cluster: c2 }
          - name: other_by_wildcard
            interface: "*.OtherService"
            routes:
            - match: { method: { name: { prefix: who } } }
              route: { cluster: c2 }
          - name: demo_by_method
            interface: ${DEMO}
            routes:
            - match: { method: { name: { exact: sayHello } } }
              route: { cluster: c2 }
            - match: { method: { name: { safe_regex: { regex: ".*" } } } }
              route: { cluster: c1 }`;
  await withCourier(dubboYaml({ clusters: { c1: [p1.port], c2: [p2.port] }, routeConfig }), async (_courier, port) => {
    const client = createConsumer(`127.0.0.1:${port}`);
    try {
      assert.equal((await client.call(DEMO, 'whoami')).res, 'p1');
      assert.equal((await client.call(DEMO, 'sayHello', [java.String('x')])).res, 'Hello x from p2');
      assert.equal((await client.call(OTHER, 'whoami')).res, 'p2');
      assert.equal((await client.call(DEMO, 'whoami', [], { attachments: { canary: 'yes' } })).res, 'p2');
    } finally {
      client.close();
    }
  });
});

test('weighted clusters split 2000 calls within 5% of the weights', async () => {
  const routeConfig = `          - name: split
            interface: "*"
            routes:
            - match: { method: { name: { exact: whoami } } }
              route: { weighted_clusters: { clusters: [ { name: c1, weight: 30 }, { name: c2, weight: 70 } ] } }`;
  // All 2000 are sent at once: above Envoy's default max_requests (1024) without this.
  const clusterExtra = '    circuit_breakers: { thresholds: [ { max_requests: 4096 } ] }';
  await withCourier(dubboYaml({ clusters: { c1: [p1.port], c2: [p2.port] }, routeConfig, upstreamMode: 'MULTIPLEXED', clusterExtra }), async (_c, port) => {
    const raw = await DubboRawClient.connect(port);
    try {
      const replies = await raw.pipeline(Array.from({ length: 2000 }, () => ({ service: DEMO, method: 'whoami' })), { timeoutMs: 20000 });
      const p2Share = replies.filter((r) => r.value === 'p2').length / 2000;
      assert.equal(replies.filter((r) => r.value === 'p1' || r.value === 'p2').length, 2000);
      assert.ok(Math.abs(p2Share - 0.7) < 0.05, `p2 got ${(p2Share * 100).toFixed(1)}%`);
    } finally {
      await raw.close();
    }
  });
});

test('local replies: no route → 60, unknown cluster, no healthy host, connect failure → 80 with a message', async () => {
  const dead = await closedPort();
  const routeConfig = `          - name: r
            interface: ${DEMO}
            routes:
            - match: { method: { name: { exact: toUnknown } } }
              route: { cluster: nowhere }
            - match: { method: { name: { exact: toEmpty } } }
              route: { cluster: empty }
            - match: { method: { name: { exact: toDead } } }
              route: { cluster: dead }`;
  const yaml = dubboYaml({ clusters: { dead: [dead], empty: [] }, routeConfig });
  await withCourier(yaml, async (courier, port) => {
    const raw = await DubboRawClient.connect(port);
    try {
      const noRoute = await raw.request({ service: 'com.example.Nothing', method: 'x' });
      assert.equal(noRoute.status, ResponseStatus.SERVICE_NOT_FOUND);
      assert.match(noRoute.errorMessage!, /no route for interface 'com\.example\.Nothing'/);
      const unknown = await raw.request({ service: DEMO, method: 'toUnknown' });
      assert.equal(unknown.status, ResponseStatus.SERVER_ERROR);
      assert.match(unknown.errorMessage!, /unknown cluster 'nowhere'/);
      const empty = await raw.request({ service: DEMO, method: 'toEmpty' });
      assert.equal(empty.status, ResponseStatus.SERVER_ERROR);
      assert.match(empty.errorMessage!, /no healthy upstream/);
      const failed = await raw.request({ service: DEMO, method: 'toDead' });
      assert.equal(failed.status, ResponseStatus.SERVER_ERROR);
      assert.match(failed.errorMessage!, /connection failure/);
      // A one-way request that cannot be routed gets no reply at all.
      raw.oneway({ service: 'com.example.Nothing', method: 'x' });
      const hb = await raw.heartbeat();
      assert.equal(hb.heartbeat, true);
      assert.equal(raw.frames.filter((f) => !f.isEvent).length, 4);
      assert.equal(await courier.stat('dubbo.dubbo_stats.local_response_error'), 4);
    } finally {
      await raw.close();
    }
  });
});

test('heartbeats are answered by Courier with the same id and never reach the provider', async () => {
  await withCourier(dubboYaml({ clusters: { c1: [p1.port] }, routeConfig: allTo('c1') }), async (courier, port) => {
    const raw = await DubboRawClient.connect(port);
    try {
      const before = (await raw.request({ service: DEMO, method: 'stats' })).value as { heartbeats: number };
      const reply = await raw.heartbeat({ id: 777n });
      assert.equal(reply.heartbeat, true);
      assert.equal(reply.id, 777n);
      assert.equal(reply.status, ResponseStatus.OK);
      const afterStats = (await raw.request({ service: DEMO, method: 'stats' })).value as { heartbeats: number };
      assert.equal(afterStats.heartbeats, before.heartbeats);
      assert.equal(await courier.stat('dubbo.dubbo_stats.request_event'), 1);
    } finally {
      await raw.close();
    }
  });
});

test('64 pipelined requests come back matched by id; one-way requests reach the provider without a reply', async () => {
  await withCourier(dubboYaml({ clusters: { c1: [p1.port] }, routeConfig: allTo('c1') }), async (courier, port) => {
    const raw = await DubboRawClient.connect(port);
    try {
      const replies = await raw.pipeline(Array.from({ length: 64 }, (_, i) => ({ service: DEMO, method: 'echo', args: [java.String(`m${i}`)] })));
      assert.deepEqual(replies.map((r) => r.value), Array.from({ length: 64 }, (_, i) => `m${i}`));
      const before = ((await raw.request({ service: DEMO, method: 'stats' })).value as { oneway: number }).oneway;
      raw.oneway({ service: DEMO, method: 'echo', args: [java.String('fire and forget')] });
      await eventually(async () => ((await raw.request({ service: DEMO, method: 'stats' })).value as { oneway: number }).oneway === before + 1, 'one-way delivered');
      assert.equal(await courier.stat('dubbo.dubbo_stats.request_oneway'), 1);
    } finally {
      await raw.close();
    }
  });
});

test('business exceptions pass through and are counted', async () => {
  await withCourier(dubboYaml({ clusters: { c1: [p1.port] }, routeConfig: allTo('c1') }), async (courier, port) => {
    const client = createConsumer(`127.0.0.1:${port}`);
    try {
      const { err } = await client.fail('boom');
      assert.ok(err);
      assert.match(String((err as Error).message), /boom/);
      assert.equal(await courier.stat('dubbo.dubbo_stats.response_business_exception'), 1);
    } finally {
      client.close();
    }
  });
});

test('a malformed frame: request_decoding_error, replies already owed are flushed, then the connection closes', async () => {
  await withCourier(dubboYaml({ clusters: { c1: [p1.port] }, routeConfig: allTo('c1') }), async (courier, port) => {
    const raw = await DubboRawClient.connect(port);
    const pending = raw.request({ service: DEMO, method: 'sleep', args: [java.int(100)] }, { id: 5n });
    raw.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    const reply = await pending;
    assert.equal(reply.value, 100);
    await raw.closed();
    assert.equal(await courier.stat('dubbo.dubbo_stats.request_decoding_error'), 1);
  });
});

test('request_timeout: a slow provider gets a timeout reply (31) and upstream_rq_timeout', async () => {
  for (const mode of ['EXCLUSIVE', 'MULTIPLEXED'] as const) {
    await withCourier(dubboYaml({ clusters: { c1: [p1.port] }, routeConfig: allTo('c1'), upstreamMode: mode, requestTimeout: '0.2s' }), async (courier, port) => {
      const raw = await DubboRawClient.connect(port);
      try {
        const slow = await raw.request({ service: DEMO, method: 'sleep', args: [java.int(1000)] });
        assert.equal(slow.status, ResponseStatus.SERVER_TIMEOUT);
        const fast = await raw.request({ service: DEMO, method: 'sleep', args: [java.int(1)] });
        assert.equal(fast.value, 1, 'the connection still serves after a timeout');
        assert.equal(await courier.stat('cluster.c1.upstream_rq_timeout'), 1);
      } finally {
        await raw.close();
      }
    });
  }
});

test('MULTIPLEXED: requests from many clients share one upstream connection; ids are restored', async () => {
  await withCourier(dubboYaml({ clusters: { c1: [p1.port] }, routeConfig: allTo('c1'), upstreamMode: 'MULTIPLEXED' }), async (courier, port) => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => DubboRawClient.connect(port)));
    try {
      // Every client uses the same ids: the proxy must keep them apart upstream.
      const all = await Promise.all(clients.map((c, i) => c.pipeline(Array.from({ length: 16 }, (_, j) => ({ service: DEMO, method: 'echo', args: [java.String(`c${i}-${j}`)] })))));
      all.forEach((replies, i) => assert.deepEqual(replies.map((r) => r.value), Array.from({ length: 16 }, (_, j) => `c${i}-${j}`)));
      assert.equal(await courier.stat('cluster.c1.upstream_cx_total'), 1);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});

test('EXCLUSIVE: an idle upstream connection is reused by the next request', async () => {
  await withCourier(dubboYaml({ clusters: { c1: [p1.port] }, routeConfig: allTo('c1') }), async (courier, port) => {
    const client = createConsumer(`127.0.0.1:${port}`);
    try {
      for (let i = 0; i < 10; i++) assert.equal((await client.whoami()).res, 'p1');
      assert.equal(await courier.stat('cluster.c1.upstream_cx_total'), 1);
      // Requests, not connections, are what upstream_rq_* and the host's rq_* count.
      assert.equal(await courier.stat('cluster.c1.upstream_rq_total'), 10);
      assert.equal(await courier.stat('cluster.c1.upstream_rq_active'), 0);
      const clusters = (await courier.admin('/clusters')).body;
      assert.match(clusters, new RegExp(`c1::127\\.0\\.0\\.1:${p1.port}::rq_total::10\n`));
      assert.match(clusters, new RegExp(`c1::127\\.0\\.0\\.1:${p1.port}::rq_success::10\n`));
    } finally {
      client.close();
    }
  });
});

test('a provider killed under load: every call ends (80 replies or success), none hangs', async () => {
  const victim = await startProvider({ name: 'victim' });
  await withCourier(dubboYaml({ clusters: { c1: [victim.port] }, routeConfig: allTo('c1'), upstreamMode: 'MULTIPLEXED' }), async (_courier, port) => {
    const raw = await DubboRawClient.connect(port);
    try {
      const calls = raw.pipeline(Array.from({ length: 200 }, () => ({ service: DEMO, method: 'sleep', args: [java.int(50)] })), { timeoutMs: 5000 });
      setTimeout(() => victim.kill(), 20);
      const replies = await calls;
      assert.equal(replies.length, 200);
      const failed = replies.filter((r) => r.status === ResponseStatus.SERVER_ERROR);
      assert.ok(failed.length > 0, 'some calls were cut off by the kill');
      assert.ok(replies.every((r) => r.status === ResponseStatus.OK || r.status === ResponseStatus.SERVER_ERROR));
      // After the provider is gone, new calls fail fast with a connection failure.
      const after = await raw.request({ service: DEMO, method: 'whoami' });
      assert.equal(after.status, ResponseStatus.SERVER_ERROR);
    } finally {
      await raw.close();
    }
  });
  await victim.stop().catch(() => {});
});

test('fake provider (no real one misbehaves so): an unknown response id → response_decoding_error and 80 replies', async () => {
  const fake = await listen((s) => {
    const parser = new FrameParser();
    s.on('data', (d: Buffer) => {
      for (const f of parser.push(d)) s.write(encodeResponse(f.id + 1000n, { value: 'wrong id' }));
    });
  });
  await withCourier(dubboYaml({ clusters: { c1: [fake.port] }, routeConfig: allTo('c1') }), async (courier, port) => {
    const raw = await DubboRawClient.connect(port);
    try {
      const reply = await raw.request({ service: DEMO, method: 'whoami' });
      assert.equal(reply.status, ResponseStatus.SERVER_ERROR);
      assert.equal(await courier.stat('dubbo.dubbo_stats.response_decoding_error'), 1);
    } finally {
      await raw.close();
    }
  });
  await fake.close();
});

test('fake provider: a reset in the middle of a response → an 80 reply', async () => {
  const fake = await listen((s) => {
    const parser = new FrameParser();
    s.on('data', (d: Buffer) => {
      for (const f of parser.push(d)) {
        const full = encodeResponse(f.id, { value: 'x'.repeat(1000) });
        s.write(full.subarray(0, 40), () => s.resetAndDestroy());
      }
    });
  });
  await withCourier(dubboYaml({ clusters: { c1: [fake.port] }, routeConfig: allTo('c1') }), async (_courier, port) => {
    const raw = await DubboRawClient.connect(port);
    try {
      const reply = await raw.request({ service: DEMO, method: 'whoami' });
      assert.equal(reply.status, ResponseStatus.SERVER_ERROR);
      assert.match(reply.errorMessage!, /upstream/);
    } finally {
      await raw.close();
    }
  });
  await fake.close();
});

test('--concurrency 2: the real command proxies Dubbo across worker processes', async () => {
  await withCourier(
    dubboYaml({ clusters: { c1: [p1.port], c2: [p2.port] }, routeConfig: allTo('c1') }),
    async (courier, port) => {
      const clients = Array.from({ length: 4 }, () => createConsumer(`127.0.0.1:${port}`));
      try {
        const results = await Promise.all(clients.flatMap((c) => Array.from({ length: 10 }, (_, i) => c.sayHello(`w${i}`))));
        assert.ok(results.every((r) => r.err === null && /^Hello w\d from p1$/.test(String(r.res))));
        await eventually(async () => (await courier.stat('dubbo.dubbo_stats.response_success')) === 40, 'all counted');
      } finally {
        clients.forEach((c) => c.close());
      }
    },
    2,
  );
});

test('circuit breaker max_requests: a request over the limit gets an 80 reply and upstream_rq_pending_overflow', async () => {
  const yaml = dubboYaml({
    clusters: { c1: [p1.port] },
    routeConfig: allTo('c1'),
    upstreamMode: 'MULTIPLEXED',
    clusterExtra: '    circuit_breakers: { thresholds: [ { max_requests: 1 } ] }',
  });
  await withCourier(yaml, async (courier, port) => {
    const raw = await DubboRawClient.connect(port);
    try {
      const slow = raw.request({ service: DEMO, method: 'sleep', args: [java.int(300)] });
      await eventually(async () => (await courier.stat('cluster.c1.upstream_rq_active')) === 1, 'first in flight');
      const over = await raw.request({ service: DEMO, method: 'whoami' });
      assert.equal(over.status, ResponseStatus.SERVER_ERROR);
      assert.match(over.errorMessage!, /too many requests/);
      assert.equal((await slow).value, 300);
      assert.equal(await courier.stat('cluster.c1.upstream_rq_pending_overflow'), 1);
      // The budget is returned: the next request goes through.
      assert.equal((await raw.request({ service: DEMO, method: 'whoami' })).value, 'p1');
    } finally {
      await raw.close();
    }
  });
});

test("a client's half-close: Courier answers what is in flight, then closes", async () => {
  await withCourier(dubboYaml({ clusters: { c1: [p1.port] }, routeConfig: allTo('c1') }), async (_courier, port) => {
    const raw = await DubboRawClient.connect(port);
    const reply = raw.request({ service: DEMO, method: 'sleep', args: [java.int(100)] });
    raw.socket.end(); // half-close: no more requests
    assert.equal((await reply).value, 100);
    await raw.closed();
  });
});
