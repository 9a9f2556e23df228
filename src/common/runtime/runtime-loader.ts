/**
 * The layered runtime on the main process (Envoy's Runtime::LoaderImpl). MAIN only.
 *
 * Holds the configured layers in order (static, disk, admin, RTDS) and builds a new immutable
 * snapshot whenever one of them changes: at start, on POST /runtime_modify (the admin layer),
 * when a disk layer's symlink_root is swapped (a rename onto it, as `mv -Tf new current`
 * does), and on each accepted RTDS update. Each snapshot is posted to every worker (the
 * `runtime` slot): a request that starts after the post sees the new values, on every worker,
 * with no restart. Later layers override earlier ones, key by key.
 *
 * Loading follows Envoy's createNewSnapshot: a disk layer whose directory does not exist is
 * left out (it is not in /runtime's `layers`); one that cannot be read is left out and counted
 * in runtime.load_error (else runtime.load_success). Stats: runtime.load_success, load_error,
 * override_dir_exists, override_dir_not_exists, deprecated_feature_use (counters),
 * runtime.num_keys, num_layers, admin_overrides_active, deprecated_feature_seen_since_process_start
 * (gauges).
 *
 * RTDS (rtds_layer): one subscription per layer to its named envoy.service.runtime.v3.Runtime
 * resource; an update must carry exactly that resource (else it is refused); its `layer`
 * Struct replaces the layer's values. `initialFetchDone` resolves after every RTDS layer's
 * first update, refusal or initial_fetch_timeout (server start-up waits for it, as Envoy's
 * init manager does). Subscription stats go under `runtime.` (Envoy's scope for them).
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Counter, Gauge, StatsScope } from '../../api/stats.js';
import type { RuntimeLoader } from '../../api/runtime.js';
import type { RuntimeConfig, RuntimeLayerConfig } from '../../config/runtime-config.js';
import { RUNTIME } from '../../xds/resource-type.js';
import type { XdsSubscriptionFactory } from '../../xds/subscription-factory.js';
import type { DecodedResource, UpdateVerdict, XdsSubscription } from '../../xds/subscription.js';
import { entryFromText } from './runtime-entry.js';
import { diskLayerPath, directoryLayerValues, isDirectory, structLayerValues, type LoadedRuntimeLayer } from './runtime-layers.js';
import { RuntimeSnapshotImpl, type RuntimeEntry, type RuntimeSlotValue } from './runtime-snapshot.js';

export interface LayeredRuntimeOptions {
  readonly config: RuntimeConfig;
  /** node.cluster: disk layers with append_service_cluster read `<subdirectory>/<cluster>`. */
  readonly serviceCluster: string;
  /** The root scope: stats go to `runtime.`. */
  readonly stats: StatsScope;
  /** Posts a new snapshot to the workers; resolves once every live worker has applied it. */
  readonly publish: (value: RuntimeSlotValue) => Promise<void>;
  readonly log: (level: 'info' | 'warning' | 'debug', message: string) => void;
}

/** The answer of mergeValues when no admin layer is configured (Envoy's text; admin says 503). */
export const NO_ADMIN_LAYER = 'No admin layer specified';

/** The longest /runtime_modify waits for the workers to apply its snapshot. */
const APPLY_WAIT_MS = 2000;

/** How long a burst of renames under a symlink root is gathered before one reload. */
const DISK_RELOAD_DEBOUNCE_MS = 20;

interface RuntimeStats {
  loadSuccess: Counter;
  loadError: Counter;
  overrideDirExists: Counter;
  overrideDirNotExists: Counter;
  numKeys: Gauge;
  numLayers: Gauge;
  adminOverridesActive: Gauge;
}

export class LayeredRuntime implements RuntimeLoader {
  readonly #opts: LayeredRuntimeOptions;
  readonly #stats: RuntimeStats;
  /** The admin layer's values; undefined when none is configured. */
  readonly #admin: Map<string, RuntimeEntry> | undefined;
  /** Each RTDS layer's last accepted `layer` Struct, by layer name. */
  readonly #rtdsValues = new Map<string, Map<string, RuntimeEntry>>();
  readonly #subscriptions: XdsSubscription[] = [];
  readonly #watchers: FSWatcher[] = [];
  #reloadTimer: NodeJS.Timeout | undefined;
  #snapshot: RuntimeSnapshotImpl;
  #layers: LoadedRuntimeLayer[] = [];
  #initialPending = 0;
  #initialDone!: () => void;
  /** Every RTDS layer's first update (or refusal, or initial_fetch_timeout); at once without RTDS. */
  readonly initialFetchDone: Promise<void>;

  constructor(opts: LayeredRuntimeOptions) {
    this.#opts = opts;
    const s = opts.stats.scope('runtime');
    this.#stats = {
      loadSuccess: s.counter('load_success'),
      loadError: s.counter('load_error'),
      overrideDirExists: s.counter('override_dir_exists'),
      overrideDirNotExists: s.counter('override_dir_not_exists'),
      numKeys: s.gauge('num_keys'),
      numLayers: s.gauge('num_layers'),
      adminOverridesActive: s.gauge('admin_overrides_active'),
    };
    // Declared as Envoy declares them; Courier has no deprecated runtime features to count.
    s.counter('deprecated_feature_use');
    s.gauge('deprecated_feature_seen_since_process_start');
    this.#admin = opts.config.layers.some((l) => l.kind === 'admin') ? new Map() : undefined;
    this.initialFetchDone = new Promise((r) => (this.#initialDone = r));
    this.#snapshot = this.#load();
  }

  snapshot(): RuntimeSnapshotImpl {
    return this.#snapshot;
  }

  /** The layers of the current snapshot, in override order (GET /runtime). */
  layers(): readonly LoadedRuntimeLayer[] {
    return this.#layers;
  }

  /**
   * POST /runtime_modify: sets (or, with an empty value, removes) admin-layer keys and posts
   * a new snapshot; resolves once the workers have it (or after APPLY_WAIT_MS), so a request
   * sent after the answer sees the new values. Resolves to NO_ADMIN_LAYER when there is no
   * admin layer.
   */
  async mergeValues(values: ReadonlyArray<readonly [string, string]>): Promise<string | undefined> {
    const admin = this.#admin;
    if (!admin) return NO_ADMIN_LAYER;
    for (const [key, value] of values) {
      admin.delete(key);
      if (value !== '') admin.set(key, entryFromText(value));
    }
    this.#opts.log('info', `runtime: admin layer ${values.map(([k, v]) => (v === '' ? `-${k}` : `${k}=${v}`)).join(' ')}`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#reload(), new Promise<void>((r) => (timer = setTimeout(r, APPLY_WAIT_MS)))]);
    clearTimeout(timer);
    return undefined;
  }

  /** Posts the first snapshot, starts the disk watches and the RTDS subscriptions. */
  start(factory: XdsSubscriptionFactory): void {
    void this.#opts.publish(this.#slotValue());
    for (const root of new Set(this.#opts.config.layers.flatMap((l) => (l.kind === 'disk' ? [l.symlinkRoot] : [])))) this.#watchRoot(root);
    const rtds = this.#opts.config.layers.filter((l): l is Extract<RuntimeLayerConfig, { kind: 'rtds' }> => l.kind === 'rtds');
    this.#initialPending = rtds.length;
    if (rtds.length === 0) this.#initialDone();
    for (const layer of rtds) this.#subscribe(layer, factory);
  }

  stop(): void {
    for (const s of this.#subscriptions) s.stop();
    for (const w of this.#watchers) w.close();
    if (this.#reloadTimer) clearTimeout(this.#reloadTimer);
  }

  /** Envoy's Filesystem::Watcher on symlink_root for MovedTo: watch its directory, filter by name. */
  #watchRoot(root: string): void {
    const dir = path.dirname(root);
    const base = path.basename(root);
    try {
      const w = watch(dir, { persistent: false }, (event, filename) => {
        if (event !== 'rename' || filename !== base) return;
        if (this.#reloadTimer) clearTimeout(this.#reloadTimer);
        this.#reloadTimer = setTimeout(() => {
          this.#reloadTimer = undefined;
          this.#opts.log('info', `runtime: ${root} was swapped; reloading`);
          void this.#reload();
        }, DISK_RELOAD_DEBOUNCE_MS);
      });
      w.on('error', (e) => this.#opts.log('warning', `runtime: watching ${dir} failed: ${e.message}`));
      this.#watchers.push(w);
    } catch (e) {
      this.#opts.log('warning', `runtime: cannot watch ${dir} for symlink swaps of ${root}: ${(e as Error).message}`);
    }
  }

  #subscribe(layer: Extract<RuntimeLayerConfig, { kind: 'rtds' }>, factory: XdsSubscriptionFactory): void {
    let first = true;
    const firstDone = (): void => {
      if (!first) return;
      first = false;
      if (--this.#initialPending === 0) this.#initialDone();
    };
    const sub = factory.subscriptionFromConfigSource(
      layer.source,
      RUNTIME.typeUrl,
      {
        onConfigUpdate: (resources, version) => {
          firstDone();
          return this.#onRtdsUpdate(layer, resources, version);
        },
        onConfigUpdateFailed: (reason, error) => {
          if (reason === 'connection') {
            this.#opts.log('debug', `rtds ${layer.resourceName}: ${error ?? 'connection failure'}`);
            return;
          }
          this.#opts.log('warning', `rtds ${layer.resourceName}: update ${reason}${error ? `: ${error}` : ''}`);
          firstDone();
        },
      },
      this.#opts.stats.scope('runtime'),
    );
    this.#subscriptions.push(sub);
    if (layer.source.initialFetchTimeoutMs === 0) firstDone();
    sub.start([layer.resourceName]);
  }

  #onRtdsUpdate(layer: Extract<RuntimeLayerConfig, { kind: 'rtds' }>, resources: DecodedResource[], version: string): UpdateVerdict {
    if (resources.length !== 1) return { reject: `Unexpected RTDS resource length: ${resources.length}` };
    const resource = resources[0]!.resource;
    const name = typeof resource['name'] === 'string' ? resource['name'] : '';
    if (name !== layer.resourceName) return { reject: `Unexpected RTDS runtime (expecting ${layer.resourceName}): ${name}` };
    const struct = resource['layer'];
    let values: Map<string, RuntimeEntry>;
    try {
      values = structLayerValues(typeof struct === 'object' && struct !== null ? (struct as Record<string, unknown>) : {});
    } catch (e) {
      return { reject: (e as Error).message };
    }
    this.#rtdsValues.set(layer.name, values);
    this.#opts.log('info', `rtds ${layer.resourceName}: ${values.size} key(s) (version ${version})`);
    void this.#reload();
    return 'accept';
  }

  #reload(): Promise<void> {
    this.#snapshot = this.#load();
    return this.#opts.publish(this.#slotValue());
  }

  #slotValue(): RuntimeSlotValue {
    const entries: Record<string, RuntimeEntry> = {};
    for (const layer of this.#layers) for (const [k, v] of layer.values) entries[k] = v;
    return { entries };
  }

  /** Envoy's createNewSnapshot: every layer read again, in order. */
  #load(): RuntimeSnapshotImpl {
    const layers: LoadedRuntimeLayer[] = [];
    let diskLayers = 0;
    let errors = 0;
    for (const layer of this.#opts.config.layers) {
      switch (layer.kind) {
        case 'static':
          layers.push({ name: layer.name, values: new Map(layer.values) });
          break;
        case 'admin':
          layers.push({ name: layer.name, values: new Map(this.#admin) });
          break;
        case 'rtds':
          layers.push({ name: layer.name, values: this.#rtdsValues.get(layer.name) ?? new Map() });
          break;
        case 'disk': {
          const dir = diskLayerPath(layer.symlinkRoot, layer.subdirectory, layer.appendServiceCluster ? this.#opts.serviceCluster : undefined);
          if (!isDirectory(dir)) break;
          try {
            layers.push({ name: layer.name, values: directoryLayerValues(dir) });
            diskLayers++;
          } catch (e) {
            errors++;
            this.#opts.log('warning', `runtime: layer ${layer.name}: cannot load ${dir}: ${(e as Error).message}`);
          }
          break;
        }
      }
    }
    const merged = new Map<string, RuntimeEntry>();
    for (const layer of layers) for (const [k, v] of layer.values) merged.set(k, v);
    this.#layers = layers;
    const st = this.#stats;
    st.numLayers.set(layers.length);
    st.numKeys.set(merged.size);
    st.adminOverridesActive.set(this.#admin && this.#admin.size > 0 ? 1 : 0);
    (errors === 0 ? st.loadSuccess : st.loadError).inc();
    // Envoy counts a load as "using an override directory" only past one disk layer.
    (diskLayers > 1 ? st.overrideDirExists : st.overrideDirNotExists).inc();
    return new RuntimeSnapshotImpl(merged);
  }
}
