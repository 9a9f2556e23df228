/**
 * Signals and drain, as an operator meets them: the real `courier` command with two worker
 * processes, signals sent to their real PIDs, log rotation by renaming the access log file.
 *
 * - SIGUSR1 reopens access logs and never opens Node's inspector (a debugger port any local
 *   user could run code through), on main nor on a worker; SIGHUP is ignored with a log line.
 * - POST /reopen_logs does what SIGUSR1 does.
 * - /drain_listeners shows in total_listeners_draining, /ready, /server_info; /healthcheck/ok
 *   does not say OK while draining; SIGTERM logs the drain deadline, then closes what is still
 *   open at it, says how many, and access-logs those connections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { eventually, httpRequest, sleep, startCourier, tmpDir } from '../support/courier-harness.js';
import { hcmHeadYaml, staticClusterYaml, tcpProxyYaml, catchAllVirtualHostYaml } from '../support/configs.js';
import { closed, connect, echoServer } from '../support/peers.js';
import { workerPids } from '../support/processes.js';

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** A port P with P, P+1 and P+2 free now (inspector ports: main's, then one per worker). */
async function freePortRun(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    const taken = await Promise.all([0, 1, 2].map((i) => listening(base + i)));
    if (taken.every((t) => !t)) return base;
  }
  throw new Error('no three free ports in a row');
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
}

test('SIGUSR1 opens no inspector port on main or a worker (it does on a plain node process); SIGHUP is ignored with a log line', async () => {
  const base = await freePortRun();
  // The probe works: a node process without a handler opens its inspector on SIGUSR1.
  const control = spawn(process.execPath, [`--inspect-port=${base + 2}`, '-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
  try {
    await sleep(300);
    control.kill('SIGUSR1');
    await eventually(() => listening(base + 2), `the control process's inspector on ${base + 2}`, 5000);
  } finally {
    control.kill('SIGKILL');
  }
  await eventually(async () => !(await listening(base + 2)), 'the control inspector port to close');

  const backend = await echoServer();
  // Workers forked by node:cluster inherit --inspect-port and take the next ports.
  const courier = await startCourier(tcpProxyYaml({ ports: [backend.port] }), { processes: 2, logLevel: 'info', nodeArgs: [`--inspect-port=${base}`] });
  try {
    const mainPid = courier.child!.pid!;
    const workers = workerPids(mainPid);
    assert.equal(workers.length, 2, `two worker processes under ${mainPid}`);
    for (const pid of [mainPid, ...workers]) {
      process.kill(pid, 'SIGUSR1');
      process.kill(pid, 'SIGHUP');
    }
    await eventually(() => courier.output().includes('caught SIGUSR1: reopening access logs'), 'the SIGUSR1 log line');
    await eventually(() => courier.output().includes('caught and eating SIGHUP'), 'the SIGHUP log line');
    // Give an inspector (were one started) the time it takes the control process to open it.
    await sleep(1000);
    for (const port of [base, base + 1, base + 2]) assert.equal(await listening(port), false, `no inspector on ${port}`);
    assert.doesNotMatch(courier.output(), /Debugger listening/);
    // Nobody died of SIGHUP or SIGUSR1: same workers, no restart, still serving.
    assert.deepEqual(workerPids(mainPid).sort(), [...workers].sort());
    assert.equal(await courier.stat('server.worker_restarts'), 0);
    assert.equal((await courier.admin('/ready')).status, 200);
    const s = await connect(await courier.listenerPort('tcp'));
    s.end('ping');
    await closed(s);
  } finally {
    await courier.stop();
    await backend.close();
  }
});

/** 200 from a local HTTP backend for every request. */
async function httpBackend(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

function httpYaml(logPath: string, backendPort: number): string {
  return `${hcmHeadYaml('ingress', logPath, '%REQ(:PATH)% %RESPONSE_CODE%\n')}
            name: routes
${catchAllVirtualHostYaml('backend')}
  clusters:
${staticClusterYaml('backend', [backendPort])}
`;
}

/** `n` requests, each on a new connection (so both workers take some). */
async function requests(port: number, prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const { status } = await httpRequest(port, `/${prefix}/${i}`);
    assert.equal(status, 200);
  }
}

test('log rotation: rename the access log, SIGUSR1 (then POST /reopen_logs): new lines land in a new file at the original path, none lost', async () => {
  const dir = tmpDir();
  const log = path.join(dir, 'access.log');
  const backend = await httpBackend();
  const courier = await startCourier(httpYaml(log, backend.port), { processes: 2, logLevel: 'info' });
  try {
    const port = await courier.listenerPort('http');
    const expected = (prefix: string): string[] => Array.from({ length: 20 }, (_, i) => `/${prefix}/${i} 200`).sort();
    // Each worker says when it has the reopen request (it travels from main over IPC).
    const reopenedOnBothWorkers = (times: number): Promise<boolean> =>
      eventually(
        () => ['0', '1'].every((w) => courier.output().split(`[worker ${w}][info] reopening access log files`).length - 1 === times),
        `both workers to reopen their access logs (${times})`,
      );

    await requests(port, 'a', 20);
    await eventually(() => lines(log).length === 20, '20 lines in access.log');
    renameSync(log, `${log}.1`);
    process.kill(courier.child!.pid!, 'SIGUSR1');
    await eventually(() => courier.output().includes('caught SIGUSR1'), 'the SIGUSR1 log line');
    await reopenedOnBothWorkers(1);
    await requests(port, 'b', 20);
    await eventually(() => lines(log).length === 20, '20 lines in the new access.log');
    assert.deepEqual(lines(log).sort(), expected('b'));
    assert.deepEqual(lines(`${log}.1`).sort(), expected('a'));

    renameSync(log, `${log}.2`);
    const reopen = await courier.admin('/reopen_logs', 'POST');
    assert.deepEqual(reopen, { status: 200, body: 'OK\n' });
    assert.equal((await courier.admin('/reopen_logs')).status, 405, 'GET /reopen_logs is refused: it changes the server');
    await reopenedOnBothWorkers(2);
    await requests(port, 'c', 20);
    await eventually(() => lines(log).length === 20, '20 lines in the access.log after /reopen_logs');
    assert.deepEqual(lines(log).sort(), expected('c'));
    assert.deepEqual(lines(`${log}.2`).sort(), expected('b'));
    assert.deepEqual(lines(`${log}.1`).sort(), expected('a'));
    await eventually(() => /reopening access logs \(\/reopen_logs\)/.test(courier.output()), 'the /reopen_logs line');
  } finally {
    await courier.stop();
    await backend.close();
  }
});

test('/drain_listeners: total_listeners_draining, DRAINING, /healthcheck/ok does not say OK; SIGTERM logs the deadline, closes and access-logs what is left', async () => {
  const dir = tmpDir();
  const log = path.join(dir, 'tcp.log');
  const backend = await echoServer();
  const courier = await startCourier(
    tcpProxyYaml({ ports: [backend.port], accessLogPath: log, accessLogFormat: 'tcp %BYTES_RECEIVED%\n' }),
    { processes: 2, logLevel: 'info', drainTimeS: 4 },
  );
  let stopped = false;
  try {
    const port = await courier.listenerPort('tcp');
    // A connection that stays open through the drain (the echo backend never closes it).
    const held = await connect(port);
    held.write('hello');
    await new Promise((r) => held.once('data', r));
    const heldClosed = closed(held);
    assert.equal(await courier.stat('listener_manager.total_listeners_draining'), 0);

    assert.deepEqual(await courier.admin('/drain_listeners', 'POST'), { status: 200, body: 'OK\n' });
    assert.equal(await courier.stat('listener_manager.total_listeners_draining'), 1);
    assert.deepEqual(await courier.admin('/ready'), { status: 503, body: 'DRAINING\n' });
    assert.equal(JSON.parse((await courier.admin('/server_info')).body).state, 'DRAINING');
    // The listener is still configured (as Envoy's /listeners); it no longer accepts.
    assert.match((await courier.admin('/listeners')).body, /^tcp::127\.0\.0\.1:\d+\n$/);
    await eventually(async () => !(await listening(port)), 'the drained listener to stop accepting');
    await eventually(() => /draining 1 listener\(s\) \(\/drain_listeners\): they stop accepting now/.test(courier.output()), 'the drain line');

    // A health check failure cannot be cleared while draining: the answer says so.
    assert.equal((await courier.admin('/healthcheck/fail', 'POST')).status, 200);
    const ok = await courier.admin('/healthcheck/ok', 'POST');
    assert.equal(ok.status, 503);
    assert.match(ok.body, /^DRAINING/);
    assert.equal((await courier.admin('/ready')).status, 503);

    // SIGTERM: the held connection is still open at the drain deadline (4 s), then closed.
    stopped = true;
    await Promise.all([courier.stop(), heldClosed]);
  } finally {
    if (!stopped) await courier.stop().catch(() => {});
    await backend.close();
  }
  const output = courier.output();
  assert.match(output, /caught SIGTERM: draining/);
  assert.match(output, /draining: listeners stop accepting; 1 open connection\(s\) have until \S+Z \(--drain-time-s 4\)/);
  assert.match(output, /\[worker \d\]\[info\] drain deadline reached: closing 1 connection\(s\) still open/);
  // The connection closed at the deadline is access-logged like any other.
  assert.deepEqual(lines(log), ['tcp 5']);
});

test('an HTTP request still waiting for its upstream at the drain deadline is access-logged when SIGTERM closes it', async () => {
  const dir = tmpDir();
  const log = path.join(dir, 'access.log');
  // An upstream that never answers.
  const silent = http.createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const courier = await startCourier(httpYaml(log, (silent.address() as net.AddressInfo).port), { processes: 2, logLevel: 'info', drainTimeS: 2 });
  try {
    const port = await courier.listenerPort('http');
    const pending = httpRequest(port, '/inflight').catch((e: Error) => e);
    await eventually(async () => (await courier.stat('http.ingress.downstream_rq_active')) === 1, 'the request in flight');
    await courier.stop();
    // The client sees its connection closed at the deadline.
    assert.ok((await pending) instanceof Error);
  } finally {
    silent.closeAllConnections();
    await new Promise((r) => silent.close(r));
  }
  assert.match(courier.output(), /drain deadline reached: closing 1 connection\(s\) still open/);
  const logged = lines(log);
  assert.equal(logged.length, 1, logged.join('\n'));
  assert.match(logged[0]!, /^\/inflight \d+$/);
});
