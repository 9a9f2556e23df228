/**
 * LOGICAL_DNS clusters behind tcp_proxy and the HTTP connection manager, resolved through a
 * c-ares resolver pointed at a DNS server on loopback. Node has no DNS server, so the server
 * is a small stand-in (test/support/dns-server.ts) that answers A records with the TTLs the
 * test picks and changes its answers while Courier runs. The backends listen on two loopback
 * addresses (127.0.0.2 and 127.0.0.3) with one port, so only the DNS answer tells them apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startDnsServer, type DnsTestServer } from '../support/dns-server.js';
import { eventually, sleep, startCourier, tmpDir } from '../support/courier-harness.js';
import { ADMIN_YAML, hcmHeadYaml, listenerHeadYaml, catchAllVirtualHostYaml } from '../support/configs.js';
import { connect } from '../support/peers.js';

const NAME = 'backend.courier.test';

/** A LOGICAL_DNS cluster "backend" for NAME:port, asking the test DNS server; `extra` are Cluster fields (4 spaces in). */
function logicalClusterYaml(dnsPort: number, port: number, extra = ''): string {
  return `  - name: backend
    connect_timeout: 1s
    type: LOGICAL_DNS
    dns_lookup_family: V4_ONLY
${extra ? `${extra}\n` : ''}    typed_dns_resolver_config:
      name: envoy.network.dns_resolver.cares
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig
        resolvers:
        - socket_address: { address: 127.0.0.1, port_value: ${dnsPort} }
    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: ${NAME}, port_value: ${port} } } }`;
}

function tcpYaml(dnsPort: number, port: number, extra: string): string {
  return `${ADMIN_YAML}
static_resources:
  listeners:
${listenerHeadYaml('tcp')}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp
          cluster: backend
  clusters:
${logicalClusterYaml(dnsPort, port, extra)}
`;
}

/** Two servers on 127.0.0.2 and 127.0.0.3 with the same port (retried until a port is free on both). */
async function twoAddresses<S extends net.Server>(make: (name: string) => S): Promise<{ port: number; servers: S[] }> {
  for (let tries = 0; tries < 20; tries++) {
    const a = track(make('a'));
    await new Promise<void>((r) => a.listen(0, '127.0.0.2', r));
    const port = (a.address() as net.AddressInfo).port;
    const b = track(make('b'));
    const ok = await new Promise<boolean>((r) => {
      b.once('error', () => r(false));
      b.listen(port, '127.0.0.3', () => r(true));
    });
    if (ok) return { port, servers: [a, b] };
    a.close();
  }
  throw new Error('no port free on both 127.0.0.2 and 127.0.0.3');
}

/** Sockets the backends accepted, closed with them at the end of a test. */
const backendSockets = new Set<net.Socket>();

function track<S extends net.Server>(server: S): S {
  server.on('connection', (c: net.Socket) => {
    backendSockets.add(c);
    c.on('error', () => {});
    c.on('close', () => backendSockets.delete(c));
  });
  return server;
}

/** TCP backend: says its name on connect, then echoes. */
function greeter(name: string): net.Server {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.write(`${name}\n`);
    s.pipe(s);
  });
  return server;
}

function readSome(s: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    s.once('data', (d) => resolve(d.toString()));
    s.once('error', reject);
  });
}

async function greeting(port: number): Promise<string> {
  const s = await connect(port);
  try {
    return (await readSome(s)).trim();
  } finally {
    s.destroy();
  }
}

function closeAll(servers: net.Server[]): Promise<void> {
  for (const c of backendSockets) c.destroy();
  return Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((r) => {
          s.close(() => r());
        }),
    ),
  ).then(() => {});
}

async function withDns<T>(run: (dns: DnsTestServer) => Promise<T>): Promise<T> {
  const dns = await startDnsServer();
  try {
    return await run(dns);
  } finally {
    await dns.close();
  }
}

test('tcp_proxy to a LOGICAL_DNS cluster: new connections follow the DNS answer, an open one stays; /clusters shows the host', () =>
  withDns(async (dns) => {
    const { port, servers } = await twoAddresses(greeter);
    dns.set(NAME, { a: ['127.0.0.2'], ttl: 30 });
    const courier = await startCourier(tcpYaml(dns.port, port, '    dns_refresh_rate: 0.2s'));
    try {
      const listener = await courier.listenerPort('tcp');
      const old = await connect(listener);
      assert.equal((await readSome(old)).trim(), 'a');
      dns.set(NAME, { a: ['127.0.0.3', '127.0.0.2'], ttl: 30 });
      await eventually(async () => (await greeting(listener)) === 'b', 'a new connection reaches the new first address');
      old.write('still here');
      assert.equal(await readSome(old), 'still here', 'the connection opened before the change still talks to a');
      old.destroy();
      const clusters = (await courier.admin('/clusters')).body;
      assert.match(clusters, new RegExp(`backend::127\\.0\\.0\\.3:${port}::hostname::${NAME.replace(/\./g, '\\.')}`));
      assert.doesNotMatch(clusters, /backend::127\.0\.0\.2:/, 'one logical host, not one host per address');
      assert.ok((await courier.stat('cluster.backend.update_attempt')) >= 2);
      assert.ok((await courier.stat('cluster.backend.update_success')) >= 2);
      assert.equal(await courier.stat('cluster.backend.update_failure'), 0);
      assert.ok(dns.questions.every((q) => q === `${NAME} A`), `V4_ONLY asks A only: ${dns.questions.join(', ')}`);
    } finally {
      await courier.stop();
      await closeAll(servers);
    }
  }));

test('LOGICAL_DNS keeps the last good address when resolution fails (SERVFAIL) or answers nothing', () =>
  withDns(async (dns) => {
    const { port, servers } = await twoAddresses(greeter);
    dns.set(NAME, { a: ['127.0.0.3'] });
    const courier = await startCourier(tcpYaml(dns.port, port, '    dns_refresh_rate: 0.1s\n    dns_failure_refresh_rate: { base_interval: 0.05s, max_interval: 0.2s }'));
    try {
      const listener = await courier.listenerPort('tcp');
      assert.equal(await greeting(listener), 'b');
      dns.fail('servfail');
      await eventually(async () => (await courier.stat('cluster.backend.update_failure')) >= 2, 'failed resolutions are counted');
      assert.equal(await greeting(listener), 'b', 'still the last good address');
      dns.fail('none');
      dns.set(NAME, { a: [] });
      const before = await courier.stat('cluster.backend.update_failure');
      await eventually(async () => (await courier.stat('cluster.backend.update_failure')) > before, 'an empty answer does not update the host');
      assert.equal(await greeting(listener), 'b');
      assert.match((await courier.admin('/clusters')).body, new RegExp(`backend::127\\.0\\.0\\.3:${port}::`));
      dns.set(NAME, { a: ['127.0.0.2'] });
      await eventually(async () => (await greeting(listener)) === 'a', 'a good answer after failures is used');
    } finally {
      await courier.stop();
      await closeAll(servers);
    }
  }));

test('respect_dns_ttl: the next resolution comes after the record TTL, not dns_refresh_rate', () =>
  withDns(async (dns) => {
    const { port, servers } = await twoAddresses(greeter);
    dns.set(NAME, { a: ['127.0.0.2'], ttl: 1 });
    // dns_refresh_rate of an hour: any second question within seconds comes from the TTL.
    const courier = await startCourier(tcpYaml(dns.port, port, '    dns_refresh_rate: 3600s\n    respect_dns_ttl: true'));
    try {
      await eventually(async () => (await courier.stat('cluster.backend.update_success')) >= 3, 'resolved again each 1 s TTL', 8000);
      dns.set(NAME, { a: ['127.0.0.3'], ttl: 3600 });
      const listener = await courier.listenerPort('tcp');
      await eventually(async () => (await greeting(listener)) === 'b', 'the change is seen at the next TTL expiry', 8000);
      const settled = await courier.stat('cluster.backend.update_attempt');
      await sleep(1500);
      assert.equal(await courier.stat('cluster.backend.update_attempt'), settled, 'a 3600 s TTL means no question for an hour');
    } finally {
      await courier.stop();
      await closeAll(servers);
    }
    // Without respect_dns_ttl the same 1 s TTL is ignored.
    dns.set(NAME, { a: ['127.0.0.2'], ttl: 1 });
    const plain = await startCourier(tcpYaml(dns.port, port, '    dns_refresh_rate: 3600s'));
    try {
      await sleep(2500);
      assert.equal(await plain.stat('cluster.backend.update_attempt'), 1);
    } finally {
      await plain.stop();
    }
  }));

test('HCM to a LOGICAL_DNS cluster: a request in flight finishes on the old host, new requests go to the new one', () =>
  withDns(async (dns) => {
    let releaseSlow: () => void = () => {};
    const slowReleased = new Promise<void>((r) => (releaseSlow = r));
    const { port, servers } = await twoAddresses((name) =>
      http.createServer((req, res) => {
        if (req.url === '/slow') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write(`${name}-start;`);
          void slowReleased.then(() => res.end(`${name}-end`));
          return;
        }
        res.end(name);
      }),
    );
    dns.set(NAME, { a: ['127.0.0.2'] });
    const yaml = `${hcmHeadYaml('ingress', `${tmpDir()}/access.log`, '%RESPONSE_CODE%\n')}
${catchAllVirtualHostYaml('backend')}
  clusters:
${logicalClusterYaml(dns.port, port, '    dns_refresh_rate: 0.2s')}
`;
    const courier = await startCourier(yaml);
    try {
      const listener = await courier.listenerPort('http');
      const slowBody = new Promise<string>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: listener, path: '/slow', agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
      });
      await eventually(async () => (await courier.stat('cluster.backend.upstream_rq_active')) === 1, 'the slow request reached a');
      dns.set(NAME, { a: ['127.0.0.3'] });
      await eventually(async () => /backend::127\.0\.0\.3:/.test((await courier.admin('/clusters')).body), 'the new address is in /clusters');
      const fresh = await fetchText(listener, '/');
      assert.equal(fresh, 'b');
      releaseSlow();
      assert.equal(await slowBody, 'a-start;a-end', 'the request in flight was not cut');
    } finally {
      releaseSlow();
      await courier.stop();
      await closeAll(servers);
    }
  }));

function fetchText(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

test('STRICT_DNS through the same c-ares resolver: every address is a host; an empty answer empties the cluster', () =>
  withDns(async (dns) => {
    const { port, servers } = await twoAddresses(greeter);
    dns.set(NAME, { a: ['127.0.0.2', '127.0.0.3'] });
    const courier = await startCourier(tcpYaml(dns.port, port, '    dns_refresh_rate: 0.1s').replace('type: LOGICAL_DNS', 'type: STRICT_DNS'));
    try {
      const listener = await courier.listenerPort('tcp');
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) seen.add(await greeting(listener));
      assert.deepEqual([...seen].sort(), ['a', 'b']);
      assert.equal(await courier.stat('cluster.backend.membership_total'), 2);
      dns.set(NAME, { a: [] });
      await eventually(async () => (await courier.stat('cluster.backend.membership_total')) === 0, 'a successful empty answer leaves no host');
    } finally {
      await courier.stop();
      await closeAll(servers);
    }
  }));
