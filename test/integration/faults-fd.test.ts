/**
 * Fault suite, file descriptor exhaustion: the real `courier` command started under a low
 * `ulimit -n`, then connections opened until the worker cannot accept (EMFILE). The processes
 * must not crash or spin, a client over the limit must be closed at once (not left hanging),
 * the connections already open must keep working, and once clients close, new connections
 * must be accepted again.
 *
 * Envoy treats EMFILE on accept as fatal (it panics: "listener accept failure", envoyproxy/envoy#980).
 * Courier's workers never see it: libuv answers EMFILE on accept by releasing a reserved fd,
 * accepting the pending connections and closing them at once (its "EMFILE trick"), without
 * telling Node's net.Server, so there is nothing for Courier to log or count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tcpProxyYaml } from '../support/configs.js';
import { eventually, sleep, startCourier } from '../support/courier-harness.js';
import { fdCount, isRunning, workerPids } from '../support/faults.js';
import { echoServer } from '../support/peers.js';
import { ask, hold, type HeldConnection } from '../support/xds-resources.js';

/** CPU time (user + system, clock ticks) of a process so far. */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

test('fd exhaustion: no crash, no spin, clients over the limit closed at once, the open ones served, service back once clients close', { timeout: 40_000 }, async () => {
  const echo = await echoServer();
  const courier = await startCourier(tcpProxyYaml({ ports: [echo.port] }), { processes: 1, fdLimit: 96 });
  const held: HeldConnection[] = [];
  try {
    const port = await courier.listenerPort('tcp');
    const main = courier.child!.pid!;
    const [worker] = await workerPids(courier, 1);
    const startFds = fdCount(worker!);
    // Each proxied connection costs the worker two fds: open them until one is not served.
    let refusedAt = -1;
    let outcome = '';
    for (let i = 0; i < 80 && refusedAt < 0; i++) {
      try {
        const h = await hold(port);
        held.push(h);
        const answer = await Promise.race([h.ask(), h.closed.then(() => 'closed'), sleep(2000).then(() => 'no answer')]);
        if (answer !== 'hi') [refusedAt, outcome] = [i, answer];
      } catch (e) {
        [refusedAt, outcome] = [i, String(e)];
      }
    }
    console.log(`# worker fds ${startFds} at start, limit 96: connection ${refusedAt} was the first not served (${outcome})`);
    assert.ok(refusedAt > 0, 'the limit was reached');
    assert.ok(outcome === 'closed' || /ECONNRESET/.test(outcome), `closed at once, not left waiting (${outcome})`);

    // Exhausted: a few more tries; the worker must not spin on the listening socket meanwhile.
    const ticks = cpuTicks(worker!);
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) {
      const more = await ask(port, 2000).catch((e: Error) => e.message);
      assert.ok(more === '' || /ECONNRESET/.test(more), `over the limit: closed at once (${more})`);
    }
    await sleep(500);
    const cpuShare = (cpuTicks(worker!) - ticks) / 100 / ((Date.now() - t0) / 1000);
    assert.ok(cpuShare < 0.5, `the worker idles while exhausted (${Math.round(cpuShare * 100)}% of a core)`);
    assert.ok(isRunning(main) && isRunning(worker!), 'main and worker still run');
    assert.equal(await courier.stat('server.worker_restarts'), 0);
    // The connections served before the limit still work.
    const served = held.slice(0, refusedAt);
    for (const h of served.slice(0, 5)) assert.equal(await h.ask(), 'hi');

    // Clients close: service comes back.
    for (const h of held) h.destroy();
    await eventually(async () => (await courier.stat('server.total_connections')) === 0, 'every connection closed');
    for (let i = 0; i < 5; i++) assert.equal(await ask(port), 'hi');
    assert.ok(isRunning(worker!), 'the same worker serves again');
  } finally {
    for (const h of held) h.destroy();
    await courier.stop();
    await echo.close();
  }
});
