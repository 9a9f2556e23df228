/**
 * Messages between main and workers. Plain JSON data over the cluster IPC channel (or an
 * in-process pair in single-process mode). Slots carry immutable snapshots: a worker
 * replaces its reference, and work in flight keeps what it started with.
 */
import type { StatsSnapshot } from '../api/stats.js';
import type { ClusterConfig, ClusterMembership, ListenerConfig, RouteConfigKindName } from '../config/server-config.js';
import type { HostStats } from '../common/upstream/host-stats.js';
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

export interface SlotValues {
  listeners: ListenerConfig[];
  clusters: ClusterConfig[];
  membership: ClusterMembership[];
  /**
   * RDS route configs by provider key (RdsProviderConfig.key). Immutable: every update posts
   * a whole new map. A key absent here has had no accepted update yet.
   */
  routes: Record<string, RoutesSlotEntry>;
}
export type SlotName = keyof SlotValues;

export type MainToWorker =
  /** `drainTimeMs`: how long connections of a listener LDS removed or changed may carry on. */
  | { t: 'init'; workerId: number; workerCount: number; drainTimeMs: number; logLevels: Record<string, LogLevel> }
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
  | { t: 'shutdown'; graceMs: number };

export type WorkerToMain =
  /** The worker's message handler is installed: main may send. (An ESM worker module loads
   * after the IPC channel opens; messages sent before this would be dropped.) */
  | { t: 'hello' }
  | { t: 'listening'; listener: string; host: string; port: number }
  | { t: 'listen_error'; listener: string; message: string }
  /** All slots received so far are applied and every listener is bound (or failed). */
  | { t: 'applied'; versions: Record<string, number> }
  | { t: 'stats'; id: number; snapshot: StatsSnapshot; hosts: Record<string, Record<string, HostStats>> }
  | { t: 'stopped' };

export interface Channel<In, Out> {
  send(message: Out): void;
  onMessage(handler: (message: In) => void): void;
}
