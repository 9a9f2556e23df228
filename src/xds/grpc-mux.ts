/**
 * One SotW xDS stream to a management server, shared by every watch on it (Envoy's
 * GrpcMuxImpl). MAIN process only. An ADS mux (AggregatedDiscoveryService.
 * StreamAggregatedResources) carries every type over one stream; a per-type mux
 * (RouteDiscoveryService.StreamRoutes...) carries one. Same code, different method.
 *
 * The stream is a state machine (`#transition` refuses anything not listed in TRANSITIONS and
 * traces `A -> B`):
 *
 *   idle ──first watch──▶ connecting ──headers or a response──▶ connected
 *                            │   ▲                                 │
 *                 stream ends│   │backoff timer      stream ends   │
 *                            ▼   │                                 │
 *                           backoff ◀──────────────────────────────┘
 *   any ──shutdown()──▶ stopped
 *
 * Per type it keeps the last accepted version (kept across streams: a new stream resubscribes
 * with it), the last nonce received on the current stream, and the watches. Requests:
 * - initial / names changed: version_info = last accepted, response_nonce = last nonce,
 *   resource_names = union of the watches' names (empty = wildcard for LDS/CDS);
 * - ACK: version_info = the response's version, response_nonce = its nonce;
 * - NACK: version_info = the previous accepted version, response_nonce = the nonce,
 *   error_detail = {code: 3 (INVALID_ARGUMENT), message};
 * - `node` only on the first request of each stream.
 * Every response is ACKed or NACKed. A response that does not decode is NACKed as a whole
 * and each watch of its type is told (onRejected); otherwise each watch gets its names' part
 * (all of it when wildcard), and the response is NACKed if any watch refuses it.
 *
 * Accepted resources are cached per type (the last accepted copy of each name). A watch
 * added for names the stream already carries gets the cached copies on the next tick, as
 * Envoy's EDS cache gives a cluster re-created by CDS its endpoints: a SotW server does not
 * resend resources whose names and version did not change. The verdict of such a delivery
 * is the watch's own business (nothing to ACK).
 *
 * `control_plane.connected_state` (gauge, 1/0) lives in the scope given at construction.
 * Backoff: jittered exponential (backoff.ts), reset once a stream delivers a response. Each
 * attempt uses a fresh channel, so grpc-js's own reconnect backoff never adds to ours.
 */
import * as grpc from '@grpc/grpc-js';
import type { Gauge, StatsScope } from '../api/stats.js';
import type { LogLevel } from '../common/logger.js';
import { JitteredBackoff, type BackoffOptions } from './backoff.js';
import { XDS_CHANNEL_OPTIONS, type DiscoveryMethod, type DiscoveryRequest, type DiscoveryResponse } from './discovery-service.js';
import { nodeToRequestObject, type XdsNode } from './node-identity.js';
import { decodeAnyResources, formatResourceProblems, type DecodedResource } from './resource-decoder.js';
import { resourceTypeFor, type XdsResourceType } from './resource-type.js';
import type { UpdateVerdict } from './subscription.js';

/** Where xDS code logs (src/common/logger.ts Logger satisfies it). */
export interface XdsLogger {
  log(level: LogLevel, message: string): void;
}

export const GRPC_STATUS_INVALID_ARGUMENT = 3;

export type MuxState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'stopped';

const TRANSITIONS: Readonly<Record<MuxState, readonly MuxState[]>> = {
  idle: ['connecting', 'stopped'],
  connecting: ['connected', 'backoff', 'stopped'],
  connected: ['backoff', 'stopped'],
  backoff: ['connecting', 'stopped'],
  stopped: [],
};

/** What a watch hears from the mux. Called on MAIN, from gRPC events (never re-entrantly from mux methods). */
export interface MuxWatcher {
  /** This watch's part of a decoded response; the verdict decides ACK or NACK. */
  onUpdate(resources: DecodedResource[], versionInfo: string): UpdateVerdict;
  /** A response of this type did not decode; it was NACKed with `message`. */
  onRejected(message: string): void;
  /** The stream ended; the mux reconnects by itself. */
  onConnectionFailure(message: string): void;
}

/** A registered watch. */
export interface MuxWatch {
  /** Replaces the names; the server is told at once. */
  updateNames(names: readonly string[]): void;
  /** Removes the watch; the server is told the new union. Idempotent. */
  cancel(): void;
}

export interface GrpcMuxOptions {
  /** For logs: "ads" or "rds(local_route)". */
  readonly name: string;
  /** `host:port` of the management server. */
  readonly target: string;
  readonly method: DiscoveryMethod;
  readonly node: XdsNode;
  /** Scope holding `control_plane.connected_state`. */
  readonly stats: StatsScope;
  readonly backoff?: BackoffOptions | undefined;
  readonly log?: XdsLogger | undefined;
  /** Default: insecure (plaintext h2c), as Envoy's envoy_grpc to a cluster without TLS. */
  readonly credentials?: grpc.ChannelCredentials | undefined;
}

interface WatchRecord {
  readonly type: XdsResourceType;
  names: ReadonlySet<string>;
  readonly watcher: MuxWatcher;
  cancelled: boolean;
}

interface TypeState {
  readonly type: XdsResourceType;
  readonly watches: WatchRecord[];
  /** Last accepted version_info ('' before the first ACK); survives reconnects. */
  acceptedVersion: string;
  /** Nonce of the last response on the current stream. */
  nonce: string;
  /** A request was sent for this type on the current stream. */
  requested: boolean;
  /** Last accepted copy of each resource (all of them for LDS/CDS: the last full set). */
  cache: Map<string, DecodedResource>;
}

export class GrpcMux {
  readonly #opts: GrpcMuxOptions;
  readonly #backoff: JitteredBackoff;
  readonly #connected: Gauge;
  /** Whether a stream was ever up: the next one is a reconnection (logged as such). */
  #everConnected = false;
  /** Insertion order = the order types are first requested on a new stream. */
  readonly #types = new Map<string, TypeState>();
  #state: MuxState = 'idle';
  #client: grpc.Client | undefined;
  #call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> | undefined;
  #nodeSent = false;
  #timer: NodeJS.Timeout | undefined;
  #flushScheduled = false;
  #connectScheduled = false;
  readonly #pending = new Set<string>();

  constructor(opts: GrpcMuxOptions) {
    this.#opts = opts;
    this.#backoff = new JitteredBackoff(opts.backoff);
    this.#connected = opts.stats.gauge('control_plane.connected_state');
    this.#connected.set(0);
  }

  get state(): MuxState {
    return this.#state;
  }

  /** Last accepted version of a type ('' if none). */
  acceptedVersion(typeUrl: string): string {
    return this.#types.get(typeUrl)?.acceptedVersion ?? '';
  }

  /**
   * MAIN. Adds a watch of `type` for `names` (empty = wildcard for LDS/CDS, nothing for
   * others) and starts the stream if it is idle. Requests go out on the next tick, so watches
   * added in one tick share one request (and the first stream starts with all of them).
   */
  addWatch(type: XdsResourceType, names: readonly string[], watcher: MuxWatcher): MuxWatch {
    if (this.#state === 'stopped') throw new Error(`xDS mux ${this.#opts.name} is stopped`);
    let ts = this.#types.get(type.typeUrl);
    if (!ts) {
      ts = { type, watches: [], acceptedVersion: '', nonce: '', requested: false, cache: new Map() };
      this.#types.set(type.typeUrl, ts);
    }
    const record: WatchRecord = { type, names: new Set(names), watcher, cancelled: false };
    ts.watches.push(record);
    const state = ts;
    if (ts.cache.size > 0) this.#deliverCached(ts, record);
    if (this.#state === 'idle') {
      if (!this.#connectScheduled) {
        this.#connectScheduled = true;
        setImmediate(() => {
          this.#connectScheduled = false;
          if (this.#state === 'idle') this.#connect();
        });
      }
    } else {
      this.#schedule(type.typeUrl);
    }
    return {
      updateNames: (next) => {
        if (record.cancelled) return;
        record.names = new Set(next);
        this.#schedule(type.typeUrl);
      },
      cancel: () => {
        if (record.cancelled) return;
        record.cancelled = true;
        const i = state.watches.indexOf(record);
        if (i >= 0) state.watches.splice(i, 1);
        // Names no watch names any more leave the cache (the server is told; a later watch gets them anew).
        if (!type.allResourcesRequiredInSotW) {
          for (const n of record.names) if (!state.watches.some((w) => w.names.has(n))) state.cache.delete(n);
        } else if (state.watches.length === 0) state.cache.clear();
        if (this.#state !== 'stopped') this.#schedule(type.typeUrl);
      },
    };
  }

  /** Gives a new watch the cached resources it names (all for a wildcard), on the next tick. */
  #deliverCached(ts: TypeState, record: WatchRecord): void {
    setImmediate(() => {
      if (record.cancelled || this.#isStopped()) return;
      const wildcard = record.names.size === 0 && ts.type.allResourcesRequiredInSotW;
      const mine = wildcard ? [...ts.cache.values()] : [...record.names].flatMap((n) => ts.cache.get(n) ?? []);
      if (!wildcard && mine.length === 0) return;
      this.#log('debug', `${ts.type.shortName} cached version="${ts.acceptedVersion}" names=[${mine.map((r) => r.name).join(',')}] to a new watch`);
      try {
        record.watcher.onUpdate(mine, ts.acceptedVersion);
      } catch {
        // The watch's verdict on cached resources has no response to answer.
      }
    });
  }

  /** MAIN. Ends the stream and every timer; the mux cannot be used again. Idempotent. */
  shutdown(): void {
    if (this.#state === 'stopped') return;
    this.#transition('stopped');
  }

  #transition(next: MuxState): void {
    const prev = this.#state;
    if (!TRANSITIONS[prev].includes(next)) throw new Error(`xDS mux ${this.#opts.name}: invalid transition ${prev} -> ${next}`);
    this.#state = next;
    this.#log('debug', `${prev} -> ${next}`);
    if (prev === 'connected') this.#connected.set(0);
    switch (next) {
      case 'connecting':
        break;
      case 'connected':
        this.#connected.set(1);
        this.#log('info', `${this.#everConnected ? 'reconnected' : 'connected'} to ${this.#opts.target}`);
        this.#everConnected = true;
        break;
      case 'backoff':
      case 'stopped':
        this.#closeStream();
        if (this.#timer) clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#pending.clear();
        if (next === 'stopped') this.#connected.set(0);
        break;
      case 'idle':
        break;
    }
  }

  #connect(): void {
    this.#transition('connecting');
    const o = this.#opts;
    const client = new grpc.Client(o.target, o.credentials ?? grpc.credentials.createInsecure(), XDS_CHANNEL_OPTIONS);
    const call = client.makeBidiStreamRequest(o.method.path, o.method.serializeRequest, o.method.deserializeResponse);
    this.#client = client;
    this.#call = call;
    this.#nodeSent = false;
    for (const ts of this.#types.values()) {
      ts.nonce = '';
      ts.requested = false;
    }
    this.#log('debug', `stream to ${o.target} ${o.method.path}`);
    call.on('metadata', () => {
      if (call === this.#call && this.#state === 'connecting') this.#transition('connected');
    });
    call.on('data', (res: DiscoveryResponse) => {
      if (call !== this.#call) return;
      if (this.#state === 'connecting') this.#transition('connected');
      this.#backoff.reset();
      this.#onResponse(res);
    });
    // 'error' comes with every non-OK status; 'status' always comes, once: the one end signal.
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => {
      if (call !== this.#call) return;
      this.#onStreamEnd(`${grpc.status[status.code] ?? status.code}: ${status.details}`);
    });
    // Initial requests, in the order the types were first watched.
    for (const ts of this.#types.values()) {
      if (ts.watches.length > 0) this.#sendRequest(ts);
    }
  }

  #closeStream(): void {
    const call = this.#call;
    const client = this.#client;
    this.#call = undefined;
    this.#client = undefined;
    if (call) {
      call.cancel();
    }
    client?.close();
  }

  #onStreamEnd(reason: string): void {
    if (this.#state !== 'connecting' && this.#state !== 'connected') return;
    this.#transition('backoff');
    const delay = this.#backoff.next();
    this.#log('warning', `stream closed (${reason}); retrying in ${delay} ms`);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#state === 'backoff') this.#connect();
    }, delay);
    const message = `xDS stream to ${this.#opts.target} closed: ${reason}`;
    for (const ts of this.#types.values()) {
      for (const w of [...ts.watches]) {
        if (this.#isStopped()) return;
        if (!w.cancelled) w.watcher.onConnectionFailure(message);
      }
    }
  }

  #schedule(typeUrl: string): void {
    if (this.#state !== 'connecting' && this.#state !== 'connected') return; // sent on the next stream
    this.#pending.add(typeUrl);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const pending = [...this.#pending];
      this.#pending.clear();
      for (const url of pending) {
        const ts = this.#types.get(url);
        if (!ts || (this.#state !== 'connecting' && this.#state !== 'connected')) continue;
        // A type never requested on this stream that has lost its watches needs no request.
        if (ts.watches.length === 0 && !ts.requested) continue;
        this.#sendRequest(ts);
      }
    });
  }

  /** The union of the watches' names; [] when any watch is a wildcard (LDS/CDS with no names). */
  #names(ts: TypeState): string[] {
    const names = new Set<string>();
    for (const w of ts.watches) {
      if (w.names.size === 0 && ts.type.allResourcesRequiredInSotW) return [];
      for (const n of w.names) names.add(n);
    }
    return [...names].sort();
  }

  #sendRequest(ts: TypeState, errorDetail?: string, ackVersion?: string): void {
    const call = this.#call;
    if (!call) return;
    const req: DiscoveryRequest = {
      version_info: ackVersion ?? ts.acceptedVersion,
      resource_names: this.#names(ts),
      type_url: ts.type.typeUrl,
      response_nonce: ts.nonce,
    };
    if (!this.#nodeSent) {
      req.node = nodeToRequestObject(this.#opts.node);
      this.#nodeSent = true;
    }
    if (errorDetail !== undefined) req.error_detail = { code: GRPC_STATUS_INVALID_ARGUMENT, message: errorDetail };
    ts.requested = true;
    this.#pending.delete(ts.type.typeUrl);
    this.#log(
      'debug',
      `${ts.type.shortName} ${errorDetail !== undefined ? 'NACK' : ts.nonce ? 'ACK' : 'request'} version="${req.version_info}" nonce="${ts.nonce}" names=[${req.resource_names!.join(',')}]`,
    );
    call.write(req);
  }

  #onResponse(res: DiscoveryResponse): void {
    const typeUrl = res.type_url ?? '';
    // A per-type stream's server may leave type_url out: the stream's one type is meant.
    const only = this.#types.size === 1 && typeUrl === '' ? [...this.#types.values()][0] : undefined;
    const ts = only ?? this.#types.get(typeUrl) ?? this.#typeStateByMessage(typeUrl);
    if (!ts) {
      this.#log('warning', `ignoring a response for type "${typeUrl}": nothing subscribes to it`);
      return;
    }
    const version = res.version_info ?? '';
    ts.nonce = res.nonce ?? '';
    const decoded = decodeAnyResources(ts.type, res.resources ?? [], version);
    if (!decoded.ok) {
      const message = formatResourceProblems(ts.type, decoded.problems);
      this.#log('warning', `${ts.type.shortName} version "${version}" rejected: ${message}`);
      this.#sendRequest(ts, message);
      for (const w of [...ts.watches]) {
        if (this.#isStopped()) return;
        if (!w.cancelled) w.watcher.onRejected(message);
      }
      return;
    }
    const errors: string[] = [];
    for (const w of [...ts.watches]) {
      if (w.cancelled) continue;
      const wildcard = w.names.size === 0 && ts.type.allResourcesRequiredInSotW;
      const mine = wildcard ? decoded.resources : decoded.resources.filter((r) => w.names.has(r.name));
      if (!wildcard && mine.length === 0) continue;
      let verdict: UpdateVerdict;
      try {
        verdict = w.watcher.onUpdate(mine, version);
      } catch (e) {
        verdict = { reject: (e as Error).message };
      }
      if (this.#isStopped()) return;
      if (verdict !== 'accept') errors.push(verdict.reject);
    }
    if (errors.length > 0) {
      this.#log('warning', `${ts.type.shortName} version "${version}" rejected: ${errors.join('; ')}`);
      this.#sendRequest(ts, errors.join('\n'));
      return;
    }
    if (version !== ts.acceptedVersion) {
      this.#log('info', `${ts.type.shortName} update accepted: version "${version}", ${decoded.resources.length} resource(s)`);
    }
    ts.acceptedVersion = version;
    if (ts.type.allResourcesRequiredInSotW) ts.cache.clear();
    for (const r of decoded.resources) ts.cache.set(r.name, r);
    this.#sendRequest(ts, undefined, version);
  }

  /** A response whose type URL names a watched message with another host part. */
  #typeStateByMessage(typeUrl: string): TypeState | undefined {
    const t = resourceTypeFor(typeUrl);
    return t ? this.#types.get(t.typeUrl) : undefined;
  }

  /** Checked after every callback: a watcher may shut the mux down from inside one. */
  #isStopped(): boolean {
    return this.#state === 'stopped';
  }

  #log(level: LogLevel, message: string): void {
    this.#opts.log?.log(level, `xds ${this.#opts.name}: ${message}`);
  }
}
