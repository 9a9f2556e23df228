/**
 * Regenerates the seed corpora under test/fuzz/corpus/ from real peers, through a recording
 * relay on loopback: node:http and curl for HTTP/1, the npm Dubbo consumer and provider, Apache
 * Thrift's Node client and server (every transport and protocol), the toy codec's own client and
 * server. Config seeds are the bootstraps shipped in examples/ and test/fixtures/; xDS seeds are
 * resources encoded with protobufjs, as the xDS server sends them.
 *
 *   npm run build --silent && node dist/test/fuzz/make-corpus.js
 *
 * Files are written only when missing (regression seeds and hand-made ones are never touched);
 * pass --force to rewrite the recorded ones. Each recording is one direction of one
 * connection, cut to MAX_SEED_BYTES: the corpus stays in KiBs.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/courier-harness.js';
import { createConsumer, DEMO_SERVICE, java, startProvider } from '../support/dubbo-peers.js';
import { createThriftClient, startThriftServer, type ThriftPeerProtocol, type ThriftPeerTransport } from '../support/thrift-peers.js';
import { CORPUS_ROOT } from './corpus.js';
import { encodeXdsSeed } from './targets/xds.js';
import { cla, edsCluster, staticCluster, tcpListener } from '../support/xds-resources.js';

const MAX_SEED_BYTES = 4096;
const force = process.argv.includes('--force');

interface Recording {
  /** Client → server bytes. */
  up: Buffer[];
  /** Server → client bytes. */
  down: Buffer[];
}

/** A relay to `port` that records both directions of every connection. */
async function recordingRelay(port: number): Promise<{ port: number; recordings: Recording[]; close(): Promise<void> }> {
  const recordings: Recording[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const rec: Recording = { up: [], down: [] };
    recordings.push(rec);
    const upstream = net.connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.on('data', (d: Buffer) => (rec.up.push(Buffer.from(d)), upstream.write(d)));
    upstream.on('data', (d: Buffer) => (rec.down.push(Buffer.from(d)), client.write(d)));
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    recordings,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function save(target: string, name: string, bytes: Buffer, maxBytes = MAX_SEED_BYTES): void {
  const dir = path.join(CORPUS_ROOT, target);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  if (existsSync(file) && !force) return;
  writeFileSync(file, bytes.length > maxBytes ? bytes.subarray(0, maxBytes) : bytes);
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function httpSeeds(): Promise<void> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/chunked') {
        res.setHeader('Trailer', 'x-checksum');
        res.write('part one;');
        res.addTrailers({ 'x-checksum': 'abc' });
        res.end('part two');
      } else if (req.url === '/empty') {
        res.statusCode = 204;
        res.end();
      } else {
        res.setHeader('content-type', 'text/plain');
        res.end(`hello ${req.method} ${req.url}`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const relay = await recordingRelay((server.address() as net.AddressInfo).port);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const call = (method: string, p: string, body?: string, headers: Record<string, string> = {}, chunked = false): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = http.request({ port: relay.port, host: '127.0.0.1', method, path: p, agent, headers }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      if (chunked && body) {
        req.write(body.slice(0, 3));
        req.addTrailers({ 'x-trailer': 'done' });
        req.end(body.slice(3));
      } else req.end(body);
    });
  // One keep-alive connection carrying several requests: a pipelined-style stream.
  await call('GET', '/index.html?q=1', undefined, { accept: '*/*' });
  await call('POST', '/submit', 'a=1&b=2', { 'content-type': 'application/x-www-form-urlencoded' });
  await call('PUT', '/upload', 'streamed body', { 'transfer-encoding': 'chunked', trailer: 'x-trailer' }, true);
  await call('GET', '/chunked');
  await call('HEAD', '/index.html');
  await call('DELETE', '/empty');
  agent.destroy();
  await settle(50);
  // curl: HTTP/1.0, Expect: 100-continue, Upgrade.
  const curl = promisify(execFile);
  const url = `http://127.0.0.1:${relay.port}`;
  await curl('curl', ['-s', '-o', '/dev/null', '--http1.0', `${url}/old`]).catch(() => undefined);
  await curl('curl', ['-s', '-o', '/dev/null', '-H', 'Expect: 100-continue', '--data-binary', 'x'.repeat(40), `${url}/expect`]).catch(() => undefined);
  await curl('curl', ['-s', '-o', '/dev/null', '-m', '1', '-H', 'Connection: Upgrade', '-H', 'Upgrade: websocket', `${url}/ws`]).catch(() => undefined);
  await settle(100);
  relay.recordings.forEach((rec, i) => {
    save('http1-request', `node-http-${i}.http`, Buffer.concat(rec.up));
    save('http1-response', `node-http-${i}.http`, Buffer.concat(rec.down));
  });
  await relay.close();
  await new Promise<void>((r) => server.close(() => r()));
}

async function dubboSeeds(): Promise<void> {
  const provider = await startProvider({ name: 'fuzz-seed' });
  const relay = await recordingRelay(provider.port);
  const client = createConsumer(`127.0.0.1:${relay.port}`);
  try {
    await client.call(DEMO_SERVICE, 'sayHello', [java.String('world')]);
    await client.call(DEMO_SERVICE, 'sayHello', [java.String('wörld ✓ 𝄞')], { attachments: { tenant: 'ünïcode-ß', 'x-trace': 'abc' } });
    await client.call(DEMO_SERVICE, 'echo', [java.String('e')], { attachments: { group: 'g' } }).catch(() => undefined);
  } finally {
    client.close();
  }
  await settle(100);
  relay.recordings.forEach((rec, i) => {
    save('dubbo', `consumer-requests-${i}.bin`, Buffer.concat(rec.up));
    save('dubbo', `provider-responses-${i}.bin`, Buffer.concat(rec.down));
  });
  await relay.close();
  await provider.stop();
}

async function thriftSeeds(): Promise<void> {
  for (const transport of ['framed', 'unframed', 'header'] as ThriftPeerTransport[]) {
    for (const protocol of ['binary', 'compact'] as ThriftPeerProtocol[]) {
      const server = await startThriftServer({ name: 'seed', transport, protocol });
      const relay = await recordingRelay(server.port);
      const client = await createThriftClient(relay.port, { transport, protocol });
      if (transport === 'header') client.setHeader('tenant', 'blue');
      await client.echo('hello');
      await client.add(2, 40);
      await client.fail('no', 7).catch(() => undefined);
      await client.bulk({ flag: true, small: 1, short: 2, int: 3, double: 1.5, text: 'txt', list: [1, 2], map: { a: 1 } } as never).catch(() => undefined);
      await client.fire('one way');
      await settle(50);
      client.close();
      await settle(50);
      // The config byte (see targets/thrift.ts) says downstream/upstream and the configured format.
      relay.recordings.forEach((rec, i) => {
        save('thrift', `${transport}-${protocol}-requests-${i}.bin`, Buffer.concat([thriftConfigByte(transport, protocol, 'downstream'), ...rec.up]));
        save('thrift', `${transport}-${protocol}-responses-${i}.bin`, Buffer.concat([thriftConfigByte(transport, protocol, 'upstream'), ...rec.down]));
      });
      await relay.close();
      await server.stop();
    }
  }
}

function thriftConfigByte(transport: ThriftPeerTransport, protocol: ThriftPeerProtocol, side: 'downstream' | 'upstream'): Buffer {
  const t = ['auto', 'framed', 'unframed', 'header'].indexOf(transport);
  const p = ['auto', 'binary', 'compact'].indexOf(protocol);
  return Buffer.from([(side === 'upstream' ? 0x80 : 0) | (t << 2) | p]);
}

async function toySeeds(): Promise<void> {
  const toyServer = (await import(path.join(REPO_ROOT, 'examples', 'toy-codec', 'toy-server.mjs'))) as {
    startToyServer(o: { name: string }): Promise<{ port: number; close(): Promise<void> }> | { port: number; close(): Promise<void> };
  };
  const toyClient = (await import(path.join(REPO_ROOT, 'examples', 'toy-codec', 'toy-client.mjs'))) as {
    ToyClient: { connect(port: number): Promise<ToyClientLike> };
  };
  const server = await toyServer.startToyServer({ name: 'seed' });
  const relay = await recordingRelay(server.port);
  const client = await toyClient.ToyClient.connect(relay.port);
  await client.call({ method: 'echo', service: 'demo' }, 'hello');
  await client.call({}, '', 'heartbeat');
  const stream = client.stream({ method: 'chat' });
  stream.send('one');
  await stream.next();
  await stream.next();
  stream.halfClose();
  await stream.next();
  client.close();
  await settle(100);
  relay.recordings.forEach((rec, i) => {
    save('meta-user-codec', `toy-client-${i}.bin`, Buffer.concat([Buffer.from([0]), ...rec.up]));
    save('meta-user-codec', `toy-server-${i}.bin`, Buffer.concat([Buffer.from([1]), ...rec.down]));
  });
  await relay.close();
  await server.close();
}

interface ToyClientLike {
  call(meta: Record<string, string>, body?: string, type?: string): Promise<unknown>;
  stream(meta: Record<string, string>): { send(b: string): void; halfClose(): void; next(): Promise<unknown> };
  close(): void;
}

function configSeeds(): void {
  const files = [
    ['examples', 'tcp-proxy.yaml'],
    ['examples', 'dubbo-proxy.yaml'],
    ['examples', 'http-proxy.yaml'],
    ['examples', 'meta-protocol-toy.yaml'],
    ['test', 'fixtures', 'reference', 'bootstrap-example.yaml'],
  ];
  // Whole files: a cut YAML document would only test the YAML parser.
  for (const f of files) save('config', f.at(-1)!, readFileSync(path.join(REPO_ROOT, ...f)), Infinity);
}

function xdsSeeds(): void {
  const seeds: Array<[string, string, unknown]> = [
    ['cluster-eds', 'CDS', edsCluster('c1')],
    ['cluster-static', 'CDS', staticCluster('c2', [8080, 8081])],
    ['endpoints', 'EDS', cla('c1', [{ port: 9000 }, { port: 9001, weight: 3 }] as never)],
    ['listener-tcp', 'LDS', tcpListener('l1', 'c1', 10000)],
  ];
  for (const [name, kind, json] of seeds) save('xds', `${name}.bin`, encodeXdsSeed(kind, json));
  // protobufjs refuses to encode deep nesting, so this one is written field by field: a route
  // whose typed_per_filter_config holds a Struct nested 40 deep (mutations grow it).
  save('xds', 'route-deep-struct.bin', Buffer.concat([Buffer.from([1]), deepStructRoute(40)]));
}

function deepStructRoute(depth: number): Buffer {
  const varint = (n: number): Buffer => {
    const b: number[] = [];
    for (; n > 127; n >>>= 7) b.push((n & 127) | 128);
    b.push(n);
    return Buffer.from(b);
  };
  const ld = (field: number, bytes: Buffer | string): Buffer => {
    const x = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    return Buffer.concat([varint((field << 3) | 2), varint(x.length), x]);
  };
  let value = ld(3, 'x'); // Value.string_value
  for (let i = 0; i < depth; i++) value = ld(5, ld(1, Buffer.concat([ld(1, 'a'), ld(2, value)]))); // Value.struct_value
  const struct = ld(1, Buffer.concat([ld(1, 'a'), ld(2, value)]));
  const any = Buffer.concat([ld(1, 'type.googleapis.com/google.protobuf.Struct'), ld(2, struct)]);
  const vhost = Buffer.concat([ld(1, 'v'), ld(2, '*'), ld(15, Buffer.concat([ld(1, 'f'), ld(2, any)]))]);
  return Buffer.concat([ld(1, 'r'), ld(2, vhost)]);
}

// `node --test dist/test/` runs every file under a test/ folder: as a test file this is a no-op.
if (process.env['NODE_TEST_CONTEXT'] !== undefined) process.exit(0);
configSeeds();
xdsSeeds();
await httpSeeds();
await dubboSeeds();
await thriftSeeds();
await toySeeds();
process.exit(0);
