/**
 * The management server's resources: per type URL, the resources by name, encoded once as
 * Anys, and a version (a hash of that type's content, unless the caller names one). Streams
 * listen for changes. Runs in the `courier xds-server` process (or a test's).
 *
 * Resources come as proto3 JSON (YAML from a directory, or objects from tests) and are encoded
 * with src/config/proto-binary.ts; a resource that does not encode (unknown field, bad
 * duration...) is an error naming its path. They are not otherwise validated, so a test can
 * serve a resource a client will refuse (that is how NACKs are exercised); `checkResources`
 * gives the problems a client would report, for the server's log.
 */
import { fieldPath } from '../../config/config-error.js';
import { encodeAny, ProtoBinaryError } from '../../config/proto-binary.js';
import { decodeMessage } from '../../config/proto-json.js';
import { lookupTypeUrl } from '../../config/proto-registry.js';
import type { AnyBytes } from '../resource-decoder.js';
import { resourceTypeFor, sameMessageType } from '../resource-type.js';
import { canonicalJson, stableHash } from '../stable-hash.js';

/** One resource as served. */
export interface ServedResource {
  readonly name: string;
  readonly typeUrl: string;
  /** Proto3 JSON with "@type". */
  readonly json: Record<string, unknown>;
  readonly any: AnyBytes;
}

export interface TypeSnapshot {
  readonly typeUrl: string;
  readonly version: string;
  readonly resources: ReadonlyMap<string, ServedResource>;
}

/** The field naming a resource of `typeUrl` (`cluster_name` for EDS, else `name`). */
export function nameFieldOf(typeUrl: string): string {
  return resourceTypeFor(typeUrl)?.nameField ?? 'name';
}

/** Resources that could not be encoded; every problem has its path. */
export class ResourceEncodeError extends Error {
  constructor(readonly problems: ReadonlyArray<{ path: string; message: string }>) {
    super(problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
    this.name = 'ResourceEncodeError';
  }
}

/**
 * Proto3 JSON resources → served resources of one type. `typeUrl` is the type they must be
 * (resources may omit "@type" then); `paths[i]` names resource i in errors (default
 * `resources[i]`). Throws ResourceEncodeError listing every problem.
 */
export function encodeResources(typeUrl: string, resources: readonly unknown[], paths?: readonly string[]): ServedResource[] {
  const out: ServedResource[] = [];
  const errors: Array<{ path: string; message: string }> = [];
  const names = new Set<string>();
  resources.forEach((r, i) => {
    const path = paths?.[i] ?? `resources[${i}]`;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      errors.push({ path, message: 'expected a resource object' });
      return;
    }
    const given = (r as Record<string, unknown>)['@type'];
    if (given !== undefined && (typeof given !== 'string' || !sameMessageType(given, typeUrl))) {
      errors.push({ path: fieldPath(path, '@type'), message: `"${String(given)}" is not ${typeUrl}` });
      return;
    }
    const json: Record<string, unknown> = { ...(r as Record<string, unknown>), '@type': typeof given === 'string' ? given : typeUrl };
    const nameField = nameFieldOf(typeUrl);
    const name = json[nameField];
    if (typeof name !== 'string' || name === '') {
      errors.push({ path: fieldPath(path, nameField), message: `a resource needs a ${nameField}` });
      return;
    }
    if (names.has(name)) {
      errors.push({ path: fieldPath(path, nameField), message: `duplicate resource "${name}" of ${typeUrl}` });
      return;
    }
    names.add(name);
    try {
      const any = encodeAny(json, path);
      out.push({ name, typeUrl, json, any: { type_url: any.type_url, value: Buffer.from(any.value) } });
    } catch (e) {
      if (e instanceof ProtoBinaryError) errors.push({ path: e.path, message: e.detail });
      else throw e;
    }
  });
  if (errors.length > 0) throw new ResourceEncodeError(errors);
  return out;
}

/** Problems a client's decodeMessage() would report for a resource (paths relative to it), for warnings. */
export function checkResource(r: ServedResource): Array<{ path: string; message: string }> {
  const type = lookupTypeUrl(r.typeUrl);
  if (!type) return [];
  const { ['@type']: _t, ...fields } = r.json;
  return decodeMessage(type, fields).problems;
}

/** The version of a type's content: 16 hex digits of a hash over its resources. */
export function contentVersion(resources: readonly ServedResource[]): string {
  return stableHash([...resources].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((r) => canonicalJson(r.json)));
}

export type StoreListener = (typeUrl: string) => void;

export class ResourceStore {
  readonly #types = new Map<string, TypeSnapshot>();
  readonly #listeners = new Set<StoreListener>();

  get(typeUrl: string): TypeSnapshot | undefined {
    return this.#types.get(typeUrl) ?? this.#types.get(resourceTypeFor(typeUrl)?.typeUrl ?? '');
  }

  typeUrls(): string[] {
    return [...this.#types.keys()];
  }

  /**
   * Replaces every type at once (a directory reload); types absent from `byType` become
   * empty. Versions are the content hashes unless `versions` names one. Listeners hear of
   * each type whose version changed. Returns those types.
   */
  replaceAll(byType: ReadonlyMap<string, readonly ServedResource[]>, versions?: ReadonlyMap<string, string>): string[] {
    const changed: string[] = [];
    const urls = new Set([...this.#types.keys(), ...byType.keys()]);
    for (const url of urls) {
      const resources = byType.get(url) ?? [];
      const v = versions?.get(url) ?? contentVersion(resources);
      const prev = this.#types.get(url);
      if (prev?.version === v) continue;
      this.#types.set(url, { typeUrl: url, version: v, resources: new Map(resources.map((r) => [r.name, r])) });
      changed.push(url);
    }
    for (const url of changed) for (const l of this.#listeners) l(url);
    return changed;
  }

  onChange(listener: StoreListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
