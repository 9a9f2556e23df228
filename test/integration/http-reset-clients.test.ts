/**
 * Clients that reset their connection while the response is coming, mixed with well-behaved
 * keep-alive clients (node:http) through one in-process Courier to a node:http upstream.
 *
 * The listener's buffer limit is small (16 KiB) so that a response read from the upstream in
 * one piece puts the downstream above its high watermark in the same read that completes the
 * response: the upstream connection was paused (read-disabled) by the downstream and, before
 * the fix, went back to the pool paused; the next request on it never read its answer.
 *
 * Every well-behaved client must get its own answer, and afterwards every gauge
 * (downstream_cx_active, downstream_rq_active, upstream_rq_active, upstream_cx_active) and the
 * process's fd count return to their baseline (the upstream closes idle keep-alive connections
 * after 300 ms, which a paused pooled connection never notices).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { startCourier, eventually, sleep, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import { hcmHeadYaml, staticClusterYaml } from '../support/configs.js';
import { listen } from '../support/peers.js';

const LIMIT = 16 * 1024;
/** Fits one upstream read (with its head), and is far above the downstream's buffer limit. */
const ONE_READ_BODY = 40 * 1024;
/** Needs several reads: the upstream is paused and resumed by the downstream midway. */
const MANY_READS_BODY = 300 * 1024;

/** Body of /big/<size>/<id>: `<id>\n` then filler, `size` bytes in all. */
function bigBody(size: number, id: string): Buffer {
  const b = Buffer.alloc(size, 0x61);
  b.write(`${id}\n`, 0, 'latin1');
  return b;
}

interface Upstream {
  port: number;
  openSockets(): number;
  close(): Promise<void>;
}

async function upstream(): Promise<Upstream> {
  const server = http.createServer((req, res) => {
    const parts = (req.url ?? '/').split('/'); // ['', 'small' | 'big', ...]
    req.resume();
    req.on('end', () => {
      if (parts[1] === 'big') {
        const body = bigBody(Number(parts[2]), parts[3] ?? '');
        res.setHeader('content-length', body.length);
        res.end(body);
      } else {
        res.end(`id:${parts[2] ?? ''}`);
      }
    });
  });
  server.keepAliveTimeout = 300; // idle upstream connections close soon: the pool must notice
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    openSockets: () => sockets.size,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function yaml(port: number, logPath: string): string {
  return `${hcmHeadYaml('ingress', logPath, '%RESPONSE_CODE% %RESPONSE_FLAGS%\n', { listener: `    per_connection_buffer_limit_bytes: ${LIMIT}` })}
            name: routes
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: backend, timeout: 0s }
  clusters:
${staticClusterYaml('backend', [port], `    per_connection_buffer_limit_bytes: ${LIMIT}`)}
`;
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

let courier: CourierHandle;
let up: Upstream;
let port: number;

before(async () => {
  up = await upstream();
  courier = await startCourier(yaml(up.port, path.join(tmpDir(), 'access.log')));
  port = await courier.listenerPort('http');
});

after(async () => {
  await courier?.stop();
  await up?.close();
});

/** Asks for a response and destroys the socket as soon as its first bytes arrive. */
function resettingClient(p: string): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.write(`GET ${p} HTTP/1.1\r\nhost: x\r\n\r\n`));
    s.once('data', () => s.destroy());
    s.setTimeout(3000, () => s.destroy()); // its answer may never come (a stuck pooled connection)
    s.on('error', () => {});
    s.on('close', () => resolve());
  });
}

/** One request on a keep-alive agent; resolves with its status and body, or 'timeout'. */
function wellBehaved(agent: http.Agent, p: string): Promise<{ status: number; body: Buffer } | 'timeout'> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    // Far longer than any answer takes here: a request on a stuck pooled connection never ends.
    req.setTimeout(3000, () => {
      req.destroy();
      resolve('timeout');
    });
    req.on('error', reject);
  });
}

test('resetting clients leave no paused pooled connection, no gauge and no fd behind', async () => {
  await sleep(100);
  const fdBaseline = openFds();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const failures: string[] = [];
  let answered = 0;
  const ROUNDS = 60;
  const work: Promise<void>[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // Per round: three resets (one-read and many-read responses) and three real clients.
    const round: Promise<void>[] = [
      resettingClient(`/big/${ONE_READ_BODY}/r${i}`),
      resettingClient(`/big/${MANY_READS_BODY}/r${i}`),
      resettingClient(`/big/${ONE_READ_BODY}/s${i}`),
    ];
    const expect = async (p: string, check: (body: Buffer) => boolean): Promise<void> => {
      const r = await wellBehaved(agent, p);
      if (r === 'timeout') failures.push(`${p}: no answer`);
      else if (r.status !== 200 || !check(r.body)) failures.push(`${p}: ${r.status} ${r.body.subarray(0, 40).toString('latin1')}`);
      else answered++;
    };
    round.push(expect(`/small/w${i}`, (b) => b.toString() === `id:w${i}`));
    round.push(expect(`/big/${ONE_READ_BODY}/b${i}`, (b) => b.length === ONE_READ_BODY && b.toString('latin1', 0, 20).startsWith(`b${i}\n`)));
    round.push(expect(`/big/${MANY_READS_BODY}/m${i}`, (b) => b.length === MANY_READS_BODY && b.toString('latin1', 0, 20).startsWith(`m${i}\n`)));
    work.push(Promise.all(round).then(() => undefined));
    if (work.length >= 6) await work.shift();
  }
  await Promise.all(work);
  agent.destroy();
  assert.deepEqual(failures, [], `${failures.length} of ${ROUNDS * 3} well-behaved requests failed`);
  assert.equal(answered, ROUNDS * 3);

  const gauges = ['http.ingress.downstream_cx_active', 'http.ingress.downstream_rq_active', 'cluster.backend.upstream_rq_active', 'cluster.backend.upstream_cx_active'];
  let last = new Map<string, number>();
  await eventually(async () => {
    const stats = await courier.stats();
    last = new Map(gauges.map((g) => [g, stats.get(g) ?? -1]));
    return gauges.every((g) => last.get(g) === 0) && up.openSockets() === 0;
  }, 'gauges back to 0', 5000).catch(() => assert.fail(`gauges not back to 0: ${JSON.stringify([...last])}, upstream sockets ${up.openSockets()}`));
  await eventually(() => openFds() <= fdBaseline, 'fd count back to baseline', 3000).catch(() => assert.fail(`fds ${openFds()} > baseline ${fdBaseline}`));
});

test('an upstream connection that received bytes beyond its response is closed, not pooled', async () => {
  // A raw upstream (no node:http server sends this) that follows each answer with an unsolicited
  // second response: a pooled connection holding it would hand it to the next request.
  const peer = await listen((s) => {
    s.on('data', () => s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nunasked'));
  });
  const c = await startCourier(yaml(peer.port, path.join(tmpDir(), 'access.log')));
  try {
    const p = await c.listenerPort('http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const bodies: string[] = [];
    for (let i = 0; i < 3; i++) {
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: p, path: `/x${i}`, agent }, (res) => {
            let b = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (b += d));
            res.on('end', () => resolve(b));
          })
          .on('error', reject);
      });
      bodies.push(body);
    }
    agent.destroy();
    assert.deepEqual(bodies, ['ok', 'ok', 'ok'], 'each request got its own answer, never the unsolicited one');
    assert.equal(await c.stat('cluster.backend.upstream_cx_total'), 3, 'one upstream connection per request');
    await eventually(async () => (await c.stat('cluster.backend.upstream_cx_active')) === 0, 'upstream connections closed');
  } finally {
    await c.stop();
    await peer.close();
  }
});
