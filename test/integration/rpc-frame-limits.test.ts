/**
 * Slow, silent and half-sent RPC clients (docs/dubbo-proxy.md, docs/meta-protocol.md): a
 * connection that never sends a frame, or starts one and trickles, is closed after its timeout;
 * connections holding large partial frames are closed once the worker's partial-frame budget
 * would be exceeded. Meanwhile the real npm Dubbo consumer keeps getting answers from the real
 * provider, and every gauge returns to its baseline. Misbehaving clients are raw sockets
 * (test/support/dubbo-raw-client.ts, or plain sockets for Thrift): no real client misbehaves
 * this way. The well-behaved peers are the npm Dubbo consumer and provider and npm thrift's.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ADMIN_YAML, metaProxyListenerYaml, staticClusterYaml } from '../support/configs.js';
import { eventually, sleep, startCourier } from '../support/courier-harness.js';
import { allTo, dubboYaml } from '../support/dubbo-configs.js';
import { DEMO_SERVICE, createConsumer, startProvider, type DubboProvider } from '../support/dubbo-peers.js';
import { DubboRawClient, FLAGS_TWOWAY_REQUEST, encodeFrame } from '../support/dubbo-raw-client.js';
import { createThriftClient, startThriftServer } from '../support/thrift-peers.js';

let provider: DubboProvider;
before(async () => {
  provider = await startProvider({ name: 'p1' });
});
after(async () => {
  await provider.stop();
});

const META = 'meta_protocol.dubbo_meta.';

function metaYaml(limits: string): string {
  return `${ADMIN_YAML}
static_resources:
  listeners:
${metaProxyListenerYaml('dubbo', 'dubbo_meta', '{ name: dubbo, codec: { name: courier.meta_protocol.codec.dubbo } }')}
${limits}
          route_config:
            name: all
            routes:
            - match: { metadata: [ { name: interface, string_match: { exact: ${DEMO_SERVICE} } } ] }
              route: { cluster: p1 }
  clusters:
${staticClusterYaml('p1', [provider.port])}`;
}

/** The first `sent` bytes of a request declaring a `declared`-byte body. */
function partialRequest(id: number, declared: number, sent: number): Buffer {
  return encodeFrame({ flags: FLAGS_TWOWAY_REQUEST, id, bodyLength: declared }, Buffer.alloc(sent, 0x4e));
}

test('meta_protocol_proxy: a silent connection and a trickling frame are closed after their timeouts; a real consumer is unaffected', async () => {
  const courier = await startCourier(metaYaml('          first_frame_timeout: 0.5s\n          frame_timeout: 0.5s'));
  const port = await courier.listenerPort('dubbo');
  const consumer = createConsumer(`127.0.0.1:${port}`);
  const silent = await DubboRawClient.connect(port);
  const trickler = await DubboRawClient.connect(port);
  try {
    // The trickler's first frame is complete (a heartbeat): from then on frame_timeout applies.
    await trickler.heartbeat();
    const frame = partialRequest(1, 64, 64 + 16);
    let sent = 0;
    const trickle = setInterval(() => {
      if (!trickler.isClosed && sent < frame.length) trickler.write(frame.subarray(sent, ++sent));
    }, 50);
    const started = Date.now();
    try {
      for (let i = 0; Date.now() - started < 1500; i++) {
        assert.deepEqual(await consumer.sayHello(`n${i}`), { res: `Hello n${i} from p1`, err: null });
        await sleep(50);
      }
      await Promise.all([silent.closed(), trickler.closed()]);
    } finally {
      clearInterval(trickle);
    }
    assert.ok(sent < frame.length, 'the trickling frame never completed');
    assert.deepEqual(await consumer.whoami(), { res: 'p1', err: null });
    const s = await courier.stats();
    assert.equal(s.get(`${META}downstream_cx_first_frame_timeout`), 1);
    assert.equal(s.get(`${META}downstream_cx_frame_timeout`), 1);
    assert.equal(s.get(`${META}downstream_partial_frame_bytes`), 0);
  } finally {
    consumer.close();
    await Promise.all([silent.close(), trickler.close()]);
    await courier.stop();
  }
});

test('meta_protocol_proxy: with the timeouts at 0s, a silent connection stays open', async () => {
  const courier = await startCourier(metaYaml('          first_frame_timeout: 0s\n          frame_timeout: 0s'));
  const port = await courier.listenerPort('dubbo');
  const silent = await DubboRawClient.connect(port);
  try {
    await sleep(700);
    assert.equal(silent.isClosed, false);
    assert.equal((await silent.heartbeat()).status, 20);
    assert.equal(await courier.stat(`${META}downstream_cx_first_frame_timeout`), 0);
  } finally {
    await silent.close();
    await courier.stop();
  }
});

const MIB = 1024 * 1024;

test('dubbo_proxy: 20 connections each holding 8 MiB of a 16 MiB body hit the 64 MiB worker budget; a real consumer keeps its answers', async () => {
  const courier = await startCourier(dubboYaml({ clusters: { c1: [provider.port] }, routeConfig: allTo('c1') }));
  const port = await courier.listenerPort('dubbo');
  // A generous call timeout: the point is that every call is answered, on a busy shared box.
  const consumer = createConsumer(`127.0.0.1:${port}`, { timeoutMs: 15000 });
  const hogs: DubboRawClient[] = [];
  let stop = false;
  let answered = 0;
  const wrong: unknown[] = [];
  const traffic = (async () => {
    while (!stop) {
      const got = await consumer.sayHello(`n${answered}`);
      if (stop) break;
      if (got.res === `Hello n${answered} from p1` && got.err === null) answered++;
      else wrong.push(got);
    }
  })();
  try {
    assert.deepEqual(await consumer.whoami(), { res: 'p1', err: null });
    for (let i = 0; i < 20; i++) {
      const hog = await DubboRawClient.connect(port);
      hogs.push(hog);
      hog.write(partialRequest(i + 1, 16 * MIB, 8 * MIB));
    }
    const closed = await eventually(
      async () => {
        const s = await courier.stats();
        const overflow = s.get('dubbo.dubbo_stats.downstream_cx_partial_frame_overflow') ?? 0;
        const held = s.get('dubbo.dubbo_stats.downstream_partial_frame_bytes') ?? 0;
        // Every hog is either closed or holding its 8 MiB (minus what is still in flight).
        assert.ok(held <= 64 * MIB, `held ${held}`);
        const open = hogs.filter((h) => !h.isClosed).length;
        assert.equal(open + overflow, 20, `${open} open, ${overflow} closed for the budget`);
        // And every open hog's 8 MiB has arrived (on a busy box some are still on their way,
        // and closing for the budget is decided as the bytes come in).
        assert.ok(held >= open * 8 * MIB * 0.99, `held ${held} for ${open} open hogs`);
        return overflow;
      },
      'every hog holds its partial body or is closed',
      20000,
    );
    assert.ok(closed >= 12, `at most 8 partial bodies of 8 MiB fit in 64 MiB (${closed} closed)`);
    const before = answered;
    await eventually(() => answered > before + 5, 'the consumer keeps getting answers', 10000);
    stop = true;
    await traffic;
    assert.deepEqual(wrong, [], 'every call of the well-behaved consumer got its own answer');
    await Promise.all(hogs.map((h) => h.close()));
    await eventually(async () => {
      const s = await courier.stats();
      assert.equal(s.get('dubbo.dubbo_stats.downstream_partial_frame_bytes'), 0);
      assert.equal(s.get('dubbo.dubbo_stats.request_active'), 0);
      return true;
    }, 'gauges back to zero');
  } finally {
    stop = true;
    consumer.close();
    await traffic;
    await Promise.all(hogs.map((h) => h.close()));
    await courier.stop();
  }
});

test('meta_protocol_proxy, unframed Thrift: a trickling message is closed after frame_timeout and large partial messages hit the budget; the npm thrift client keeps its answers', async () => {
  const peer = { transport: 'unframed', protocol: 'binary' } as const;
  const server = await startThriftServer({ name: 'a', ...peer });
  const protocol = '{ name: thrift, codec: { name: courier.meta_protocol.codec.thrift, config: { transport: unframed, protocol: binary } } }';
  const courier = await startCourier(`${ADMIN_YAML}
static_resources:
  listeners:
${metaProxyListenerYaml('thrift', 'thrift_in', protocol)}
          first_frame_timeout: 3s
          frame_timeout: 1s
          max_partial_frame_bytes_per_worker: ${4 * MIB}
          route_config:
            name: all
            routes:
            - match: { metadata: [ { name: method, string_match: { safe_regex: { regex: ".*" } } } ] }
              route: { cluster: a }
  clusters:
${staticClusterYaml('a', [server.port])}`);
  const port = await courier.listenerPort('thrift');
  const client = await createThriftClient(port, peer);
  const raw: net.Socket[] = [];
  const connect = (): Promise<net.Socket> =>
    new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s));
      s.on('error', () => {});
      raw.push(s);
    });
  const closed = (s: net.Socket): Promise<void> => new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
  try {
    const trickler = await connect();
    // A complete call first (answered; nobody reads it), so that frame_timeout applies.
    trickler.write(Buffer.concat([echoCall(2), Buffer.from('hi'), Buffer.from([0])]));
    // Then a call whose string argument declares 1 MiB, a byte every 50 ms: never complete.
    // (The hogs below never complete a frame either; first_frame_timeout is long enough that
    // the budget, not the timeout, closes one of them.)
    const head = echoCall(1 * MIB);
    trickler.write(head.subarray(0, 1));
    let sent = 1;
    const trickle = setInterval(() => {
      if (!trickler.destroyed) trickler.write(sent < head.length ? head.subarray(sent, ++sent) : Buffer.from('x'));
    }, 50);
    // Three connections each sending 1.5 MiB of their string: the third passes 4 MiB.
    const hogs = await Promise.all([connect(), connect(), connect()]);
    for (const hog of hogs) hog.write(Buffer.concat([echoCall(2 * MIB), Buffer.alloc(1.5 * MIB, 0x61)]));
    try {
      for (let i = 0; !trickler.destroyed && i < 2000; i++) assert.equal(await client.echo(`m${i}`), `m${i}`);
      await closed(trickler);
      await eventually(
        async () => (await courier.stat('meta_protocol.thrift_in.downstream_cx_partial_frame_overflow')) >= 1,
        'a hog closed for the budget',
      );
      assert.equal(await client.add(2, 40), 42);
    } finally {
      clearInterval(trickle);
    }
    const s = await courier.stats();
    assert.equal(s.get('meta_protocol.thrift_in.downstream_cx_frame_timeout'), 1);
    for (const r of raw) r.destroy();
    await eventually(async () => (await courier.stat('meta_protocol.thrift_in.downstream_partial_frame_bytes')) === 0, 'partial-frame gauge back to 0');
  } finally {
    client.close();
    for (const r of raw) r.destroy();
    await courier.stop();
    await server.stop();
  }
});

/** An unframed binary CALL "echo" up to the length of its string argument (field 1), `length`. */
function echoCall(length: number): Buffer {
  const head = Buffer.alloc(4 + 4 + 4 + 4 + 3 + 4);
  let at = head.writeUInt32BE(0x80010001, 0);
  at = head.writeUInt32BE(4, at);
  at += head.write('echo', at);
  at = head.writeInt32BE(1, at);
  at = head.writeUInt8(11, at); // STRING
  at = head.writeInt16BE(1, at);
  head.writeInt32BE(length, at);
  return head;
}
