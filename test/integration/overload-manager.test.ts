/**
 * overload_manager over real connections: the global downstream connection limit counted
 * across listeners and worker processes, and the fixed_heap monitor driving the actions
 * (a max_heap_size_bytes far below what any Node process uses stands in for a full heap).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { eventually, sleep, startCourier, tmpDir } from '../support/courier-harness.js';
import { ADMIN_YAML, hcmHeadYaml, listenerHeadYaml, staticClusterYaml, catchAllVirtualHostYaml } from '../support/configs.js';
import { connect, echoServer, listen } from '../support/peers.js';

function overloadYaml(monitor: string, actions: Array<[string, string]>, refresh = '0.05s'): string {
  return `
overload_manager:
  refresh_interval: ${refresh}
  resource_monitors:
${monitor}
  actions:${actions.length === 0 ? ' []' : ''}
${actions.map(([name, trigger]) => `  - name: ${name}\n    triggers:\n    - name: envoy.resource_monitors.fixed_heap\n      ${trigger}`).join('\n')}`;
}

const GLOBAL_MAX = (n: number): string => `  - name: envoy.resource_monitors.global_downstream_max_connections
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
      max_active_downstream_connections: ${n}`;

const FIXED_HEAP = (bytes: number): string => `  - name: envoy.resource_monitors.fixed_heap
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig
      max_heap_size_bytes: ${bytes}`;

function tcpListenerYaml(name: string): string {
  return `${listenerHeadYaml(name)}
    stat_prefix: ${name}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: ${name}
          cluster: backend`;
}

/** Two tcp_proxy listeners to one echo backend, and `overload`. */
function twoListenersYaml(backendPort: number, overload: string): string {
  return `${ADMIN_YAML}
static_resources:
  listeners:
${tcpListenerYaml('one')}
${tcpListenerYaml('two')}
  clusters:
${staticClusterYaml('backend', [backendPort])}
${overload}
`;
}

/** Connects, sends `text`, and resolves with what came back before the connection ended or `waitMs` passed. */
async function exchange(s: net.Socket, text: string, waitMs = 3000): Promise<{ data: string; closed: boolean }> {
  let data = '';
  let closed = false;
  s.on('data', (d) => (data += d));
  s.on('error', () => {});
  // 'end': the peer closed (these test sockets allow half-open connections); 'close': reset.
  const ended = new Promise<void>((r) => {
    const done = (): void => ((closed = true), r());
    s.once('end', done);
    s.once('close', done);
  });
  s.write(text);
  const deadline = Date.now() + waitMs;
  while (!closed && data.length < text.length && Date.now() < deadline) await Promise.race([ended, sleep(20)]);
  return { data, closed };
}

async function sum(courier: { stats(): Promise<Map<string, number>> }, suffix: string): Promise<number> {
  let total = 0;
  for (const [name, value] of await courier.stats()) if (name.endsWith(suffix)) total += value;
  return total;
}

test('global_downstream_max_connections 3 over two listeners and two worker processes: the 4th connection is closed at once and counted', async () => {
  const backend = await echoServer();
  const courier = await startCourier(twoListenersYaml(backend.port, overloadYaml(GLOBAL_MAX(3), [])), { processes: 2 });
  const open: net.Socket[] = [];
  try {
    const one = await courier.listenerPort('one');
    const two = await courier.listenerPort('two');
    for (const port of [one, two, one]) {
      const s = await connect(port);
      open.push(s);
      assert.deepEqual(await exchange(s, 'hi'), { data: 'hi', closed: false }, 'the first three are proxied');
    }
    for (const port of [two, one]) {
      const s = await connect(port);
      const r = await exchange(s, 'nope');
      assert.deepEqual(r, { data: '', closed: true }, 'over the limit: closed without a byte proxied');
    }
    await eventually(async () => (await sum(courier, '.downstream_global_cx_overflow')) === 2, 'listener.<name>.downstream_global_cx_overflow counts both');
    const accepted = (await courier.stat('listener.one.downstream_cx_total')) + (await courier.stat('listener.two.downstream_cx_total'));
    assert.equal(accepted, 3, 'refused connections never became listener connections');
    // A place frees when a connection closes, whichever worker held it.
    open.shift()!.destroy();
    await eventually(async () => {
      const s = await connect(two);
      const r = await exchange(s, 'again', 1000);
      s.destroy();
      return r.data === 'again';
    }, 'a connection is accepted again once one closed');
  } finally {
    for (const s of open) s.destroy();
    await courier.stop();
    await backend.close();
  }
});

test('global_downstream_max_connections with one worker counts alone (in-process)', async () => {
  const backend = await echoServer();
  const courier = await startCourier(twoListenersYaml(backend.port, overloadYaml(GLOBAL_MAX(1), [])));
  try {
    const first = await connect(await courier.listenerPort('one'));
    assert.equal((await exchange(first, 'a')).data, 'a');
    const second = await connect(await courier.listenerPort('two'));
    assert.equal((await exchange(second, 'b')).closed, true);
    assert.equal(await courier.stat('listener.two.downstream_global_cx_overflow'), 1);
    first.destroy();
  } finally {
    await courier.stop();
    await backend.close();
  }
});

function hcmYaml(logPath: string, overload: string, backendPort: number): string {
  return `${hcmHeadYaml('ingress', logPath, '%RESPONSE_CODE% %RESPONSE_FLAGS%\n')}
${catchAllVirtualHostYaml('backend')}
  clusters:
${staticClusterYaml('backend', [backendPort])}
${overload}
`;
}

/** A GET; with `agent`, on a keep-alive connection (without, Node's client itself asks connection: close). */
function get(port: number, agent: http.Agent | false = false): Promise<{ status: number; body: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers['connection'] }));
      })
      .on('error', reject);
  });
}

async function okBackend(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

test('fixed_heap over its threshold: stop_accepting_requests answers 503 "envoy overloaded" with flag OM; stats', async () => {
  const backend = await okBackend();
  const log = `${tmpDir()}/access.log`;
  const yaml = hcmYaml(log, overloadYaml(FIXED_HEAP(1_000_000), [['envoy.overload_actions.stop_accepting_requests', 'threshold: { value: 0.95 }']]), backend.port);
  const courier = await startCourier(yaml);
  try {
    await eventually(async () => (await courier.stat('overload.envoy.overload_actions.stop_accepting_requests.active')) === 1, 'the action saturates');
    assert.ok((await courier.stat('overload.envoy.resource_monitors.fixed_heap.pressure')) > 100, 'pressure in percent, over 100');
    assert.equal(await courier.stat('overload.envoy.overload_actions.stop_accepting_requests.scale_percent'), 100);
    const port = await courier.listenerPort('http');
    const r = await eventually(async () => {
      const res = await get(port);
      return res.status === 503 ? res : undefined;
    }, 'the worker applies the state');
    assert.equal(r!.body, 'envoy overloaded');
    assert.ok((await courier.stat('http.ingress.downstream_rq_overload_close')) >= 1);
    await eventually(() => readFileSync(log, 'utf8').includes('503 OM'), 'access log shows the OM flag');
  } finally {
    await courier.stop();
    await backend.close();
  }
});

test('fixed_heap under its threshold: nothing is shed', async () => {
  const backend = await okBackend();
  const yaml = hcmYaml(`${tmpDir()}/access.log`, overloadYaml(FIXED_HEAP(1e15), [['envoy.overload_actions.stop_accepting_requests', 'threshold: { value: 0.95 }']]), backend.port);
  const courier = await startCourier(yaml);
  try {
    await eventually(async () => (await courier.stats()).has('overload.envoy.resource_monitors.fixed_heap.pressure'), 'the monitor reports');
    await sleep(200); // a few refresh intervals
    const port = await courier.listenerPort('http');
    assert.equal((await get(port)).status, 200);
    assert.equal(await courier.stat('overload.envoy.overload_actions.stop_accepting_requests.active'), 0);
  } finally {
    await courier.stop();
    await backend.close();
  }
});

test('disable_http_keepalive (scaled trigger, saturated): responses say connection: close and are counted', async () => {
  const backend = await okBackend();
  const action: [string, string] = ['envoy.overload_actions.disable_http_keepalive', 'scaled: { scaling_threshold: 0.5, saturation_threshold: 0.9 }'];
  const courier = await startCourier(hcmYaml(`${tmpDir()}/access.log`, overloadYaml(FIXED_HEAP(1_000_000), [action]), backend.port));
  try {
    await eventually(async () => (await courier.stat('overload.envoy.overload_actions.disable_http_keepalive.active')) === 1, 'the action saturates');
    const port = await courier.listenerPort('http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const r = await eventually(async () => {
      const res = await get(port, agent);
      return res.connection === 'close' ? res : undefined;
    }, 'the worker applies the state');
    agent.destroy();
    assert.equal(r!.status, 200);
    assert.ok((await courier.stat('http.ingress.downstream_cx_overload_disable_keepalive')) >= 1);
  } finally {
    await courier.stop();
    await backend.close();
  }
});

test('reject_incoming_connections closes new connections at once (downstream_cx_overload_reject); stop_accepting_connections holds them unread', async () => {
  const backend = await echoServer();
  const reject = await startCourier(
    twoListenersYaml(backend.port, overloadYaml(FIXED_HEAP(1_000_000), [['envoy.overload_actions.reject_incoming_connections', 'threshold: { value: 0.5 }']])),
  );
  try {
    await eventually(async () => (await reject.stat('overload.envoy.overload_actions.reject_incoming_connections.active')) === 1, 'the action saturates');
    const port = await reject.listenerPort('one');
    await eventually(async () => (await exchange(await connect(port), 'x', 1000)).closed, 'a new connection is closed');
    assert.ok((await reject.stat('listener.one.downstream_cx_overload_reject')) >= 1);
  } finally {
    await reject.stop();
  }
  const seen: net.Socket[] = [];
  const counting = await listen((s) => seen.push(s));
  const stop = await startCourier(
    twoListenersYaml(counting.port, overloadYaml(FIXED_HEAP(1_000_000), [['envoy.overload_actions.stop_accepting_connections', 'threshold: { value: 0.5 }']])),
  );
  try {
    await eventually(async () => (await stop.stat('overload.envoy.overload_actions.stop_accepting_connections.active')) === 1, 'the action saturates');
    await sleep(100); // the worker applies the state it was posted
    const held = await connect(await stop.listenerPort('one'));
    const r = await exchange(held, 'x', 500);
    assert.deepEqual(r, { data: '', closed: false }, 'connected (kernel backlog) but not read');
    assert.equal(seen.length, 0, 'no upstream connection was made for it');
    assert.equal(await stop.stat('listener.one.downstream_cx_total'), 0);
    held.destroy();
  } finally {
    await stop.stop();
    await counting.close();
    await backend.close();
  }
});
