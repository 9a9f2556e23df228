/**
 * A compiled MetaProtocol route table (WORKER): routes tried in order, the first whose
 * metadata matchers all match wins (MetaProtocol's RouteMatcherImpl). `route` draws the
 * weighted cluster and the mirror fractions per request and returns what the RPC router needs.
 */
import type { MetaMetadata } from '../../../../../api/meta-protocol-codec.js';
import { compileHeaderMatcher, type HeaderMatcher } from '../../../../../common/matchers/header-matcher.js';
import type { RpcRoute } from '../../../../../common/rpc/rpc-router.js';
import { hashString } from '../../../../../common/upstream/hash.js';
import type { MetaMirrorConfig, MetaRouteConfig, MetaRouteEntryConfig } from './route-config.js';
import type { RuntimeLoader } from '../../../../../api/runtime.js';
import { NULL_RUNTIME_LOADER } from '../../../../../common/runtime/runtime-snapshot.js';
import { runtimeFractionMatches } from '../../../../../common/runtime/runtime-fraction.js';

/** One request's route: a fixed shape (one hidden class), so the router's reads stay monomorphic. */
class ResolvedMetaRoute implements RpcRoute {
  constructor(
    readonly cluster: string,
    readonly hashKey: number | undefined,
    readonly timeoutMs: number | undefined,
    readonly connectRetries: number,
    readonly requestMutation: ReadonlyMap<string, string> | undefined,
    readonly responseMutation: ReadonlyMap<string, string> | undefined,
    readonly mirrorClusters: readonly string[] | undefined,
  ) {}
}

class MetaRoute {
  readonly name: string;
  readonly #matchers: HeaderMatcher[];
  readonly #clusters: ReadonlyArray<{ name: string; weight: number }>;
  readonly #totalWeight: number;
  readonly #hashKeys: readonly string[];
  readonly #mirrors: readonly MetaMirrorConfig[];
  readonly #runtime: RuntimeLoader;
  readonly #timeoutMs: number | undefined;
  readonly #connectRetries: number;
  readonly #requestMutation: ReadonlyMap<string, string> | undefined;
  readonly #responseMutation: ReadonlyMap<string, string> | undefined;
  /** The whole answer when nothing is drawn or hashed per request: no allocation then. */
  readonly #fixed: ResolvedMetaRoute | undefined;

  constructor(c: MetaRouteEntryConfig, runtime: RuntimeLoader) {
    this.name = c.name;
    this.#runtime = runtime;
    this.#matchers = c.match.map(compileHeaderMatcher);
    this.#clusters = c.clusters;
    this.#totalWeight = c.clusters.reduce((s, x) => s + x.weight, 0);
    this.#hashKeys = c.hashKeys;
    this.#mirrors = c.mirrors;
    this.#timeoutMs = c.timeoutMs > 0 ? c.timeoutMs : undefined;
    this.#connectRetries = c.connectRetries;
    this.#requestMutation = c.requestMutation.length > 0 ? new Map(c.requestMutation) : undefined;
    this.#responseMutation = c.responseMutation.length > 0 ? new Map(c.responseMutation) : undefined;
    const perRequest = c.clusters.length > 1 || c.hashKeys.length > 0 || c.mirrors.length > 0;
    this.#fixed = perRequest ? undefined : this.#make(c.clusters[0]!.name, undefined, undefined);
  }

  matches(metadata: MetaMetadata): boolean {
    const matchers = this.#matchers;
    for (let i = 0; i < matchers.length; i++) if (!matchers[i]!.matchValue(metadata.get(matchers[i]!.name))) return false;
    return true;
  }

  resolve(metadata: MetaMetadata, random: () => number): RpcRoute {
    if (this.#fixed) return this.#fixed;
    const clusters = this.#clusters;
    let cluster = clusters[0]!.name;
    if (clusters.length > 1) {
      let pick = random() * this.#totalWeight;
      for (const c of clusters) {
        cluster = c.name;
        if ((pick -= c.weight) < 0) break;
      }
    }
    let hashKey: number | undefined;
    if (this.#hashKeys.length > 0) {
      // MetaProtocol hashes the keys' values in sorted order; missing keys count as "".
      hashKey = hashString(this.#hashKeys.map((k) => metadata.get(k) ?? '').sort().join('\u0000'));
    }
    let mirrorClusters: string[] | undefined;
    for (const m of this.#mirrors) {
      // Each mirror draws on its own, as MetaProtocol's featureEnabled(key, default) does.
      if (m.fraction === undefined || runtimeFractionMatches(m.fraction, this.#runtime.snapshot(), Math.floor(random() * 0x1_0000_0000))) {
        (mirrorClusters ??= []).push(m.cluster);
      }
    }
    return this.#make(cluster, hashKey, mirrorClusters);
  }

  #make(cluster: string, hashKey: number | undefined, mirrors: string[] | undefined): ResolvedMetaRoute {
    return new ResolvedMetaRoute(cluster, hashKey, this.#timeoutMs, this.#connectRetries, this.#requestMutation, this.#responseMutation, mirrors);
  }
}

export class MetaRouteTable {
  readonly name: string;
  readonly #routes: MetaRoute[];

  /** `runtime`: where mirror runtime_fraction keys are read (default: none, defaults apply). */
  constructor(config: MetaRouteConfig, runtime: RuntimeLoader = NULL_RUNTIME_LOADER) {
    this.name = config.name;
    this.#routes = config.routes.map((r) => new MetaRoute(r, runtime));
  }

  get size(): number {
    return this.#routes.length;
  }

  /** The route for a request, or undefined (the codec's route_not_found reply follows). */
  route(metadata: MetaMetadata, random: () => number = Math.random): RpcRoute | undefined {
    for (const r of this.#routes) if (r.matches(metadata)) return r.resolve(metadata, random);
    return undefined;
  }
}

/** Before MetaRDS's first update every request misses, as MetaProtocol's NullConfigImpl. */
export const EMPTY_META_ROUTE_TABLE = new MetaRouteTable({ name: '', routes: [] });
