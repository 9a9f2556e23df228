/**
 * A SotW xDS management server over gRPC: ADS (AggregatedDiscoveryService.
 * StreamAggregatedResources) and every per-type service Courier knows (LDS, RDS, CDS, EDS,
 * SRDS, SDS, RTDS, ECDS). It serves a directory of YAML files (resource-dir.ts), pushing
 * changes when files change (fs.watch on the directory, debounced), and/or resources set
 * programmatically. For `courier xds-server` (cli.ts) and for tests, which drive it
 * in-process: `setResources()`, the `acks`/`nacks` lists, `waitFor()`, `stop()`.
 *
 * Lifecycle: startXdsServer() binds and resolves → serving → stop() (force: every stream is
 * cut at once, as a crash would; a new server may then bind the same port).
 */
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { formatAddress } from '../../config/address.js';
import { adsMethod, sotwMethod, XDS_CHANNEL_OPTIONS, type DiscoveryRequest, type DiscoveryResponse, type DiscoveryMethod } from '../discovery-service.js';
import { allResourceTypes, resourceTypeFor, type XdsResourceType } from '../resource-type.js';
import { loadResourceDir, DirLoadError } from './resource-dir.js';
import { encodeResources, ResourceStore, type ServedResource } from './resource-store.js';
import { SotwStream, type XdsRequestEvent, type XdsResponseEvent } from './sotw-stream.js';

export type { XdsRequestEvent, XdsResponseEvent } from './sotw-stream.js';

export interface XdsServerOptions {
  /** Serve the YAML/JSON files of this directory, and watch it. */
  readonly dir?: string | undefined;
  /** 0 picks a free port (see the handle's `port`). */
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string | undefined;
  /** Initial resources, each with "@type" (added to the directory's; set before the first stream). */
  readonly resources?: readonly unknown[] | undefined;
  /** Where one-line logs go (requests, ACKs, NACKs, responses, reloads). Default: nowhere. */
  readonly log?: ((line: string) => void) | undefined;
  /** Debounce of directory changes (ms). Default 100. */
  readonly debounceMs?: number | undefined;
}

/** Events: 'request' | 'ack' | 'nack' | 'stale' (XdsRequestEvent), 'response' (XdsResponseEvent), 'reload' ({types}), 'reload_error' (Error). */
export interface XdsServerHandle {
  readonly host: string;
  readonly port: number;
  readonly events: EventEmitter;
  /** Every ACK / NACK seen, in order. */
  readonly acks: readonly XdsRequestEvent[];
  readonly nacks: readonly XdsRequestEvent[];
  readonly responses: readonly XdsResponseEvent[];
  /**
   * Replaces the resources of `typeUrl` (proto3 JSON objects, "@type" optional) and pushes
   * them to subscribed streams. The version is `version` or a hash of the content; a version
   * equal to the current one is not pushed (that is how a test makes a server stay silent).
   * A type that also has directory resources always gets the content hash. Returns the version.
   * Throws (ResourceEncodeError) when a resource does not encode.
   */
  setResources(typeUrl: string, resources: readonly unknown[], version?: string): string;
  /** Current version of a type ('' when none). */
  version(typeUrl: string): string;
  /** Resolves with the first event of `kind` (past or future) matching `predicate`; rejects after `timeoutMs`. */
  waitFor<K extends 'ack' | 'nack' | 'request' | 'response'>(
    kind: K,
    predicate?: (e: K extends 'response' ? XdsResponseEvent : XdsRequestEvent) => boolean,
    timeoutMs?: number,
  ): Promise<K extends 'response' ? XdsResponseEvent : XdsRequestEvent>;
  /** Cuts every stream and closes the port. */
  stop(): Promise<void>;
}

/** Starts a server; resolves once it listens. Throws (DirLoadError) when the directory does not load. */
export async function startXdsServer(opts: XdsServerOptions): Promise<XdsServerHandle> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? ((): void => undefined);
  const store = new ResourceStore();
  const events = new EventEmitter();
  const acks: XdsRequestEvent[] = [];
  const nacks: XdsRequestEvent[] = [];
  const requests: XdsRequestEvent[] = [];
  const responses: XdsResponseEvent[] = [];
  const streams = new Set<SotwStream>();
  let nextStreamId = 1;

  // Programmatic resources and directory resources are kept apart and merged per type.
  const programmatic = new Map<string, { resources: ServedResource[]; version?: string | undefined }>();
  let fromDir = new Map<string, ServedResource[]>();

  const publish = (): void => {
    const merged = new Map<string, ServedResource[]>();
    for (const [url, list] of fromDir) merged.set(url, [...list]);
    const versions = new Map<string, string>();
    for (const [url, p] of programmatic) {
      // A programmatic resource replaces a directory one of the same name.
      merged.set(url, [...(merged.get(url) ?? []).filter((r) => !p.resources.some((x) => x.name === r.name)), ...p.resources]);
      if (p.version !== undefined && !fromDir.has(url)) versions.set(url, p.version);
    }
    store.replaceAll(merged, versions);
  };

  const loadDir = (): void => {
    if (!opts.dir) return;
    const loaded = loadResourceDir(opts.dir);
    for (const w of loaded.warnings) log(`warning: ${w}`);
    fromDir = loaded.byType;
    publish();
    const summary = [...fromDir].map(([url, list]) => `${resourceTypeFor(url)?.shortName ?? url}:${list.length}`).join(' ');
    log(`loaded ${opts.dir}: ${summary || 'no resources'}`);
  };

  if (opts.dir) loadDir();
  if (opts.resources && opts.resources.length > 0) {
    const byType = new Map<string, unknown[]>();
    opts.resources.forEach((r) => {
      const t = (r as Record<string, unknown> | null)?.['@type'];
      if (typeof t !== 'string') throw new Error('each initial resource needs "@type"');
      byType.set(t, [...(byType.get(t) ?? []), r]);
    });
    for (const [url, list] of byType) programmatic.set(url, { resources: encodeResources(url, list) });
    publish();
  }

  const hooks = {
    onRequest(e: XdsRequestEvent): void {
      requests.push(e);
      if (e.kind === 'ack') acks.push(e);
      if (e.kind === 'nack') nacks.push(e);
      events.emit(e.kind, e);
    },
    onResponse(e: XdsResponseEvent): void {
      responses.push(e);
      events.emit('response', e);
    },
    log,
  };

  const server = new grpc.Server(XDS_CHANNEL_OPTIONS);
  const serve = (method: DiscoveryMethod, fixedType?: XdsResourceType) => (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => {
    const id = nextStreamId++;
    call.sendMetadata(new grpc.Metadata());
    log(`stream ${id} opened: ${method.path} from ${call.getPeer()}`);
    const stream = new SotwStream(id, call, store, hooks, fixedType);
    streams.add(stream);
    const done = (): void => {
      if (!streams.delete(stream)) return;
      stream.close();
      log(`stream ${id} closed`);
    };
    call.on('cancelled', done);
    call.on('close', done);
    call.on('error', done);
    call.on('end', done);
  };
  const ads = adsMethod();
  server.addService(serviceOf(ads), { [ads.methodName]: serve(ads) });
  for (const t of allResourceTypes()) {
    const m = sotwMethod(t);
    if (m) server.addService(serviceOf(m), { [m.methodName]: serve(m, t) });
  }
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(formatAddress(host, opts.port), grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });

  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  if (opts.dir) {
    watcher = watch(opts.dir, { persistent: false }, () => {
      if (debounce) clearTimeout(debounce);
      debounce = setTimeout(() => {
        debounce = undefined;
        try {
          loadDir();
          events.emit('reload', { types: store.typeUrls() });
        } catch (e) {
          log(`reload of ${opts.dir} failed; still serving the last good set:\n${(e as Error).message}`);
          events.emit('reload_error', e);
        }
      }, opts.debounceMs ?? 100);
    });
    watcher.on('error', (e) => log(`watching ${opts.dir} failed: ${e.message}`));
  }

  const handle: XdsServerHandle = {
    host,
    port,
    events,
    acks,
    nacks,
    responses,
    setResources(typeUrl, resources, version) {
      const served = encodeResources(typeUrl, resources);
      programmatic.set(typeUrl, { resources: served, version });
      publish();
      return store.get(typeUrl)?.version ?? '';
    },
    version(typeUrl) {
      return store.get(typeUrl)?.version ?? '';
    },
    waitFor(kind, predicate, timeoutMs = 5000) {
      type E = Parameters<NonNullable<typeof predicate>>[0];
      const past = (kind === 'response' ? responses : requests.filter((r) => r.kind === kind)) as E[];
      const hit = past.find((e) => !predicate || predicate(e));
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          events.off(kind, listener);
          reject(new Error(`xds-server: no ${kind} matching within ${timeoutMs} ms`));
        }, timeoutMs);
        const listener = (e: E): void => {
          if (predicate && !predicate(e)) return;
          clearTimeout(timer);
          events.off(kind, listener);
          resolve(e);
        };
        events.on(kind, listener);
      });
    },
    async stop() {
      watcher?.close();
      if (debounce) clearTimeout(debounce);
      for (const s of streams) s.close();
      streams.clear();
      server.forceShutdown();
    },
  };
  log(`xds-server listening on ${formatAddress(host, port)}`);
  return handle;
}

function serviceOf(m: DiscoveryMethod): grpc.ServiceDefinition {
  // Only the streaming SotW method is implemented; Delta*/Fetch* answer UNIMPLEMENTED.
  return { [m.methodName]: serviceMethods(m) } as unknown as grpc.ServiceDefinition;
}

function serviceMethods(m: DiscoveryMethod): grpc.MethodDefinition<DiscoveryRequest, DiscoveryResponse> {
  return {
    path: m.path,
    requestStream: true,
    responseStream: true,
    requestSerialize: m.serializeRequest,
    requestDeserialize: m.deserializeRequest,
    responseSerialize: m.serializeResponse,
    responseDeserialize: m.deserializeResponse,
  };
}

export { DirLoadError };
