/**
 * A worker's overload state and a listener that obeys it, on real loopback sockets (no worker
 * process: the listener is built directly, with an echo filter): connections held while
 * stop_accepting_connections is saturated are taken when it clears; the connection budget
 * counted alone or asked of main.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { FilterStatus, type ReadFilter, type ReadFilterCallbacks } from '../../src/api/network-filter.js';
import { StatsStore } from '../../src/common/stats/stats-store.js';
import type { OverloadSlot, WorkerToMain } from '../../src/server/worker-protocol.js';
import { ActiveTcpListener } from '../../src/worker/active-tcp-listener.js';
import { WorkerOverloadState } from '../../src/worker/overload-state.js';

const STOP = 'envoy.overload_actions.stop_accepting_connections';

function slot(actions: Record<string, number>, extra: Partial<OverloadSlot> = {}): OverloadSlot {
  return { actions, refreshIntervalMs: 1000, reportHeap: false, ...extra };
}

class Echo implements ReadFilter {
  #cb!: ReadFilterCallbacks;
  initializeReadFilterCallbacks(cb: ReadFilterCallbacks): void {
    this.#cb = cb;
  }
  onNewConnection(): FilterStatus {
    return FilterStatus.Continue;
  }
  onData(data: Buffer): FilterStatus {
    this.#cb.connection.write(Buffer.from(data), false);
    return FilterStatus.Continue;
  }
}

function echoOnce(port: number, text: string): { reply: Promise<string>; socket: net.Socket } {
  const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
  socket.on('error', () => {});
  return { socket, reply: new Promise((resolve) => socket.once('data', (d) => resolve(d.toString()))) };
}

test('stop_accepting_connections holds new sockets unread while saturated and takes them, in order, when it clears', async () => {
  const overload = new WorkerOverloadState(() => {});
  overload.apply(slot({ [STOP]: 1 }));
  const stats = new StatsStore();
  const config = { name: 't', address: { host: '127.0.0.1', port: 0 }, statPrefix: 'listener.t.', bufferLimitBytes: 1 << 20, filterChains: [] };
  const listener = new ActiveTcpListener(config, [(m) => m.addReadFilter(new Echo())], stats, 0, overload);
  const port = await listener.listen();
  try {
    const first = echoOnce(port, 'one');
    const second = echoOnce(port, 'two');
    const early = await Promise.race([first.reply, new Promise((r) => setTimeout(() => r('nothing yet'), 300))]);
    assert.equal(early, 'nothing yet', 'held: connected, not read');
    assert.equal(stats.snapshot().counters['listener.t.downstream_cx_total'] ?? 0, 0);
    overload.apply(slot({ [STOP]: 0.5 })); // scaled, not saturated: Envoy re-enables the listener
    assert.equal(await first.reply, 'one');
    assert.equal(await second.reply, 'two');
    assert.equal(stats.snapshot().counters['listener.t.downstream_cx_total'], 2);
    first.socket.destroy();
    second.socket.destroy();
  } finally {
    listener.stop();
    listener.closeConnections();
  }
});

test('connection budget: counted alone with one worker, asked of main with several', async () => {
  const alone = new WorkerOverloadState(() => assert.fail('one worker never asks main'));
  alone.apply(slot({}, { maxConnections: 2 }));
  const results: boolean[] = [];
  for (let i = 0; i < 3; i++) alone.admit((ok) => results.push(ok));
  assert.deepEqual(results, [true, true, false]);
  alone.release();
  alone.admit((ok) => results.push(ok));
  assert.equal(results[3], true, 'a released place is taken again');

  const sent: WorkerToMain[] = [];
  const shared = new WorkerOverloadState((m) => sent.push(m));
  shared.apply(slot({}, { maxConnections: 2, countOnMain: true }));
  const answers: boolean[] = [];
  shared.admit((ok) => answers.push(ok));
  shared.admit((ok) => answers.push(ok));
  assert.deepEqual(sent, [{ t: 'cx_acquire', seq: 1 }, { t: 'cx_acquire', seq: 2 }]);
  assert.deepEqual(answers, [], 'nothing decided before main answers');
  shared.onGrant(2, false);
  shared.onGrant(1, true);
  assert.deepEqual(answers, [false, true]);
  shared.release();
  shared.release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sent.at(-1), { t: 'cx_release', count: 2 }, 'places given back in one turn go in one message');
});
