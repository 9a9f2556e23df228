/**
 * The TCP proxy flow end to end, after Envoy's tcp_proxy_integration_test and the unit
 * cases of tcp_proxy_test (reference/envoy.md §4.1). Courier runs in-process (same code paths
 * as a worker process); peers are real sockets on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type net from 'node:net';
import { startCourier, eventually, tmpDir, sleep } from '../support/courier-harness.js';
import { tcpProxyYaml } from '../support/configs.js';
import { blackHole, closed, closedPort, connect, echoServer, listen, readAll } from '../support/peers.js';

function onceData(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => s.once('data', resolve));
}

test('bytes flow both ways and the stats count them', async () => {
  const upstream = await echoServer();
  const courier = await startCourier(tcpProxyYaml({ ports: [upstream.port] }));
  try {
    const port = await courier.listenerPort('tcp');
    const c = await connect(port);
    const all = readAll(c);
    c.end('hello courier');
    assert.equal((await all).toString(), 'hello courier');
    await eventually(async () => (await courier.stat('tcp.tcp_stats.downstream_cx_rx_bytes_total')) === 13, 'rx bytes');
    const stats = await courier.stats();
    assert.equal(stats.get('tcp.tcp_stats.downstream_cx_total'), 1);
    assert.equal(stats.get('tcp.tcp_stats.downstream_cx_tx_bytes_total'), 13);
    assert.equal(stats.get('cluster.backend.upstream_cx_total'), 1);
    assert.equal(stats.get('cluster.backend.upstream_cx_tx_bytes_total'), 13);
    assert.equal(stats.get('cluster.backend.upstream_cx_rx_bytes_total'), 13);
    await eventually(async () => (await courier.stat('cluster.backend.upstream_cx_active')) === 0, 'upstream closed');
  } finally {
    await courier.stop();
    await upstream.close();
  }
});

test('upstream writes first (server-first protocols), then half-closes', async () => {
  const upstream = await listen((s) => s.end('220 ready\r\n'));
  const courier = await startCourier(tcpProxyYaml({ ports: [upstream.port] }));
  try {
    const c = await connect(await courier.listenerPort('tcp'));
    const ended = new Promise<void>((r) => c.once('end', r));
    assert.equal((await onceData(c)).toString(), '220 ready\r\n');
    await ended; // the upstream's half-close reached the client
    // The client can still send after the server's FIN; then it half-closes too.
    c.end('QUIT\r\n');
    await closed(c);
    await eventually(async () => (await courier.stat('cluster.backend.upstream_cx_destroy')) >= 1, 'upstream destroy');
    assert.ok((await courier.stat('cluster.backend.upstream_cx_destroy_with_active_rq')) >= 1);
  } finally {
    await courier.stop();
    await upstream.close();
  }
});

test('client half-close reaches the upstream, which can still answer', async () => {
  // The upstream answers only after it has seen the client's FIN.
  const upstream = await listen((s) => {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => s.end(`got ${Buffer.concat(chunks).length} bytes then FIN`));
  });
  const courier = await startCourier(tcpProxyYaml({ ports: [upstream.port] }));
  try {
    const c = await connect(await courier.listenerPort('tcp'));
    const reply = readAll(c);
    c.write('abc');
    c.end('def');
    assert.equal((await reply).toString(), 'got 6 bytes then FIN');
  } finally {
    await courier.stop();
    await upstream.close();
  }
});

test('50 MB sent and closed towards a slow reader is all delivered; upstream_flush_active goes 1 → 0', async () => {
  const total = 50 * 1024 * 1024;
  let received = 0;
  let upstreamSocket: net.Socket | undefined;
  let upstreamEnded!: () => void;
  const done = new Promise<void>((resolve) => (upstreamEnded = resolve));
  const peer = await listen((s) => {
    upstreamSocket = s;
    s.pause(); // read-disabled until the test says so
    s.end(); // the upstream half-closes first, as in Envoy's TcpProxyUpstreamFlush
    s.on('data', (d: Buffer) => (received += d.length));
    s.on('end', upstreamEnded);
  });
  const port = peer.port;
  // As in Envoy's test, the buffers are large enough to take all 50 MB, so the proxy reads the
  // client's FIN and the downstream closes while the upstream still has everything to send.
  const limit = 64 * 1024 * 1024;
  const courier = await startCourier(
    tcpProxyYaml({ ports: [port], listenerBufferLimit: limit, clusterExtra: `    per_connection_buffer_limit_bytes: ${limit}` }),
  );
  try {
    const c = await connect(await courier.listenerPort('tcp'));
    c.on('error', () => {});
    const chunk = Buffer.alloc(1024 * 1024, 7);
    await new Promise<void>((r) => c.once('end', () => r())); // the upstream's half-close arrived
    for (let i = 0; i < 50; i++) c.write(chunk);
    c.end();
    // The downstream is fully closed (both FINs) while the upstream still holds data.
    await eventually(async () => (await courier.stat('tcp.tcp_stats.upstream_flush_active')) === 1, 'flush active', 10000);
    assert.equal(await courier.stat('tcp.tcp_stats.upstream_flush_total'), 1);
    upstreamSocket!.resume();
    await done;
    assert.equal(received, total);
    await eventually(async () => (await courier.stat('tcp.tcp_stats.upstream_flush_active')) === 0, 'flush done', 10000);
  } finally {
    await courier.stop();
    await peer.close();
  }
});

test('1 KiB buffer limit: a slow reader pauses and resumes reading equally on both sides', async () => {
  const upstream = await echoServer();
  const courier = await startCourier(
    tcpProxyYaml({ ports: [upstream.port], listenerBufferLimit: 1024, clusterExtra: '    per_connection_buffer_limit_bytes: 1024' }),
  );
  try {
    const c = await connect(await courier.listenerPort('tcp'));
    // 32 MB in 16 KiB writes, more than the loopback socket buffers on the way can hold,
    // so the proxy's own 1 KiB write buffers fill in both directions while the client
    // is not reading.
    const total = 32 * 1024 * 1024;
    const data = Buffer.alloc(total, 1);
    let got = 0;
    const echoed = new Promise<void>((resolve) =>
      c.on('data', (d: Buffer) => {
        got += d.length;
        if (got === total) resolve();
      }),
    );
    c.pause();
    for (let i = 0; i < total; i += 16 * 1024) c.write(data.subarray(i, i + 16 * 1024));
    await eventually(async () => (await courier.stat('tcp.tcp_stats.downstream_flow_control_paused_reading_total')) > 0, 'downstream paused');
    c.resume();
    await echoed;
    c.end();
    await closed(c);
    await eventually(async () => (await courier.stat('cluster.backend.upstream_cx_active')) === 0, 'closed');
    const s = await courier.stats();
    const dsPaused = s.get('tcp.tcp_stats.downstream_flow_control_paused_reading_total') ?? 0;
    const dsResumed = s.get('tcp.tcp_stats.downstream_flow_control_resumed_reading_total') ?? 0;
    const usPaused = s.get('cluster.backend.upstream_flow_control_paused_reading_total') ?? 0;
    const usResumed = s.get('cluster.backend.upstream_flow_control_resumed_reading_total') ?? 0;
    assert.ok(dsPaused > 0, 'the downstream was paused at least once');
    assert.ok(usPaused > 0, 'the upstream was paused at least once');
    assert.equal(dsPaused, dsResumed);
    assert.equal(usPaused, usResumed);
  } finally {
    await courier.stop();
    await upstream.close();
  }
});

test('connect failure: UF,URX after max_connect_attempts, upstream_cx_connect_attempts_exceeded', async () => {
  const dead = await closedPort();
  const dir = tmpDir();
  const log = path.join(dir, 'access.log');
  const courier = await startCourier(
    tcpProxyYaml({
      ports: [dead],
      tcpProxyExtra: '          max_connect_attempts: 3\n          backoff_options: { base_interval: 0.01s, max_interval: 0.05s }',
      accessLogPath: log,
      accessLogFormat: '%RESPONSE_FLAGS% %UPSTREAM_HOST% %UPSTREAM_CLUSTER%\n',
    }),
  );
  try {
    const c = await connect(await courier.listenerPort('tcp'));
    await closed(c);
    await eventually(async () => (await courier.stat('cluster.backend.upstream_cx_connect_attempts_exceeded')) === 1, 'attempts exceeded');
    assert.equal(await courier.stat('cluster.backend.upstream_cx_connect_fail'), 3);
    assert.equal(await courier.stat('cluster.backend.upstream_cx_total'), 3);
  } finally {
    await courier.stop();
  }
  assert.equal(readFileSync(log, 'utf8'), `UF,URX 127.0.0.1:${dead} backend\n`);
});

test('connect timeout counts upstream_cx_connect_timeout and gives UF,URX', async () => {
  const hole = await blackHole();
  const dir = tmpDir();
  const log = path.join(dir, 'access.log');
  const courier = await startCourier(
    tcpProxyYaml({ ports: [hole.port], clusterExtra: '    connect_timeout: 0.2s'.replace('    connect_timeout: 0.2s', ''), accessLogPath: log, accessLogFormat: '%RESPONSE_FLAGS%\n' }).replace('connect_timeout: 1s', 'connect_timeout: 0.2s'),
  );
  try {
    const c = await connect(await courier.listenerPort('tcp'));
    await closed(c);
    assert.equal(await courier.stat('cluster.backend.upstream_cx_connect_timeout'), 1);
  } finally {
    await courier.stop();
    hole.stop();
  }
  assert.equal(readFileSync(log, 'utf8'), 'UF,URX\n');
});

test('unknown cluster: NC, downstream_cx_no_route, connection closed', async () => {
  const dir = tmpDir();
  const log = path.join(dir, 'access.log');
  const upstream = await echoServer();
  const courier = await startCourier(tcpProxyYaml({ ports: [upstream.port], routeTo: 'no_such_cluster', accessLogPath: log, accessLogFormat: '%RESPONSE_FLAGS% %UPSTREAM_CLUSTER%\n' }));
  try {
    const c = await connect(await courier.listenerPort('tcp'));
    await closed(c);
    assert.equal(await courier.stat('tcp.tcp_stats.downstream_cx_no_route'), 1);
  } finally {
    await courier.stop();
    await upstream.close();
  }
  assert.equal(readFileSync(log, 'utf8'), 'NC no_such_cluster\n');
});

test('circuit breaker max_connections: the second connection gets UO and upstream_cx_overflow', async () => {
  const dir = tmpDir();
  const log = path.join(dir, 'access.log');
  const upstream = await echoServer();
  const courier = await startCourier(
    tcpProxyYaml({
      ports: [upstream.port],
      clusterExtra: '    circuit_breakers: { thresholds: [ { max_connections: 1 } ] }',
      accessLogPath: log,
      accessLogFormat: '%RESPONSE_FLAGS%\n',
    }),
  );
  try {
    const port = await courier.listenerPort('tcp');
    const first = await connect(port);
    first.write('x');
    assert.equal((await onceData(first)).toString(), 'x');
    const second = await connect(port);
    await closed(second);
    assert.equal(await courier.stat('cluster.backend.upstream_cx_overflow'), 1);
    first.end();
    await closed(first);
  } finally {
    await courier.stop();
    await upstream.close();
  }
  assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n').sort(), ['-', 'UO']);
});

test('idle timeout closes an idle connection, and traffic re-arms it', async () => {
  const upstream = await echoServer();
  const courier = await startCourier(tcpProxyYaml({ ports: [upstream.port], tcpProxyExtra: '          idle_timeout: 0.3s' }));
  try {
    const c = await connect(await courier.listenerPort('tcp'));
    let closedAt = 0;
    const gone = closed(c).then(() => (closedAt = Date.now()));
    const start = Date.now();
    let lastTraffic = 0;
    // Traffic every 100 ms for 900 ms keeps it open well past one idle period.
    for (let i = 0; i < 9; i++) {
      c.write('ping');
      await onceData(c);
      lastTraffic = Date.now();
      await sleep(100);
      assert.equal(closedAt, 0, `closed while active after ${Date.now() - start} ms`);
    }
    await gone;
    assert.ok(closedAt - lastTraffic >= 250, `closed ${closedAt - lastTraffic} ms after the last traffic`);
    assert.equal(await courier.stat('tcp.tcp_stats.idle_timeout'), 1);
  } finally {
    await courier.stop();
    await upstream.close();
  }
});

test('idle_timeout 0s disables the timer', async () => {
  const upstream = await echoServer();
  const courier = await startCourier(tcpProxyYaml({ ports: [upstream.port], tcpProxyExtra: '          idle_timeout: 0s' }));
  try {
    const c = await connect(await courier.listenerPort('tcp'));
    await sleep(400);
    assert.equal(c.destroyed, false);
    assert.equal(await courier.stat('tcp.tcp_stats.idle_timeout'), 0);
    c.end();
    await closed(c);
  } finally {
    await courier.stop();
    await upstream.close();
  }
});

test('max_downstream_connection_duration closes a busy connection', async () => {
  const upstream = await echoServer();
  const courier = await startCourier(tcpProxyYaml({ ports: [upstream.port], tcpProxyExtra: '          max_downstream_connection_duration: 0.3s' }));
  try {
    const c = await connect(await courier.listenerPort('tcp'));
    c.on('data', () => {});
    const start = Date.now();
    const timer = setInterval(() => c.write('busy'), 20);
    await closed(c);
    clearInterval(timer);
    const lived = Date.now() - start;
    assert.ok(lived >= 250 && lived < 2000, `lived ${lived} ms`);
    assert.equal(await courier.stat('tcp.tcp_stats.max_downstream_connection_duration'), 1);
  } finally {
    await courier.stop();
    await upstream.close();
  }
});

test('a pending connect is cancelled when the client leaves first', async () => {
  const hole = await blackHole();
  const dir = tmpDir();
  const log = path.join(dir, 'access.log');
  const courier = await startCourier(
    tcpProxyYaml({ ports: [hole.port], accessLogPath: log, accessLogFormat: '%RESPONSE_FLAGS%\n' }).replace('connect_timeout: 1s', 'connect_timeout: 10s'),
  );
  try {
    const c = await connect(await courier.listenerPort('tcp'));
    await eventually(async () => (await courier.stat('cluster.backend.upstream_cx_active')) === 1, 'connect started');
    c.resetAndDestroy(); // the client goes away (RST)
    // The connect is abandoned at once, long before the 10 s connect timeout.
    await eventually(async () => (await courier.stat('cluster.backend.upstream_cx_active')) === 0, 'connect cancelled', 2000);
    const s = await courier.stats();
    assert.equal(s.get('cluster.backend.upstream_cx_connect_timeout'), 0);
    assert.equal(s.get('cluster.backend.upstream_cx_destroy_local'), 1);
  } finally {
    await courier.stop();
    hole.stop();
  }
  assert.equal(readFileSync(log, 'utf8'), 'DC\n');
});

test('50 concurrent connections each get their own bytes back', async () => {
  const upstream = await echoServer();
  const courier = await startCourier(tcpProxyYaml({ ports: [upstream.port] }));
  try {
    const port = await courier.listenerPort('tcp');
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const c = await connect(port);
        const all = readAll(c);
        const payload = `connection-${i}-`.repeat(100 + i);
        c.end(payload);
        return (await all).toString() === payload;
      }),
    );
    assert.deepEqual(results, Array(50).fill(true));
    await eventually(async () => (await courier.stat('tcp.tcp_stats.downstream_cx_total')) === 50, 'all counted');
  } finally {
    await courier.stop();
    await upstream.close();
  }
});

test('no healthy host: an empty cluster gives UH and upstream_cx_none_healthy', async () => {
  const dir = tmpDir();
  const log = path.join(dir, 'access.log');
  const courier = await startCourier(tcpProxyYaml({ ports: [], accessLogPath: log, accessLogFormat: '%RESPONSE_FLAGS%\n' }).replace(/load_assignment:[\s\S]*$/, ''));
  try {
    const c = await connect(await courier.listenerPort('tcp'));
    await closed(c);
    assert.equal(await courier.stat('cluster.backend.upstream_cx_none_healthy'), 1);
  } finally {
    await courier.stop();
  }
  assert.equal(readFileSync(log, 'utf8'), 'UH\n');
});

test('the default access log format, as Envoy prints it for TCP', async () => {
  const upstream = await echoServer();
  const dir = tmpDir();
  const log = path.join(dir, 'access.log');
  const courier = await startCourier(tcpProxyYaml({ ports: [upstream.port], accessLogPath: log }));
  try {
    const c = await connect(await courier.listenerPort('tcp'));
    const all = readAll(c);
    c.end('12345');
    await all;
    await eventually(() => existsSync(log) && readFileSync(log, 'utf8').length > 0, 'access log written', 3000);
  } finally {
    await courier.stop();
    await upstream.close();
  }
  const line = readFileSync(log, 'utf8');
  assert.match(
    line,
    new RegExp(`^\\[\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\] "- - -" 0 - 5 5 \\d+ - "-" "-" "-" "-" "127\\.0\\.0\\.1:${upstream.port}"\\n$`),
  );
});
