/**
 * courier.meta_protocol_proxy end to end with the example user codec (examples/toy-codec/):
 * routing on metadata, weights, consistent hashing, request and response mutation, mirroring,
 * local rate limits, timeouts, connect-failure retries, multiplexing, malformed frames,
 * access logs and stats. The toy protocol has no peer outside this repository, so its server
 * and client are the example's own (examples/toy-codec/toy-server.mjs and toy-client.mjs);
 * Dubbo and Thrift run against their real npm peers in meta-protocol-peers.test.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ADMIN_YAML, metaProxyListenerYaml, staticClusterYaml } from '../support/configs.js';
import { REPO_ROOT, eventually, startCourier, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import { closedPort, listen } from '../support/peers.js';

interface ToyReply {
  type: string;
  meta: Map<string, string>;
  body: string;
}
interface ToyStream {
  send(body: string): void;
  halfClose(): void;
  next(): Promise<ToyReply>;
}
interface ToyClient {
  call(meta: Record<string, string>, body?: string, type?: string): Promise<ToyReply>;
  stream(meta: Record<string, string>): ToyStream;
  writeRaw(bytes: Buffer): void;
  close(): void;
  readonly closed: Promise<void>;
}
interface ToyServer {
  readonly port: number;
  readonly seen: Array<{ type: string; id: number; meta: Map<string, string>; body: Buffer }>;
  close(): Promise<void>;
}
interface ToyModules {
  ToyClient: { connect(port: number): Promise<ToyClient> };
  startToyServer(o: { name: string }): Promise<ToyServer>;
}

const TOY_DIR = path.join(REPO_ROOT, 'examples', 'toy-codec');
const CODEC = path.join(TOY_DIR, 'toy-codec.mjs');
let toy: ToyModules;
let blue: ToyServer;
let green: ToyServer;
let mirror: ToyServer;

before(async () => {
  const client = (await import(pathToFileURL(path.join(TOY_DIR, 'toy-client.mjs')).href)) as Pick<ToyModules, 'ToyClient'>;
  const server = (await import(pathToFileURL(path.join(TOY_DIR, 'toy-server.mjs')).href)) as Pick<ToyModules, 'startToyServer'>;
  toy = { ...client, ...server };
  [blue, green, mirror] = await Promise.all(['blue', 'green', 'mirror'].map((name) => toy.startToyServer({ name })));
});
after(async () => {
  await Promise.all([blue, green, mirror].map((s) => s.close()));
});

interface ProxyOptions {
  routes: string;
  clusters: string;
  filters?: string;
  multiplexing?: boolean;
  extra?: string;
  module?: string;
}

function proxyYaml(o: ProxyOptions): string {
  const protocol = `{ name: toy, codec: { name: toy, module: ${JSON.stringify(o.module ?? CODEC)} }, multiplexing: ${o.multiplexing ?? true} }`;
  return `${ADMIN_YAML}
static_resources:
  listeners:
${metaProxyListenerYaml('toy', 'toy', protocol)}
          route_config:
            name: toy_routes
            routes:
${o.routes}
${o.filters ?? ''}
${o.extra ?? ''}
  clusters:
${o.clusters}`;
}

async function withProxy(o: ProxyOptions, body: (courier: CourierHandle, client: ToyClient) => Promise<void>): Promise<void> {
  const courier = await startCourier(proxyYaml(o));
  const client = await toy.ToyClient.connect(await courier.listenerPort('toy'));
  try {
    await body(courier, client);
  } finally {
    client.close();
    await courier.stop();
  }
}

const byMethod = (method: string, cluster: string): string =>
  `            - match: { metadata: [ { name: method, string_match: { exact: ${method} } } ] }
              route: { cluster: ${cluster} }`;

test('routes on metadata, answers no-route with the codec error, counts meta_protocol stats', async () => {
  await withProxy(
    { routes: [byMethod('paint', 'blue'), byMethod('grow', 'green')].join('\n'), clusters: [staticClusterYaml('blue', [blue.port]), staticClusterYaml('green', [green.port])].join('\n') },
    async (courier, client) => {
      assert.equal((await client.call({ method: 'paint' }, 'sky')).body, 'blue: sky');
      assert.equal((await client.call({ method: 'grow' }, 'grass')).body, 'green: grass');
      const miss = await client.call({ method: 'fly' });
      assert.equal(miss.type, 'error');
      assert.equal(miss.meta.get('error-type'), 'route_not_found');
      assert.match(miss.body, /no route for method 'fly'/);
      const s = await courier.stats();
      assert.equal(s.get('meta_protocol.toy.request'), 3);
      assert.equal(s.get('meta_protocol.toy.response_success'), 2);
      assert.equal(s.get('meta_protocol.toy.local_response_error'), 1);
      assert.equal(s.get('cluster.blue.upstream_rq_total'), 1);
    },
  );
});

test('multiplexing: 200 concurrent calls on one connection share one upstream connection, ids restored', async () => {
  await withProxy({ routes: byMethod('paint', 'blue'), clusters: staticClusterYaml('blue', [blue.port]) }, async (courier, client) => {
    const before = blue.seen.length;
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => client.call({ method: 'paint' }, `n${i}`)));
    replies.forEach((r, i) => assert.equal(r.body, `blue: n${i}`));
    assert.equal(blue.seen.length - before, 200);
    assert.equal(await courier.stat('cluster.blue.upstream_cx_total'), 1);
  });
});

test('weighted clusters split 1000 calls 80/20 within 5%', async () => {
  const routes = `            - route:
                weighted_clusters: { clusters: [ { name: blue, weight: 80 }, { name: green, weight: 20 } ] }`;
  await withProxy({ routes, clusters: [staticClusterYaml('blue', [blue.port]), staticClusterYaml('green', [green.port])].join('\n') }, async (_courier, client) => {
    const replies = await Promise.all(Array.from({ length: 1000 }, () => client.call({ method: 'x' })));
    const blueShare = replies.filter((r) => r.body.startsWith('blue')).length / 1000;
    assert.ok(Math.abs(blueShare - 0.8) < 0.05, `blue got ${blueShare}`);
  });
});

test('consistent hashing on a metadata key keeps each user on one server', async () => {
  const routes = `            - route: { cluster: ring, hash_policy: [ user ] }`;
  const clusters = staticClusterYaml('ring', [blue.port, green.port, mirror.port], '    lb_policy: RING_HASH\n');
  await withProxy({ routes, clusters }, async (_courier, client) => {
    const servers = new Map<string, Set<string>>();
    for (let round = 0; round < 5; round++) {
      for (let u = 0; u < 20; u++) {
        const r = await client.call({ user: `u${u}` });
        const set = servers.get(`u${u}`) ?? new Set();
        set.add(r.meta.get('server')!);
        servers.set(`u${u}`, set);
      }
    }
    for (const [user, set] of servers) assert.equal(set.size, 1, `${user} went to ${[...set].join(', ')}`);
    const used = new Set([...servers.values()].map((s) => [...s][0]));
    assert.ok(used.size >= 2, 'users spread over the ring');
  });
});

test('request and response mutation reach the server and the client', async () => {
  const routes = `            - route: { cluster: blue }
              request_mutation: [ { key: x-via, value: courier } ]
              response_mutation: [ { key: x-served-by, value: mesh } ]`;
  await withProxy({ routes, clusters: staticClusterYaml('blue', [blue.port]) }, async (_courier, client) => {
    const r = await client.call({ method: 'paint' }, 'wall');
    assert.equal(blue.seen.at(-1)!.meta.get('x-via'), 'courier');
    assert.equal(r.meta.get('x-via'), 'courier', 'the server echoes the metadata it got');
    assert.equal(r.meta.get('x-served-by'), 'mesh');
    assert.equal(r.body, 'blue: wall');
  });
});

test('mirroring sends a copy to the mirror cluster and drops its answer', async () => {
  const routes = `            - route:
                cluster: blue
                request_mirror_policies:
                - { cluster: mirror }
                - { cluster: green, runtime_fraction: { default_value: { numerator: 0 } } }`;
  const clusters = [staticClusterYaml('blue', [blue.port]), staticClusterYaml('mirror', [mirror.port]), staticClusterYaml('green', [green.port])].join('\n');
  await withProxy({ routes, clusters }, async (_courier, client) => {
    const [m0, g0] = [mirror.seen.length, green.seen.length];
    for (let i = 0; i < 20; i++) assert.equal((await client.call({ method: 'paint' }, `c${i}`)).body, `blue: c${i}`);
    await eventually(() => mirror.seen.length - m0 === 20, 'mirror got 20 copies');
    assert.deepEqual(
      mirror.seen.slice(m0).map((f) => f.body.toString()),
      Array.from({ length: 20 }, (_, i) => `c${i}`),
    );
    assert.equal(green.seen.length - g0, 0, 'a 0% mirror gets nothing');
  });
});

test('local rate limit: per-condition buckets, over-limit requests get the codec error and RL', async () => {
  const filters = `          meta_protocol_filters:
          - name: courier.meta_protocol.filters.local_ratelimit
            config:
              "@type": type.googleapis.com/courier.meta_protocol_proxy.filters.local_ratelimit.v1.LocalRateLimit
              stat_prefix: rl
              conditions:
              - match: { metadata: [ { name: method, string_match: { exact: paint } } ] }
                token_bucket: { max_tokens: 3, tokens_per_fill: 1, fill_interval: 3600s }
          - name: courier.meta_protocol.filters.router`;
  await withProxy({ routes: `            - route: { cluster: blue }`, clusters: staticClusterYaml('blue', [blue.port]), filters }, async (courier, client) => {
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await client.call({ method: 'paint' }));
    for (let i = 0; i < 5; i++) replies.push(await client.call({ method: 'grow' }));
    const limited = replies.filter((r) => r.type === 'error');
    assert.equal(limited.length, 2);
    assert.ok(limited.every((r) => r.meta.get('error-type') === 'over_limit'));
    assert.equal(await courier.stat('meta_protocol.toy.local_ratelimit.rl.rate_limited'), 2);
    assert.equal(await courier.stat('meta_protocol.toy.local_ratelimit.rl.ok'), 8);
  });
});

test('route timeout answers with the codec timeout error; the late answer is dropped', async () => {
  const routes = `            - route: { cluster: blue, timeout: 0.2s }`;
  await withProxy({ routes, clusters: staticClusterYaml('blue', [blue.port]) }, async (courier, client) => {
    const slow = await client.call({ 'delay-ms': '600' });
    assert.equal(slow.type, 'error');
    assert.equal(slow.meta.get('error-type'), 'timeout');
    assert.equal((await client.call({})).body, 'blue: ', 'the connection still works');
    assert.equal(await courier.stat('cluster.blue.upstream_rq_timeout'), 1);
  });
});

test('connect failure is retried on another host when retry_policy says so, else answered', async () => {
  const dead = await closedPort();
  const routes = `            - match: { metadata: [ { name: method, string_match: { exact: retry } } ] }
              route: { cluster: flaky, retry_policy: { retry_on: connect-failure, num_retries: 3 } }
            - route: { cluster: flaky }`;
  const clusters = staticClusterYaml('flaky', [dead, blue.port]);
  await withProxy({ routes, clusters, multiplexing: false }, async (courier, client) => {
    for (let i = 0; i < 6; i++) assert.equal((await client.call({ method: 'retry' }, 'r')).body, 'blue: r');
    assert.ok((await courier.stat('cluster.flaky.upstream_rq_retry')) >= 1);
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await client.call({ method: 'plain' }));
    const failed = replies.filter((r) => r.type === 'error');
    assert.ok(failed.length >= 1, 'round robin hits the dead host without retries');
    assert.ok(failed.every((r) => r.meta.get('error-type') === 'connection_failure'));
  });
});

test('a malformed frame closes the connection and counts request_decoding_error', async () => {
  await withProxy({ routes: `            - route: { cluster: blue }`, clusters: staticClusterYaml('blue', [blue.port]) }, async (courier, client) => {
    const ok = await client.call({}, 'before');
    assert.equal(ok.body, 'blue: before');
    client.writeRaw(Buffer.from([0xff, 0xff, 0xff, 0xff, 0]));
    await client.closed;
    assert.equal(await courier.stat('meta_protocol.toy.request_decoding_error'), 1);
  });
});

test('access log reads metadata with %REQ(key)% and %RESP(key)%', async () => {
  const dir = tmpDir();
  const log = path.join(dir, 'toy.log');
  const extra = `          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${log}
              log_format: { text_format_source: { inline_string: "%REQ(METHOD)% %RESP(SERVER)% %UPSTREAM_CLUSTER% %RESPONSE_FLAGS%\\n" } }`;
  const courier = await startCourier(proxyYaml({ routes: `            - route: { cluster: blue }`, clusters: staticClusterYaml('blue', [blue.port]), extra }));
  const client = await toy.ToyClient.connect(await courier.listenerPort('toy'));
  await client.call({ method: 'paint' });
  client.close();
  await courier.stop();
  assert.match(readFileSync(log, 'utf8'), /^paint blue blue -\n$/);
});

test('access log filter: a header_filter on request metadata logs only the matching calls', async () => {
  const log = path.join(tmpDir(), 'filtered.log');
  const extra = `          access_log:
          - name: envoy.access_loggers.file
            filter:
              or_filter:
                filters:
                - header_filter: { header: { name: method, string_match: { exact: paint } } }
                - response_flag_filter: { flags: [NR] }
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${log}
              log_format: { text_format_source: { inline_string: "%REQ(METHOD)% %RESPONSE_FLAGS%\\n" } }`;
  const courier = await startCourier(proxyYaml({ routes: byMethod('paint', 'blue') + '\n' + byMethod('grow', 'blue'), clusters: staticClusterYaml('blue', [blue.port]), extra }));
  const client = await toy.ToyClient.connect(await courier.listenerPort('toy'));
  for (const method of ['paint', 'grow', 'grow', 'paint', 'fly']) await client.call({ method });
  client.close();
  await courier.stop();
  assert.equal(readFileSync(log, 'utf8'), 'paint -\npaint -\nfly NR\n');
});

test('a mirror runtime_fraction follows its runtime_key: nothing at the 0% default, every call once /runtime_modify sets 100', async () => {
  const routes = `            - route:
                cluster: blue
                request_mirror_policies:
                - { cluster: mirror, runtime_fraction: { default_value: { numerator: 0 }, runtime_key: mirror.share } }`;
  const yaml = `${proxyYaml({ routes, clusters: [staticClusterYaml('blue', [blue.port]), staticClusterYaml('mirror', [mirror.port])].join('\n') })}
layered_runtime:
  layers:
  - { name: admin, admin_layer: {} }
`;
  const courier = await startCourier(yaml);
  const client = await toy.ToyClient.connect(await courier.listenerPort('toy'));
  try {
    const m0 = mirror.seen.length;
    for (let i = 0; i < 10; i++) await client.call({ method: 'paint' }, `off${i}`);
    assert.equal((await courier.admin('/runtime_modify?mirror.share=100', 'POST')).status, 200);
    for (let i = 0; i < 10; i++) await client.call({ method: 'paint' }, `on${i}`);
    await eventually(() => mirror.seen.length - m0 === 10, 'ten mirrored calls');
    assert.deepEqual(
      mirror.seen.slice(m0).map((f) => f.body.toString()),
      Array.from({ length: 10 }, (_, i) => `on${i}`),
    );
  } finally {
    client.close();
    await courier.stop();
  }
});

test('a codec module that breaks the contract stops start-up naming what is missing', async () => {
  const dir = tmpDir();
  const bad = path.join(dir, 'bad-codec.mjs');
  writeFileSync(bad, `export default { name: 'bad', createCodec: () => ({ frameLength: () => 0, encode: (m, f) => f }) };\n`);
  await assert.rejects(
    startCourier(proxyYaml({ routes: `            - route: { cluster: blue }`, clusters: staticClusterYaml('blue', [blue.port]), module: bad })),
    (e: Error) => /lacks decode\(\), onError\(\), setRequestId\(\) \(needed because protocol.multiplexing is true\)/.test(e.message),
  );
  const missing = path.join(dir, 'nowhere.mjs');
  await assert.rejects(
    startCourier(proxyYaml({ routes: `            - route: { cluster: blue }`, clusters: staticClusterYaml('blue', [blue.port]), module: missing })),
    (e: Error) => e.message.includes(`codec module "${missing}" cannot be loaded`),
  );
});

test('streams: the first frame is routed, the rest pass through both ways on a connection of their own', async () => {
  const routes = [byMethod('chat', 'green'), `            - route: { cluster: blue }`].join('\n');
  await withProxy({ routes, clusters: [staticClusterYaml('blue', [blue.port]), staticClusterYaml('green', [green.port])].join('\n') }, async (courier, client) => {
    const chat = client.stream({ method: 'chat' });
    assert.equal((await chat.next()).body, 'green: stream open');
    const other = client.stream({ method: 'other' });
    assert.equal((await other.next()).body, 'blue: stream open');
    for (const word of ['one', 'two', 'three']) {
      chat.send(word);
      assert.equal((await chat.next()).body, `green: ${word}`);
    }
    other.send('x');
    assert.equal((await other.next()).body, 'blue: x');
    // Requests keep working beside the streams.
    assert.equal((await client.call({ method: 'plain' }, 'p')).body, 'blue: p');
    chat.halfClose();
    assert.equal((await chat.next()).type, 'stream_close_two_way');
    other.halfClose();
    assert.equal((await other.next()).type, 'stream_close_two_way');
    const s = await courier.stats();
    assert.equal(s.get('meta_protocol.toy.request_stream'), 2);
    await eventually(async () => (await courier.stat('cluster.green.upstream_cx_active')) === 0, 'the stream connection closed');
  });
});

test('a stream frame for a stream never opened is a decoding error', async () => {
  const { encodeToyFrame } = (await import(pathToFileURL(CODEC).href)) as { encodeToyFrame(t: string, id: number, m: Map<string, string>, b: string): Buffer };
  await withProxy({ routes: `            - route: { cluster: blue }`, clusters: staticClusterYaml('blue', [blue.port]) }, async (courier, client) => {
    client.writeRaw(encodeToyFrame('stream_data', 99, new Map(), 'lost'));
    await client.closed;
    assert.equal(await courier.stat('meta_protocol.toy.request_decoding_error'), 1);
  });
});

test('an upstream that answers garbage: the codec bad_response error, response_decoding_error, the next call still served', async () => {
  // No real server sends bytes that are not frames: a raw socket stands in for a broken one.
  const junk = await listen((s) => s.on('data', () => s.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]))));
  const routes = [byMethod('junk', 'junk'), `            - route: { cluster: blue }`].join('\n');
  try {
    await withProxy({ routes, clusters: [staticClusterYaml('junk', [junk.port]), staticClusterYaml('blue', [blue.port])].join('\n') }, async (courier, client) => {
      const bad = await client.call({ method: 'junk' });
      assert.equal(bad.type, 'error');
      assert.equal(bad.meta.get('error-type'), 'bad_response');
      assert.match(bad.body, /bad upstream response: toy: bad frame length/);
      assert.equal((await client.call({ method: 'fine' }, 'ok')).body, 'blue: ok');
      assert.equal(await courier.stat('meta_protocol.toy.response_decoding_error'), 1);
    });
  } finally {
    await junk.close();
  }
});

test('a codec named by package is resolved from the working directory, as the user installed it', async () => {
  const dir = tmpDir();
  const pkg = path.join(dir, 'node_modules', 'toy-codec-pkg');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'toy-codec-pkg', type: 'module', exports: './index.mjs' }));
  // The package's export is named `codec` here: the loader takes it when there is no default.
  writeFileSync(path.join(pkg, 'index.mjs'), `export { default as codec } from ${JSON.stringify(pathToFileURL(CODEC).href)};\n`);
  const cwd = process.cwd();
  process.chdir(dir);
  let courier: CourierHandle | undefined;
  try {
    courier = await startCourier(proxyYaml({ routes: `            - route: { cluster: blue }`, clusters: staticClusterYaml('blue', [blue.port]), module: 'toy-codec-pkg' }));
  } finally {
    process.chdir(cwd);
  }
  const client = await toy.ToyClient.connect(await courier.listenerPort('toy'));
  try {
    assert.equal((await client.call({ method: 'pkg' }, 'from a package')).body, 'blue: from a package');
  } finally {
    client.close();
    await courier.stop();
  }
});

test('a stream with no route, or to a cluster nobody knows, is answered with the codec error on its id', async () => {
  const routes = [byMethod('ghost', 'nowhere'), byMethod('chat', 'blue')].join('\n');
  await withProxy({ routes, clusters: staticClusterYaml('blue', [blue.port]) }, async (courier, client) => {
    const open = (meta: Record<string, string>): ToyStream => client.stream(meta);
    const lost = await open({ method: 'elsewhere' }).next();
    assert.deepEqual([lost.type, lost.meta.get('error-type')], ['error', 'route_not_found']);
    assert.match(lost.body, /no route for stream method 'elsewhere'/);
    const ghost = await open({ method: 'ghost' }).next();
    assert.deepEqual([ghost.type, ghost.meta.get('error-type')], ['error', 'cluster_not_found']);
    assert.equal((await open({ method: 'chat' }).next()).body, 'blue: stream open', 'the connection still serves streams');
    assert.equal(await courier.stat('meta_protocol.toy.request_stream'), 1);
  });
});
