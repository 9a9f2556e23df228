/**
 * Main's listener manager (Envoy's ListenerManagerImpl, control side). MAIN process. Holds
 * the bootstrap's static listeners and the listeners LDS adds, and posts the `listeners`
 * slot (static first, then active dynamic ones) to the workers, which bind, update in
 * place or drain (src/worker/worker.ts).
 *
 * - Warming: a dynamic listener added or changed waits for `warmed` (its new RDS providers'
 *   first update or initial_fetch_timeout), then becomes active; the old version of a
 *   changed listener serves meanwhile.
 * - Static listeners are never replaced or removed through the API (Envoy ignores such an
 *   update).
 * - A dynamic listener whose address cannot be bound on a worker is removed and counted in
 *   listener_create_failure (Envoy's onListenerCreateFailure); the others carry on.
 * - A changed or removed listener's connections drain for --drain-time-s on the workers
 *   (total_listeners_draining counts that window), as do all listeners after
 *   /drain_listeners (drainAll).
 * - Each listener the workers are given, changed or removed is logged at info (address,
 *   filters, where they send traffic: listener-log.ts).
 *
 * Stats under `listener_manager.`: listener_added, listener_modified, listener_removed,
 * listener_create_success, listener_create_failure (counters); total_listeners_active,
 * total_listeners_warming, total_listeners_draining (gauges).
 */
import type { Counter, Gauge, StatsScope } from '../api/stats.js';
import type { PlainObject } from '../config/proto-json.js';
import type { ListenerConfig } from '../config/server-config.js';
import { describeListener } from './listener-log.js';

export interface ListenerEntry {
  readonly config: ListenerConfig;
  readonly addedViaApi: boolean;
  /** The LDS response's version_info that carried it ('' for static listeners). */
  readonly versionInfo: string;
  readonly hash: string;
  /** The checked LDS resource, for /config_dump (undefined for static listeners). */
  readonly resource: PlainObject | undefined;
  readonly lastUpdatedMs: number;
}

export type ListenerUpdateResult = 'added' | 'modified' | 'unchanged' | 'static';

export interface ListenerManagerOptions {
  readonly stats: StatsScope;
  /** Posts the `listeners` slot (WorkerPool.publish); returns the slot version. */
  readonly publish: (listeners: ListenerConfig[]) => number;
  readonly drainTimeMs: number;
  readonly log: (level: 'info' | 'warning' | 'debug', message: string) => void;
}

export class ListenerManager {
  readonly #opts: ListenerManagerOptions;
  readonly #static = new Map<string, ListenerEntry>();
  readonly #active = new Map<string, ListenerEntry>();
  readonly #warming = new Map<string, ListenerEntry>();
  readonly #stats: Record<'added' | 'modified' | 'removed' | 'createSuccess' | 'createFailure', Counter> &
    Record<'active' | 'warming' | 'draining', Gauge>;
  readonly #drainTimers = new Set<NodeJS.Timeout>();
  #publishing = false;
  /** What the workers were last given, by name (JSON), to log only what changed. */
  #announced = new Map<string, string>();
  #drainingAll = false;

  constructor(opts: ListenerManagerOptions) {
    this.#opts = opts;
    const s = opts.stats.scope('listener_manager');
    this.#stats = {
      added: s.counter('listener_added'),
      modified: s.counter('listener_modified'),
      removed: s.counter('listener_removed'),
      createSuccess: s.counter('listener_create_success'),
      createFailure: s.counter('listener_create_failure'),
      active: s.gauge('total_listeners_active'),
      warming: s.gauge('total_listeners_warming'),
      draining: s.gauge('total_listeners_draining'),
    };
    this.#updateGauges();
  }

  /** The bootstrap's listeners (not posted until publish()). */
  addStatic(listeners: readonly ListenerConfig[]): void {
    for (const config of listeners) {
      this.#static.set(config.name, { config, addedViaApi: false, versionInfo: '', hash: '', resource: undefined, lastUpdatedMs: Date.now() });
      this.#stats.added.inc();
    }
    this.#updateGauges();
  }

  /** Whether the workers have been given listeners (after start-up); before that, changes only collect. */
  enablePublishing(): number {
    this.#publishing = true;
    return this.#publish();
  }

  /** The listener of that name in charge now (static, or dynamic active, else warming). */
  get(name: string): ListenerEntry | undefined {
    return this.#static.get(name) ?? this.#active.get(name) ?? this.#warming.get(name);
  }

  /** Every listener but `except`, static, active and warming: for address conflicts. */
  others(except: string): ListenerEntry[] {
    return [...this.#static.values(), ...this.#active.values(), ...this.#warming.values()].filter((e) => e.config.name !== except);
  }

  staticListeners(): ListenerEntry[] {
    return [...this.#static.values()];
  }

  dynamicActive(): ListenerEntry[] {
    return [...this.#active.values()];
  }

  dynamicWarming(): ListenerEntry[] {
    return [...this.#warming.values()];
  }

  /** What the workers serve: static, then active dynamic listeners. */
  activeConfigs(): ListenerConfig[] {
    return [...this.#static.values(), ...this.#active.values()].map((e) => e.config);
  }

  /**
   * LDS: adds a listener or replaces the dynamic one of that name when `hash` differs. It
   * becomes active once `warmed` resolves.
   */
  addOrUpdateListener(config: ListenerConfig, versionInfo: string, hash: string, resource: PlainObject, warmed: Promise<void>): ListenerUpdateResult {
    if (this.#static.has(config.name)) return 'static';
    const active = this.#active.get(config.name);
    const warming = this.#warming.get(config.name);
    if (warming ? warming.hash === hash : active?.hash === hash) return 'unchanged';
    const entry: ListenerEntry = { config, addedViaApi: true, versionInfo, hash, resource, lastUpdatedMs: Date.now() };
    this.#warming.set(config.name, entry);
    if (active) this.#stats.modified.inc();
    else this.#stats.added.inc();
    this.#updateGauges();
    void warmed.then(() => {
      if (this.#warming.get(config.name) !== entry) return;
      this.#warming.delete(config.name);
      const replaced = this.#active.has(config.name);
      this.#active.set(config.name, entry);
      if (replaced) this.#countDraining();
      this.#updateGauges();
      this.#publish();
    });
    return active ? 'modified' : 'added';
  }

  /** LDS: removes a dynamic listener (false for a static or unknown one). */
  removeListener(name: string): boolean {
    if (this.#static.has(name)) return false;
    const wasActive = this.#active.delete(name);
    const wasWarming = this.#warming.delete(name);
    if (!wasActive && !wasWarming) return false;
    this.#stats.removed.inc();
    if (wasActive) this.#countDraining();
    this.#updateGauges();
    if (wasActive) this.#publish();
    return true;
  }

  /** A worker bound a listener. */
  onListening(): void {
    this.#stats.createSuccess.inc();
  }

  /**
   * A worker could not bind `name`. A dynamic listener is removed (so every worker lets it
   * go) and counted; true. A static one is the caller's business (false).
   */
  onListenError(name: string, message: string): boolean {
    if (this.#static.has(name)) return false;
    const entry = this.#active.get(name);
    if (!entry) return true;
    this.#stats.createFailure.inc();
    this.#opts.log('warning', `lds: listener '${name}' cannot listen on ${entry.config.address.host}:${entry.config.address.port}: ${message}; removed`);
    this.#active.delete(name);
    this.#updateGauges();
    this.#publish();
    return true;
  }

  /**
   * /drain_listeners: every listener the workers serve drains (counted in
   * total_listeners_draining for the drain time). Returns how many. Once only.
   */
  drainAll(): number {
    if (this.#drainingAll) return 0;
    this.#drainingAll = true;
    const count = this.#static.size + this.#active.size;
    for (let i = 0; i < count; i++) this.#countDraining();
    return count;
  }

  stop(): void {
    for (const t of this.#drainTimers) clearTimeout(t);
    this.#drainTimers.clear();
  }

  #countDraining(): void {
    this.#stats.draining.inc();
    const t = setTimeout(() => {
      this.#drainTimers.delete(t);
      this.#stats.draining.dec();
    }, this.#opts.drainTimeMs);
    t.unref();
    this.#drainTimers.add(t);
  }

  #publish(): number {
    if (!this.#publishing) return 0;
    const configs = this.activeConfigs();
    this.#announce(configs);
    return this.#opts.publish(configs);
  }

  #announce(configs: readonly ListenerConfig[]): void {
    const next = new Map(configs.map((c) => [c.name, JSON.stringify(c)]));
    for (const c of configs) {
      const before = this.#announced.get(c.name);
      if (before === next.get(c.name)) continue;
      this.#opts.log('info', `listener ${before === undefined ? 'added' : 'modified'}: ${describeListener(c)}`);
    }
    for (const name of this.#announced.keys()) {
      if (!next.has(name)) this.#opts.log('info', `listener removed: '${name}' (its connections drain for up to ${this.#opts.drainTimeMs / 1000}s)`);
    }
    this.#announced = next;
  }

  #updateGauges(): void {
    this.#stats.active.set(this.#static.size + this.#active.size);
    this.#stats.warming.set(this.#warming.size);
  }
}
