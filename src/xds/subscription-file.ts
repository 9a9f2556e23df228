/**
 * A subscription to a watched file (Envoy's FilesystemSubscriptionImpl). MAIN process.
 *
 * The file holds a DiscoveryResponse in YAML or JSON (`version_info`, `resources` with
 * "@type"...). Writers replace it by atomic rename (write elsewhere, `mv` over it), so the
 * directory is watched, not the file (a rename gives the path a new inode); with
 * `watched_directory` (the Kubernetes ConfigMap `..data` swap) any change there reloads the
 * file. Events are debounced; a read whose text equals the last one processed is skipped.
 *
 * Each load: read → parse (errors with lines) → decode every resource as the gRPC path does
 * (resource-decoder.ts) → deliver the subscribed names' resources ([] when none, counted in
 * update_empty; all of them for a wildcard). A file that does not parse or decode, or that the
 * caller refuses, is `rejected` (update_rejected) and the last good state stays current; a
 * file that cannot be read counts update_failure and is reported `rejected` too (Envoy's
 * UpdateRejected: start-up is not held for a missing file).
 *
 * State machine: created → started (watching) → stopped; loads run only while started.
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { StatsScope } from '../api/stats.js';
import { ConfigError } from '../config/config-error.js';
import { parseConfigText, type ParsedDocument } from '../config/config-source-file.js';
import { readConfigText } from '../config/input-limits.js';
import type { XdsLogger } from './grpc-mux.js';
import { decodeJsonResources, formatResourceProblems, type DecodedResource, type ResourceProblem } from './resource-decoder.js';
import { sameMessageType, type XdsResourceType } from './resource-type.js';
import type { SubscriptionCallbacks, UpdateVerdict, XdsSubscription } from './subscription.js';
import { armInitialFetchTimeout, recordAccepted, recordFailure, recordRejected, subscriptionStats, type SubscriptionStats } from './subscription-stats.js';

export interface FileSubscriptionOptions {
  /** The file holding the DiscoveryResponse. */
  readonly path: string;
  /** path_config_source.watched_directory.path: watch this directory instead of the file's. */
  readonly watchedDirectory?: string | undefined;
  readonly type: XdsResourceType;
  readonly callbacks: SubscriptionCallbacks;
  readonly stats: StatsScope;
  /** 0 disables; fires when no good file arrived in time. */
  readonly initialFetchTimeoutMs: number;
  /** Default 50 ms. */
  readonly debounceMs?: number | undefined;
  readonly log?: XdsLogger | undefined;
}

const DISCOVERY_RESPONSE_FIELDS = ['version_info', 'resources', 'type_url', 'nonce', 'control_plane', 'canary'];

export class FileSubscription implements XdsSubscription {
  readonly typeUrl: string;
  readonly #opts: FileSubscriptionOptions;
  readonly #stats: SubscriptionStats;
  #state: 'created' | 'started' | 'stopped' = 'created';
  #names: ReadonlySet<string> = new Set();
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #initTimer: NodeJS.Timeout | undefined;
  #lastText: string | undefined;

  constructor(opts: FileSubscriptionOptions) {
    this.#opts = opts;
    this.typeUrl = opts.type.typeUrl;
    this.#stats = subscriptionStats(opts.stats);
  }

  start(resourceNames: readonly string[]): void {
    if (this.#state !== 'created') throw new Error(`file subscription ${this.#opts.path} already ${this.#state}`);
    this.#state = 'started';
    this.#names = new Set(resourceNames);
    const dir = this.#opts.watchedDirectory ?? path.dirname(this.#opts.path);
    const base = path.basename(this.#opts.path);
    try {
      this.#watcher = watch(dir, { persistent: false }, (_event, filename) => {
        if (this.#opts.watchedDirectory === undefined && filename !== null && filename !== base) return;
        this.#scheduleLoad();
      });
      this.#watcher.on('error', (e) => this.#log('warning', `watching ${dir} failed: ${e.message}`));
    } catch (e) {
      this.#log('warning', `cannot watch ${dir}: ${(e as Error).message}`);
    }
    this.#initTimer = armInitialFetchTimeout(
      this.#opts.initialFetchTimeoutMs,
      this.#stats,
      () => {
        this.#initTimer = undefined;
        return this.#state === 'started';
      },
      () => this.#opts.callbacks.onConfigUpdateFailed('fetch_timeout'),
    );
    setImmediate(() => this.#loadGuarded(true));
  }

  updateResourceNames(resourceNames: readonly string[]): void {
    if (this.#state !== 'started') return;
    this.#names = new Set(resourceNames);
    setImmediate(() => this.#loadGuarded(true));
  }

  stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#debounce) clearTimeout(this.#debounce);
    if (this.#initTimer) clearTimeout(this.#initTimer);
    this.#debounce = undefined;
    this.#initTimer = undefined;
  }

  #scheduleLoad(): void {
    if (this.#state !== 'started') return;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      this.#loadGuarded(false);
    }, this.#opts.debounceMs ?? 50);
  }

  /**
   * Loads from a timer: whatever a file holds, the failure is this subscription's (the file is
   * rejected and the last good config stays), never an exception on main.
   */
  #loadGuarded(force: boolean): void {
    try {
      this.#load(force);
    } catch (e) {
      this.#reject(`${this.#opts.path}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Reads and delivers the file; `force` delivers even when the text did not change. */
  #load(force: boolean): void {
    if (this.#state !== 'started') return;
    const file = this.#opts.path;
    let text: string;
    try {
      text = readConfigText(file);
    } catch (e) {
      this.#lastText = undefined;
      recordFailure(this.#stats);
      this.#log('warning', `cannot read ${file}: ${(e as Error).message}`);
      // Envoy's filesystem subscription reports this as a rejection (UpdateRejected), so a
      // missing file does not hold start-up for initial_fetch_timeout; the file is still
      // watched and loads when it appears.
      this.#endInitialFetch();
      this.#opts.callbacks.onConfigUpdateFailed('rejected', `cannot read ${file}: ${(e as Error).message}`);
      return;
    }
    if (!force && text === this.#lastText) return;
    this.#lastText = text;
    const parsed = parseDiscoveryFile(text, file, this.#opts.type);
    if ('error' in parsed) {
      this.#reject(parsed.error);
      return;
    }
    const subset = this.#names.size === 0 && this.#opts.type.allResourcesRequiredInSotW
      ? parsed.resources
      : parsed.resources.filter((r) => this.#names.has(r.name));
    this.#endInitialFetch();
    let verdict: UpdateVerdict;
    try {
      verdict = this.#opts.callbacks.onConfigUpdate(subset, parsed.version);
    } catch (e) {
      verdict = { reject: e instanceof Error ? e.message : String(e) };
    }
    if (this.#state !== 'started') return;
    if (verdict === 'accept') {
      recordAccepted(this.#stats, parsed.version, subset.length === 0);
      this.#log('info', `${file}: version "${parsed.version}" accepted, ${subset.length} resource(s)`);
    } else {
      this.#reject(verdict.reject);
    }
  }

  #reject(message: string): void {
    recordRejected(this.#stats);
    // A rejected file is an answer: the initial fetch is over (Envoy disables the timer on rejection).
    this.#endInitialFetch();
    this.#log('warning', `${this.#opts.path} rejected; keeping the last good config: ${message}`);
    if (this.#state === 'started') this.#opts.callbacks.onConfigUpdateFailed('rejected', message);
  }

  #endInitialFetch(): void {
    if (this.#initTimer) clearTimeout(this.#initTimer);
    this.#initTimer = undefined;
  }

  #log(level: 'debug' | 'info' | 'warning', message: string): void {
    this.#opts.log?.log(level, `xds file ${this.#opts.type.shortName}: ${message}`);
  }
}

/**
 * The text of a watched file → its version and decoded resources of `type` (and the line of
 * a field path, for later problems), or every problem (with the file's name and lines) as one
 * message. Also used by `--mode validate`.
 */
export function parseDiscoveryFile(
  text: string,
  file: string,
  type: XdsResourceType,
  partial = false,
):
  | { version: string; resources: DecodedResource[]; lineOf: (path: string) => number | undefined }
  | { error: string; partial?: DiscoveryFilePartial } {
  let doc: ParsedDocument;
  try {
    doc = parseConfigText(text, file);
  } catch (e) {
    return { error: e instanceof ConfigError ? e.message : `${file}: ${(e as Error).message}` };
  }
  const v = doc.value;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: `${file}: expected a DiscoveryResponse (an object with "resources")` };
  const o = v as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(o)) {
    if (!DISCOVERY_RESPONSE_FIELDS.includes(key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`))) {
      problems.push(`${file}: ${key}${lineText(doc, key)}: unknown field "${key}" in envoy.service.discovery.v3.DiscoveryResponse`);
    }
  }
  const version = o['version_info'] ?? o['versionInfo'] ?? '';
  if (typeof version !== 'string') problems.push(`${file}: version_info${lineText(doc, 'version_info')}: expected a string`);
  const typeUrl = o['type_url'] ?? o['typeUrl'];
  if (typeUrl !== undefined && (typeof typeUrl !== 'string' || !sameMessageType(typeUrl, type.typeUrl))) {
    problems.push(`${file}: type_url${lineText(doc, 'type_url')}: "${String(typeUrl)}" does not match the subscribed type ${type.typeUrl}`);
  }
  // A single resource is a list of one, as everywhere in Envoy's config loading.
  const given = o['resources'] ?? [];
  const resources = typeof given === 'object' && given !== null && !Array.isArray(given) ? [given] : given;
  if (!Array.isArray(resources)) problems.push(`${file}: resources${lineText(doc, 'resources')}: expected a list`);
  if (problems.length > 0) return { error: problems.join('\n') };
  const decoded = decodeJsonResources(type, resources as unknown[], version as string, partial);
  if (!decoded.ok) {
    const lines = formatResourceProblems(type, decoded.problems, (p) => doc.lineOf(p));
    const error = lines.split('\n').map((l) => `${file}: ${l}`).join('\n');
    return decoded.partial ? { error, partial: { problems: decoded.problems, resources: decoded.partial, lineOf: (p) => doc.lineOf(p) } } : { error };
  }
  return { version: version as string, resources: decoded.resources, lineOf: (p) => doc.lineOf(p) };
}

/** `--mode validate`: a file's decode problems and what did decode, to translate for more problems. */
export interface DiscoveryFilePartial {
  readonly problems: readonly ResourceProblem[];
  /** By index in `resources`. */
  readonly resources: ReadonlyArray<{ index: number; resource: DecodedResource }>;
  lineOf(path: string): number | undefined;
}

function lineText(doc: ParsedDocument, p: string): string {
  const line = doc.lineOf(p);
  return line ? ` (line ${line})` : '';
}
