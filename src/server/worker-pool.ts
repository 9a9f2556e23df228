/**
 * Main's side of the workers: starts them (node:cluster processes, or one in-process worker),
 * posts slot values, replays the latest value of every slot to a restarted worker, gathers
 * stats, and drains them.
 *
 * Worker states: starting → running → stopping → exited. A worker that exits while running
 * is restarted (server.worker_restarts) and its counters are kept, so totals never go back.
 */
import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetworkFilterConfigFactory } from '../api/network-filter.js';
import type { Registry } from '../api/registry.js';
import type { StatsSnapshot } from '../api/stats.js';
import type { StatsConfig } from '../config/stats-config.js';
import { mergeSnapshots } from '../common/stats/stats-merge.js';
import { addHostStats, type HostStats } from '../common/upstream/host-stats.js';
import { logLevels } from '../common/log-registry.js';
import { Worker } from '../worker/worker.js';
import type { Channel, MainToWorker, SlotName, SlotValues, WorkerToMain } from './worker-protocol.js';

type WorkerState = 'starting' | 'running' | 'stopping' | 'exited';

interface WorkerHandle {
  id: number;
  state: WorkerState;
  send(m: MainToWorker): void;
  /** Last stats reply, kept so a crashed worker's counters are not lost. */
  lastSnapshot: StatsSnapshot | undefined;
  pid: number;
  kill(): void;
}

export interface ListenerBinding {
  listener: string;
  host: string;
  port: number;
}

export interface WorkerPoolOptions {
  concurrency: number;
  /** One worker in this process, for tests and embedding. */
  inProcess: boolean;
  filters: Registry<NetworkFilterConfigFactory>;
  /** --drain-time-s in ms: connections of a listener LDS removed or changed are closed after it. */
  drainTimeMs: number;
  log: (level: 'info' | 'warn' | 'error', msg: string) => void;
  /** stats_config and stats_sinks: workers send their histogram values to the statsd sinks. */
  stats?: StatsConfig;
}

const STATS_TIMEOUT_MS = 2000;

export class WorkerPool extends EventEmitter {
  readonly #opts: WorkerPoolOptions;
  readonly #workers = new Map<number, WorkerHandle>();
  readonly #slots = new Map<SlotName, { version: number; value: unknown }>();
  readonly #pendingStats = new Map<number, { remaining: Set<number>; replies: Map<number, WorkerToMain & { t: 'stats' }>; done: () => void }>();
  /** Counters and histograms of workers that died (gauges die with them). */
  #retired: StatsSnapshot = { counters: {}, gauges: {}, histograms: {}, used: [] };
  #nextStatsId = 1;
  #stopping = false;
  restarts = 0;
  readonly bindings = new Map<string, ListenerBinding>();
  readonly listenErrors: string[] = [];

  constructor(opts: WorkerPoolOptions) {
    super();
    this.#opts = opts;
  }

  get workerPids(): number[] {
    return [...this.#workers.values()].filter((w) => w.state !== 'exited').map((w) => w.pid);
  }

  start(): void {
    if (!this.#opts.inProcess) {
      const exec = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'worker', 'worker-main.js');
      // Workers accept on the shared listening socket themselves (SCHED_NONE). With Node's
      // round robin, main accepts and hands each connection over; one handed to a worker that
      // dies before taking it stays open in main forever, its client hanging (nodejs/node#3551,
      // test/integration/faults-process.test.ts).
      cluster.schedulingPolicy = cluster.SCHED_NONE;
      cluster.setupPrimary({ exec, args: [], silent: false });
    }
    for (let id = 0; id < (this.#opts.inProcess ? 1 : this.#opts.concurrency); id++) this.#spawn(id);
  }

  #spawn(id: number): void {
    const handle = this.#opts.inProcess ? this.#spawnInProcess(id) : this.#spawnProcess(id);
    this.#workers.set(id, handle);
    handle.send({
      t: 'init',
      workerId: id,
      workerCount: this.#opts.inProcess ? 1 : this.#opts.concurrency,
      drainTimeMs: this.#opts.drainTimeMs,
      // A restarted worker logs at the levels /logging set, not the command line's.
      logLevels: logLevels(),
      stats: this.#opts.stats,
    });
    // Replay every slot in a fixed order: runtime, overload, clusters and routes before
    // listeners, so a connection accepted at once finds its runtime values, its overload state,
    // its cluster and its RDS routes.
    for (const name of ['runtime', 'overload', 'clusters', 'membership', 'routes', 'listeners'] as const) {
      const slot = this.#slots.get(name);
      if (slot) handle.send({ t: 'slot', name, version: slot.version, value: slot.value } as MainToWorker);
    }
  }

  #spawnProcess(id: number): WorkerHandle {
    const w: ClusterWorker = cluster.fork({ COURIER_WORKER_ID: String(id) });
    // Held until the worker says hello (its handler is installed).
    let queue: MainToWorker[] | undefined = [];
    const handle: WorkerHandle = {
      id,
      state: 'starting',
      lastSnapshot: undefined,
      pid: w.process.pid ?? 0,
      send: (m) => {
        if (queue) queue.push(m);
        else if (handle.state !== 'exited' && w.isConnected()) w.send(m);
      },
      kill: () => w.process.kill('SIGKILL'),
    };
    w.on('message', (m: WorkerToMain) => {
      if (m.t === 'hello') {
        const held = queue ?? [];
        queue = undefined;
        for (const q of held) handle.send(q);
        return;
      }
      this.#onWorkerMessage(handle, m);
    });
    w.on('exit', (code, signal) => this.#onWorkerExit(handle, code, signal));
    w.on('error', () => {});
    return handle;
  }

  #spawnInProcess(id: number): WorkerHandle {
    // Both directions are delivered asynchronously and structurally cloned, as over IPC.
    const toWorker = new EventEmitter();
    const handle: WorkerHandle = {
      id,
      state: 'starting',
      lastSnapshot: undefined,
      pid: process.pid,
      send: (m) => setImmediate(() => toWorker.emit('m', structuredClone(m))),
      kill: () => {},
    };
    const channel: Channel<MainToWorker, WorkerToMain> = {
      send: (m) => setImmediate(() => this.#onWorkerMessage(handle, structuredClone(m))),
      onMessage: (h) => toWorker.on('m', h),
    };
    new Worker(channel, this.#opts.filters, () => {
      handle.state = 'exited';
      this.emit('worker-exit', handle.id);
    });
    return handle;
  }

  #onWorkerMessage(handle: WorkerHandle, m: WorkerToMain): void {
    switch (m.t) {
      case 'listening':
        this.bindings.set(m.listener, { listener: m.listener, host: m.host, port: m.port });
        this.emit('listening', m);
        return;
      case 'listen_error':
        this.listenErrors.push(`${m.listener}: ${m.message}`);
        this.emit('listen-error', m);
        return;
      case 'applied':
        if (handle.state === 'starting') handle.state = 'running';
        this.emit('applied', handle.id, m.versions);
        return;
      case 'stats': {
        handle.lastSnapshot = m.snapshot;
        const pending = this.#pendingStats.get(m.id);
        if (!pending) return;
        pending.replies.set(handle.id, m);
        pending.remaining.delete(handle.id);
        if (pending.remaining.size === 0) pending.done();
        return;
      }
      case 'stopped':
        handle.state = 'stopping';
        return;
      case 'hello':
        return;
      case 'overload_heap':
      case 'cx_acquire':
      case 'cx_release':
        this.emit('overload', handle.id, m);
        return;
    }
  }

  /** A message to one worker (an answer to its request). */
  sendTo(workerId: number, m: MainToWorker): void {
    const w = this.#workers.get(workerId);
    if (w && w.state !== 'exited') w.send(m);
  }

  #onWorkerExit(handle: WorkerHandle, code: number | null, signal: string | null): void {
    const wasStopping = handle.state === 'stopping' || this.#stopping;
    handle.state = 'exited';
    if (handle.lastSnapshot) {
      const { counters, histograms, used } = handle.lastSnapshot;
      this.#retired = mergeSnapshots([this.#retired, { counters, histograms, used, gauges: {} }]);
    }
    for (const pending of this.#pendingStats.values()) {
      if (pending.remaining.delete(handle.id) && pending.remaining.size === 0) pending.done();
    }
    this.emit('worker-exit', handle.id);
    if (wasStopping) return;
    this.restarts++;
    this.#opts.log('warn', `worker ${handle.id} (pid ${handle.pid}) exited (${signal ?? `code ${code}`}); restarting`);
    this.emit('worker-restart', handle.id);
    setTimeout(() => {
      if (!this.#stopping) this.#spawn(handle.id);
    }, 100);
  }

  /** Posts a new slot value to every worker (and remembers it for restarts). */
  publish<K extends SlotName>(name: K, value: SlotValues[K]): number {
    const version = (this.#slots.get(name)?.version ?? 0) + 1;
    this.#slots.set(name, { version, value });
    for (const w of this.#workers.values()) {
      if (w.state !== 'exited') w.send({ t: 'slot', name, version, value } as MainToWorker);
    }
    return version;
  }

  /** Resolves once every live worker applied at least `version` of slot `name`. */
  waitApplied(name: SlotName, version: number): Promise<void> {
    const seen = new Map<number, number>();
    return new Promise((resolve) => {
      const check = (): boolean => {
        const live = [...this.#workers.values()].filter((w) => w.state !== 'exited');
        return live.length > 0 && live.every((w) => (seen.get(w.id) ?? 0) >= version);
      };
      const onApplied = (id: number, versions: Record<string, number>): void => {
        seen.set(id, versions[name] ?? 0);
        if (check()) {
          this.off('applied', onApplied);
          resolve();
        }
      };
      this.on('applied', onApplied);
    });
  }

  broadcast(m: MainToWorker): void {
    for (const w of this.#workers.values()) if (w.state !== 'exited') w.send(m);
  }

  /** Asks every live worker for stats; merges with retired counters. */
  async collectStats(): Promise<{ snapshot: StatsSnapshot; hosts: Record<string, Record<string, HostStats>> }> {
    const id = this.#nextStatsId++;
    const live = [...this.#workers.values()].filter((w) => w.state === 'running' || w.state === 'starting');
    const replies = new Map<number, WorkerToMain & { t: 'stats' }>();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, STATS_TIMEOUT_MS);
      this.#pendingStats.set(id, {
        remaining: new Set(live.map((w) => w.id)),
        replies,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      if (live.length === 0) resolve();
      for (const w of live) w.send({ t: 'stats', id });
    });
    this.#pendingStats.delete(id);
    // A worker that did not answer in time contributes its last known snapshot.
    const snapshots: StatsSnapshot[] = [this.#retired];
    for (const w of live) {
      const reply = replies.get(w.id);
      if (reply) snapshots.push(reply.snapshot);
      else if (w.lastSnapshot) snapshots.push(w.lastSnapshot);
    }
    const hosts: Record<string, Record<string, HostStats>> = {};
    for (const reply of replies.values()) {
      for (const [clusterName, byHost] of Object.entries(reply.hosts)) {
        const into = (hosts[clusterName] ??= {});
        for (const [addr, hs] of Object.entries(byHost)) {
          if (into[addr]) addHostStats(into[addr]!, hs);
          else into[addr] = { ...hs };
        }
      }
    }
    return { snapshot: mergeSnapshots(snapshots), hosts };
  }

  /** Drain every worker: stop accepting, wait up to graceMs, then they exit. */
  async shutdown(graceMs: number): Promise<void> {
    this.#stopping = true;
    const live = [...this.#workers.values()].filter((w) => w.state !== 'exited');
    const exited = new Promise<void>((resolve) => {
      const check = (): void => {
        if (live.every((w) => w.state === 'exited')) {
          this.off('worker-exit', check);
          resolve();
        }
      };
      this.on('worker-exit', check);
      check();
    });
    for (const w of live) w.send({ t: 'shutdown', graceMs });
    // A worker stuck past the grace period (plus slack) is killed.
    const killer = setTimeout(() => live.forEach((w) => w.state !== 'exited' && w.kill()), graceMs + 5000);
    await exited;
    clearTimeout(killer);
  }

  /** For tests: kills one worker process as a crash would. */
  killWorkerForTest(id: number): void {
    this.#workers.get(id)?.kill();
  }
}
