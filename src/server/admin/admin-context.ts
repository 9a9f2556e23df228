/**
 * What admin handlers may ask of the server (main process only).
 */
import type { StatsSnapshot } from '../../api/stats.js';
import type { HostStats } from '../../common/upstream/host-stats.js';
import type { ClusterConfig, ClusterMembership, ServerConfig } from '../../config/server-config.js';
import type { ListenerBinding } from '../worker-pool.js';

export type ServerState = 'LIVE' | 'DRAINING' | 'PRE_INITIALIZING' | 'INITIALIZING';

export interface AdminContext {
  readonly config: ServerConfig;
  /** The bootstrap as given (proto3 JSON), for /config_dump. */
  readonly rawBootstrap: unknown;
  readonly startedAtMs: number;
  readonly commandLine: Record<string, unknown>;
  state(): ServerState;
  healthCheckFailed(): boolean;
  setHealthCheckFailed(fail: boolean): void;
  collectStats(): Promise<{ snapshot: StatsSnapshot; hosts: Record<string, Record<string, HostStats>> }>;
  resetCounters(): void;
  listenerBindings(): ListenerBinding[];
  membership(cluster: ClusterConfig): ClusterMembership | undefined;
  /** Accepted RDS route configs (a rejected one never appears). */
  dynamicRouteConfigs(): Array<{ name: string; versionInfo: string; resource: Readonly<Record<string, unknown>>; lastUpdatedMs: number }>;
  /** POST /drain_listeners: stop accepting (graceful: after the drain period). */
  drainListeners(graceful: boolean): void;
  /** POST /quitquitquit. */
  quit(): void;
}
