/**
 * Envoy's overload manager on MAIN. Every refresh_interval it reads its resource monitors,
 * turns pressures into action states through the triggers, and posts the states to the
 * workers (the `overload` slot) when they change; workers apply them (src/worker/overload-state.ts).
 *
 * Monitors:
 * - `envoy.resource_monitors.fixed_heap`: pressure = heap in use / max_heap_size_bytes, where
 *   "in use" is V8's heapUsed plus `external` (Buffers live there) from process.memoryUsage(),
 *   measured in each process (main here, each worker reporting every refresh_interval); the
 *   pressure is the fullest process's, so one bloated worker is enough to shed load.
 * - `envoy.resource_monitors.global_downstream_max_connections`: no pressure; a limit on
 *   accept, counted across workers by GlobalConnectionLimit.
 *
 * Stats (Envoy's): overload.<monitor>.pressure (gauge, percent), overload.<monitor>.failed_updates
 * and skipped_updates (counters), overload.<action>.active (gauge, 1 when saturated) and
 * overload.<action>.scale_percent (gauge, 0–100).
 */
import type { Counter, Gauge, StatsScope } from '../../api/stats.js';
import { FIXED_HEAP, type OverloadConfig } from '../../config/overload-config.js';
import type { OverloadSlot } from '../worker-protocol.js';
import { GlobalConnectionLimit } from './global-connection-limit.js';
import { heapInUse } from './heap-in-use.js';
import { actionValue } from './overload-triggers.js';

export interface OverloadManagerOptions {
  readonly config: OverloadConfig;
  /** The root stats scope (stats are named overload.<name>.<stat>). */
  readonly stats: StatsScope;
  /** Posts the action states to every worker (and to workers started later). */
  readonly publish: (slot: OverloadSlot) => void;
  readonly log: (level: 'info' | 'debug', message: string) => void;
  /** How many worker processes take connections (1 means the worker counts connections alone). */
  readonly workerCount: number;
}

export class OverloadManager {
  readonly #opts: OverloadManagerOptions;
  readonly #heapByWorker = new Map<number, number>();
  readonly #actionGauges = new Map<string, { active: Gauge; scale: Gauge }>();
  readonly #heapGauge: Gauge | undefined;
  /** Counted across workers; undefined without the monitor or with one worker. */
  readonly connections: GlobalConnectionLimit | undefined;
  #values: Record<string, number> = {};
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: OverloadManagerOptions) {
    this.#opts = opts;
    const { config, stats } = opts;
    if (config.maxHeapBytes !== undefined) {
      this.#heapGauge = stats.gauge(`overload.${FIXED_HEAP}.pressure`);
      // Declared so they show (at 0) as in Envoy; a process measurement here cannot fail or overlap.
      stats.counter(`overload.${FIXED_HEAP}.failed_updates`);
      stats.counter(`overload.${FIXED_HEAP}.skipped_updates`);
    }
    for (const a of config.actions) {
      this.#actionGauges.set(a.name, { active: stats.gauge(`overload.${a.name}.active`), scale: stats.gauge(`overload.${a.name}.scale_percent`) });
    }
    const max = config.maxActiveDownstreamConnections;
    if (max !== undefined && opts.workerCount > 1) this.connections = new GlobalConnectionLimit(max);
  }

  /** Posts the initial (all inactive) state and starts measuring. */
  start(): void {
    this.#publish();
    this.#timer = setInterval(() => this.refresh(), this.#opts.config.refreshIntervalMs).unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  /** A worker's heap report (bytes in use). */
  onWorkerHeap(workerId: number, bytes: number): void {
    this.#heapByWorker.set(workerId, bytes);
  }

  workerExited(workerId: number): void {
    this.#heapByWorker.delete(workerId);
    this.connections?.workerExited(workerId);
  }

  /** One refresh: measure, evaluate triggers, publish on change. */
  refresh(): void {
    const { config } = this.#opts;
    const pressures = new Map<string, number>();
    if (config.maxHeapBytes !== undefined) {
      const fullest = Math.max(heapInUse(), ...this.#heapByWorker.values());
      const pressure = fullest / config.maxHeapBytes;
      pressures.set(FIXED_HEAP, pressure);
      this.#heapGauge!.set(Math.round(pressure * 100));
    }
    const next: Record<string, number> = {};
    for (const a of config.actions) next[a.name] = actionValue(a.triggers, pressures);
    const changed = config.actions.some((a) => next[a.name] !== this.#values[a.name]);
    if (!changed) return;
    for (const a of config.actions) {
      const before = this.#values[a.name] ?? 0;
      const now = next[a.name]!;
      if ((before > 0) !== (now > 0)) this.#opts.log('info', `overload action ${a.name} became ${now > 0 ? 'active' : 'inactive'}`);
    }
    this.#values = next;
    this.#publish();
  }

  #publish(): void {
    const { config } = this.#opts;
    for (const a of config.actions) {
      const value = this.#values[a.name] ?? 0;
      const gauges = this.#actionGauges.get(a.name)!;
      gauges.active.set(value >= 1 ? 1 : 0);
      gauges.scale.set(Math.floor(value * 100));
    }
    const slot: OverloadSlot = { actions: { ...this.#values }, refreshIntervalMs: config.refreshIntervalMs, reportHeap: config.maxHeapBytes !== undefined };
    if (config.maxActiveDownstreamConnections !== undefined) {
      slot.maxConnections = config.maxActiveDownstreamConnections;
      slot.countOnMain = this.connections !== undefined;
    }
    this.#opts.publish(slot);
  }
}
