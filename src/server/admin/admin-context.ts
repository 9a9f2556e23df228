/**
 * What admin handlers may ask of the server (main process only).
 */
import type { StatsSnapshot } from '../../api/stats.js';
import type { HostStats } from '../../common/upstream/host-stats.js';
import type { TagProducer } from '../../common/stats/tag-extractor.js';
import type { ListenerConfig, ServerConfig } from '../../config/server-config.js';
import type { ClusterEntry } from '../cluster-manager.js';
import type { ListenerEntry } from '../listener-manager.js';
import type { ListenerBinding } from '../worker-pool.js';
import type { LayeredRuntime } from '../../common/runtime/runtime-loader.js';

export type ServerState = 'LIVE' | 'DRAINING' | 'PRE_INITIALIZING' | 'INITIALIZING';

export interface AdminContext {
  readonly config: ServerConfig;
  /** The bootstrap as given (proto3 JSON), for /config_dump. */
  readonly rawBootstrap: unknown;
  readonly startedAtMs: number;
  readonly commandLine: Record<string, unknown>;
  state(): ServerState;
  healthCheckFailed(): boolean;
  /** Draining for good (/drain_listeners, SIGTERM, /quitquitquit), not a health check failure. */
  draining(): boolean;
  setHealthCheckFailed(fail: boolean): void;
  collectStats(): Promise<{ snapshot: StatsSnapshot; hosts: Record<string, Record<string, HostStats>> }>;
  /** stats_config's tag extraction (Prometheus names and labels). */
  readonly statsTags: TagProducer;
  resetCounters(): void;
  /** /logging changed this process's levels: tell the workers. */
  logLevelsChanged(): void;
  /** POST /reopen_logs: every worker reopens its access log files. */
  reopenAccessLogs(): void;
  listenerBindings(): ListenerBinding[];
  /** Active clusters: the bootstrap's, then CDS's (addedViaApi), each with every host it has. */
  clusters(): ClusterEntry[];
  /** CDS clusters waiting for their first hosts (EDS) before they are used. */
  warmingClusters(): ClusterEntry[];
  /** The last accepted CDS version_info; undefined without cds_config. */
  cdsVersion(): string | undefined;
  /** Accepted EDS assignments of active clusters (/config_dump?include_eds). */
  edsAssignments(): Array<{ cluster: string; versionInfo: string; resource: Readonly<Record<string, unknown>>; lastUpdatedMs: number }>;
  staticListeners(): ListenerEntry[];
  /** LDS listeners, active or warming (for their routes). */
  dynamicListeners(): Array<{ entry: ListenerEntry; warming: boolean }>;
  /** What the workers serve: static, then active LDS listeners. */
  activeListeners(): ListenerConfig[];
  /** The last accepted LDS version_info; undefined without lds_config. */
  ldsVersion(): string | undefined;
  /** Accepted RDS route configs (a rejected one never appears). */
  dynamicRouteConfigs(): Array<{ name: string; versionInfo: string; resource: Readonly<Record<string, unknown>>; lastUpdatedMs: number }>;
  /** POST /drain_listeners: stop accepting (graceful: after the drain period). */
  drainListeners(graceful: boolean): void;
  /** POST /quitquitquit. */
  quit(): void;
  /** The layered runtime (GET /runtime, POST /runtime_modify). */
  runtime(): LayeredRuntime;
}
