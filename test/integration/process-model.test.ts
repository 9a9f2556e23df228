/**
 * Courier as users run it: the real `courier` command with worker processes. Bulk transfer
 * across workers, a crashed worker restarted and counted, drain on SIGTERM and on
 * /quitquitquit with connections open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type net from 'node:net';
import { startCourier, eventually, sleep } from '../support/courier-harness.js';
import { tcpProxyYaml } from '../support/configs.js';
import { closed, connect, echoServer, listen, readAll } from '../support/peers.js';

test('100 MB through --concurrency 2 arrives intact (sha256 equal on both ends)', async () => {
  const total = 100 * 1024 * 1024;
  const upstreamHash = createHash('sha256');
  let upstreamBytes = 0;
  let upstreamDone!: () => void;
  const done = new Promise<void>((r) => (upstreamDone = r));
  const sink = await listen((s) => {
    s.on('data', (d: Buffer) => {
      upstreamHash.update(d);
      upstreamBytes += d.length;
    });
    s.on('end', () => {
      s.end();
      upstreamDone();
    });
  });
  const courier = await startCourier(tcpProxyYaml({ ports: [sink.port] }), { processes: 2 });
  try {
    const c = await connect(await courier.listenerPort('tcp'));
    const sentHash = createHash('sha256');
    const block = randomBytes(1024 * 1024);
    for (let i = 0; i < 100; i++) {
      // Vary each block so a reordering or a dropped chunk changes the hash.
      block.writeUInt32BE(i, 0);
      sentHash.update(block);
      if (!c.write(Buffer.from(block))) await new Promise((r) => c.once('drain', r));
    }
    c.end();
    await done;
    await closed(c);
    assert.equal(upstreamBytes, total);
    assert.equal(upstreamHash.digest('hex'), sentHash.digest('hex'));
  } finally {
    await courier.stop();
    await sink.close();
  }
});

test('connections spread over both workers; stats are summed across them', async () => {
  const upstream = await echoServer();
  const courier = await startCourier(tcpProxyYaml({ ports: [upstream.port] }), { processes: 2 });
  try {
    const port = await courier.listenerPort('tcp');
    for (let i = 0; i < 40; i++) {
      const c = await connect(port);
      const all = readAll(c);
      c.end('x');
      await all;
    }
    await eventually(async () => (await courier.stat('tcp.tcp_stats.downstream_cx_total')) === 40, '40 connections counted');
    const s = await courier.stats();
    const w0 = s.get('listener.127.0.0.1_0.worker_0.downstream_cx_total') ?? 0;
    const w1 = s.get('listener.127.0.0.1_0.worker_1.downstream_cx_total') ?? 0;
    assert.equal(w0 + w1, 40);
    assert.ok(w0 > 0 && w1 > 0, `both workers served (worker_0 ${w0}, worker_1 ${w1})`);
    assert.equal(s.get('server.concurrency'), 2);
  } finally {
    await courier.stop();
    await upstream.close();
  }
});

test('a crashed worker is restarted, counted in server.worker_restarts, and its counters kept', async () => {
  const upstream = await echoServer();
  const courier = await startCourier(tcpProxyYaml({ ports: [upstream.port] }), { processes: 2 });
  try {
    const port = await courier.listenerPort('tcp');
    for (let i = 0; i < 10; i++) {
      const c = await connect(port);
      const all = readAll(c);
      c.end('before');
      await all;
    }
    await eventually(async () => (await courier.stat('tcp.tcp_stats.downstream_cx_total')) === 10, 'counted');
    // Find one worker process (a child of courier) and kill it as a crash would.
    const { execFileSync } = await import('node:child_process');
    const children = execFileSync('pgrep', ['-P', String(courier.child!.pid)]).toString().trim().split('\n').map(Number);
    assert.equal(children.length, 2);
    process.kill(children[0]!, 'SIGKILL');
    await eventually(async () => (await courier.stat('server.worker_restarts')) === 1, 'restart counted', 8000);
    await eventually(
      () => execFileSync('pgrep', ['-P', String(courier.child!.pid)]).toString().trim().split('\n').length === 2,
      'two workers again',
      8000,
    );
    // Totals never go back, and the proxy keeps serving.
    assert.ok((await courier.stat('tcp.tcp_stats.downstream_cx_total')) >= 10);
    for (let i = 0; i < 10; i++) {
      const c = await connect(port);
      const all = readAll(c);
      c.end('after');
      assert.equal((await all).toString(), 'after');
    }
    await eventually(async () => (await courier.stat('tcp.tcp_stats.downstream_cx_total')) === 20, 'all 20 counted');
  } finally {
    await courier.stop();
    await upstream.close();
  }
});

async function drainScenario(trigger: (courier: Awaited<ReturnType<typeof startCourier>>) => Promise<void>): Promise<void> {
  const upstream = await echoServer();
  const courier = await startCourier(tcpProxyYaml({ ports: [upstream.port] }), { processes: 2, drainTimeS: 2 });
  const port = await courier.listenerPort('tcp');
  const open: net.Socket = await connect(port);
  const roundTrip = async (s: net.Socket, text: string): Promise<string> => {
    s.write(text);
    return new Promise((r) => s.once('data', (d) => r(String(d))));
  };
  assert.equal(await roundTrip(open, 'one'), 'one');
  let closedAt = 0;
  const openClosed = closed(open).then(() => (closedAt = Date.now()));
  const started = Date.now();
  await trigger(courier);
  // New connections are refused once the listeners stop...
  await eventually(
    () =>
      connect(port).then(
        (s) => (s.destroy(), false),
        () => true,
      ),
    'listener stopped',
  );
  // ...while the open one keeps working during the drain period.
  assert.equal(await roundTrip(open, 'two'), 'two');
  await openClosed;
  const drained = closedAt - started;
  assert.ok(drained >= 1500 && drained < 6000, `open connection closed after ${drained} ms (drain time 2 s)`);
  await courier.stop(); // exits 0, or this throws
  await upstream.close();
}

test('SIGTERM drains: stop accepting, open connections finish up to --drain-time-s, exit 0', async () => {
  await drainScenario(async (courier) => {
    courier.child!.kill('SIGTERM');
  });
});

test('POST /quitquitquit drains the same way', async () => {
  await drainScenario(async (courier) => {
    const r = await courier.admin('/quitquitquit', 'POST');
    assert.equal(r.status, 200);
    await sleep(50);
    const ready = await courier.admin('/ready').catch(() => ({ status: 0, body: '' }));
    if (ready.status !== 0) assert.equal(ready.status, 503);
  });
});
