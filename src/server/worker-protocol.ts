/**
 * Messages between main and workers. Plain JSON data over the cluster IPC channel (or an
 * in-process pair in single-process mode). Slots carry immutable snapshots: a worker
 * replaces its reference, and work in flight keeps what it started with.
 */
import type { StatsSnapshot } from '../api/stats.js';
import type { ClusterConfig, ClusterMembership, ListenerConfig, RouteConfigKindName } from '../config/server-config.js';
import type { HostStats } from '../common/upstream/host-stats.js';
import type { RuntimeSlotValue } from '../common/runtime/runtime-snapshot.js';
import type { StatsConfig } from '../config/stats-config.js';
import type { LogLevel } from '../common/logger.js';

/** One accepted dynamic route config, as main posts it to workers. */
export interface RoutesSlotEntry {
  /** The accepted response's version_info. */
  version: string;
  /** Stable hash of the resource: a worker rebuilds a table only when it changes. */
  hash: string;
  /** How workers compile `config` (src/extensions/route-config-kinds.ts). */
  kind: RouteConfigKindName;
  config: unknown;
}

/** The overload manager's state as main posts it (src/server/overload/overload-manager.ts). */
export interface OverloadSlot {
  /** Action name → state in [0, 1]. */
  actions: Record<string, number>;
  refreshIntervalMs: number;
  /** fixed_heap is configured: report this process's heap every refreshIntervalMs. */
  reportHeap: boolean;
  /** global_downstream_max_connections, when configured. */
  maxConnections?: number;
  /** Several workers: ask main for each connection (cx_acquire) instead of counting alone. */
  countOnMain?: boolean;
}

export interface SlotValues {
  listeners: ListenerConfig[];
  clusters: ClusterConfig[];
  membership: ClusterMembership[];
  /**
   * RDS route configs by provider key (RdsProviderConfig.key). Immutable: every update posts
   * a whole new map. A key absent here has had no accepted update yet.
   */
  routes: Record<string, RoutesSlotEntry>;
  overload: OverloadSlot;
  /** The runtime's merged values (src/common/runtime/runtime-loader.ts), whole on each change. */
  runtime: RuntimeSlotValue;
}
export type SlotName = keyof SlotValues;

export type MainToWorker =
  /** `drainTimeMs`: how long connections of a listener LDS removed or changed may carry on. */
  | { t: 'init'; workerId: number; workerCount: number; drainTimeMs: number; logLevels: Record<string, LogLevel>; stats?: StatsConfig }
  /** /logging changed levels: the worker's loggers follow main's. */
  | { t: 'log_levels'; levels: Record<string, LogLevel> }
  /** SIGUSR1 or POST /reopen_logs: reopen access log files (log rotation). */
  | { t: 'reopen_logs' }
  | { [K in SlotName]: { t: 'slot'; name: K; version: number; value: SlotValues[K] } }[SlotName]
  | { t: 'stats'; id: number }
  | { t: 'reset_counters' }
  /** Stop accepting on every listener; connections carry on. */
  | { t: 'stop_listeners' }
  /** Tell every open connection its listener drains (HTTP answers `connection: close`). */
  | { t: 'drain_connections' }
  /** Stop accepting, let connections finish for up to graceMs, close the rest, then report stopped. */
  | { t: 'shutdown'; graceMs: number }
  /** The answer to cx_acquire: may the worker take the connection (global connection limit)? */
  | { t: 'cx_grant'; seq: number; ok: boolean };

export type WorkerToMain =
  /** The worker's message handler is installed: main may send. (An ESM worker module loads
   * after the IPC channel opens; messages sent before this would be dropped.) */
  | { t: 'hello' }
  | { t: 'listening'; listener: string; host: string; port: number }
  | { t: 'listen_error'; listener: string; message: string }
  /** All slots received so far are applied and every listener is bound (or failed). */
  | { t: 'applied'; versions: Record<string, number> }
  | { t: 'stats'; id: number; snapshot: StatsSnapshot; hosts: Record<string, Record<string, HostStats>> }
  | { t: 'stopped' }
  /** Overload manager: this process's heap in use (bytes), every refresh_interval. */
  | { t: 'overload_heap'; bytes: number }
  /** Overload manager: a slot under the global connection limit, answered by cx_grant. */
  | { t: 'cx_acquire'; seq: number }
  /** Overload manager: connections closed, their slots given back. */
  | { t: 'cx_release'; count: number };

export interface Channel<In, Out> {
  send(message: Out): void;
  onMessage(handler: (message: In) => void): void;
}
