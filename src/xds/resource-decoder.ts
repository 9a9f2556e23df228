/**
 * Received xDS resources → checked plain values. MAIN process.
 *
 * A resource from gRPC is an Any (type URL + bytes): the bytes are decoded with protobufjs,
 * turned into canonical proto3 JSON (src/config/proto-binary.ts) and then checked by
 * `decodeMessage()` (src/config/proto-json.ts), so an xDS resource gets exactly the checks and
 * field paths a YAML config gets. A resource from a watched file is already proto3 JSON with
 * "@type" and takes the second half of the same path.
 *
 * Either every resource of a response decodes, or the response is refused as a whole with
 * every problem listed (Envoy NACKs a SotW response when any resource fails to decode).
 * Limits (src/config/input-limits.ts): a resource over MAX_RESOURCE_BYTES, or nested deeper
 * than the limits, is a problem with its path like any other; nothing here recurses further.
 */
import { fieldPath, indexPath } from '../config/config-error.js';
import { MAX_RESOURCE_BYTES, sizeLimitMessage } from '../config/input-limits.js';
import { binaryToProto3Json, ProtoBinaryError } from '../config/proto-binary.js';
import { decodeMessage, decodeMessagePartial, type PlainObject } from '../config/proto-json.js';
import { lookupMessage, lookupTypeUrl } from '../config/proto-registry.js';
import { RESOURCE_WRAPPER_TYPE_URL, sameMessageType, type XdsResourceType } from './resource-type.js';
import { stableHash } from './stable-hash.js';

/** One checked resource, as subscriptions hand it to their callers. */
export interface DecodedResource {
  /** The resource's name (its `name` field; `cluster_name` for EDS). */
  readonly name: string;
  /** The resource's version: the response's version_info (or a Resource wrapper's version). */
  readonly version: string;
  /** Checked plain value (decodeMessage output: Durations in ms, wrappers unwrapped...). */
  readonly resource: PlainObject;
  /** Stable hash of `resource`: equal hashes mean an identical resource, so a reload can be skipped. */
  readonly hash: string;
}

/** A problem in one resource; `path` starts at `resources[i]`. */
export interface ResourceProblem {
  readonly path: string;
  readonly message: string;
  /** The resource's name, when it could be read. */
  readonly name?: string | undefined;
}

export type DecodeResourcesResult =
  | { readonly ok: true; readonly resources: DecodedResource[] }
  | {
      readonly ok: false;
      readonly problems: ResourceProblem[];
      /** With `partial`: what did decode of each resource that has a name, by its index in the response. */
      readonly partial?: Array<{ index: number; resource: DecodedResource }>;
    };

/** What arrives in DiscoveryResponse.resources. */
export interface AnyBytes {
  readonly type_url: string;
  readonly value: Uint8Array;
}

/** Decodes the Any resources of one SotW response of `type`. */
export function decodeAnyResources(type: XdsResourceType, anys: readonly AnyBytes[], versionInfo: string): DecodeResourcesResult {
  const items: Array<{ json: unknown; typeUrl: string; name?: string; version?: string } | ResourceProblem> = [];
  anys.forEach((any, i) => {
    const path = indexPath('resources', i);
    if (any.value.length > MAX_RESOURCE_BYTES) {
      items.push({ path, message: sizeLimitMessage('the resource', any.value.length, MAX_RESOURCE_BYTES) });
      return;
    }
    try {
      if (sameMessageType(any.type_url, RESOURCE_WRAPPER_TYPE_URL)) {
        const w = unwrapResource(any, type.typeUrl, path);
        if ('message' in w) items.push(w);
        else items.push({ json: binaryToProto3Json(w.type, w.inner.value, path), typeUrl: w.inner.type_url, name: w.name, version: w.version });
        return;
      }
      // The subscribed type first: a type URL that cannot match is refused without a registry
      // look-up (an unknown name would make the registry search the vendored proto tree).
      const t = sameMessageType(any.type_url, type.typeUrl) ? lookupTypeUrl(any.type_url) : undefined;
      if (!t) {
        items.push({ path, message: `type URL "${any.type_url}" does not match the subscribed type ${type.typeUrl}` });
        return;
      }
      items.push({ json: binaryToProto3Json(t, any.value, path), typeUrl: any.type_url });
    } catch (e) {
      // Whatever a control plane sends, the answer is a NACK naming the resource, never an
      // exception out of the stream's data handler.
      if (e instanceof ProtoBinaryError) items.push({ path: e.path || path, message: e.detail });
      else items.push({ path, message: `the resource could not be decoded: ${(e as Error).message}` });
    }
  });
  return checkAll(type, items, versionInfo);
}

/**
 * Decodes resources given as proto3 JSON with "@type" (a watched file's DiscoveryResponse).
 * A `envoy.service.discovery.v3.Resource` wrapper is accepted too.
 */
export function decodeJsonResources(
  type: XdsResourceType,
  resources: readonly unknown[],
  versionInfo: string,
  partial = false,
): DecodeResourcesResult {
  const items: Array<{ json: unknown; typeUrl: string; name?: string; version?: string } | ResourceProblem> = [];
  resources.forEach((r, i) => {
    const path = indexPath('resources', i);
    const o = typeof r === 'object' && r !== null && !Array.isArray(r) ? (r as Record<string, unknown>) : undefined;
    const typeUrl = o?.['@type'];
    if (!o || typeof typeUrl !== 'string') {
      items.push({ path: fieldPath(path, '@type'), message: 'each resource needs "@type"' });
      return;
    }
    const { ['@type']: _t, ...fields } = o;
    if (sameMessageType(typeUrl, RESOURCE_WRAPPER_TYPE_URL)) {
      const inner = fields['resource'] as Record<string, unknown> | undefined;
      const innerType = inner?.['@type'];
      if (!inner || typeof innerType !== 'string') {
        items.push({ path: fieldPath(path, 'resource'), message: 'a Resource wrapper needs a resource with "@type"' });
        return;
      }
      const { ['@type']: _i, ...innerFields } = inner;
      items.push({
        json: innerFields,
        typeUrl: innerType,
        name: typeof fields['name'] === 'string' ? fields['name'] : undefined,
        version: typeof fields['version'] === 'string' ? fields['version'] : undefined,
      });
      return;
    }
    items.push({ json: fields, typeUrl });
  });
  return checkAll(type, items, versionInfo, partial);
}

function unwrapResource(
  any: AnyBytes,
  subscribedTypeUrl: string,
  path: string,
): { type: NonNullable<ReturnType<typeof lookupTypeUrl>>; inner: AnyBytes; name: string | undefined; version: string | undefined } | ResourceProblem {
  const wrapperType = lookupMessage('envoy.service.discovery.v3.Resource');
  if (!wrapperType) return { path, message: 'envoy.service.discovery.v3.Resource is not loaded' };
  const w = wrapperType.decode(any.value) as unknown as {
    name?: string;
    version?: string;
    resource?: { type_url?: string; value?: Uint8Array } | null;
  };
  if (!w.resource || !w.resource.type_url) return { path: fieldPath(path, 'resource'), message: 'a Resource wrapper without a resource' };
  if (!sameMessageType(w.resource.type_url, subscribedTypeUrl)) {
    return { path: fieldPath(path, 'resource.@type'), message: `type URL "${w.resource.type_url}" does not match the subscribed type ${subscribedTypeUrl}` };
  }
  const type = lookupTypeUrl(w.resource.type_url);
  if (!type) return { path: fieldPath(path, 'resource.@type'), message: `unknown or unsupported type "${w.resource.type_url}"` };
  return {
    type,
    inner: { type_url: w.resource.type_url, value: w.resource.value ?? new Uint8Array(0) },
    name: w.name || undefined,
    version: w.version || undefined,
  };
}

function checkAll(
  type: XdsResourceType,
  items: ReadonlyArray<{ json: unknown; typeUrl: string; name?: string | undefined; version?: string | undefined } | ResourceProblem>,
  versionInfo: string,
  partial = false,
): DecodeResourcesResult {
  const messageType = lookupMessage(type.messageType);
  if (!messageType) return { ok: false, problems: [{ path: '', message: `resource type ${type.messageType} is not loaded` }] };
  const problems: ResourceProblem[] = [];
  const resources: DecodedResource[] = [];
  const partials: Array<{ index: number; resource: DecodedResource }> = [];
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if ('message' in item) {
      problems.push(item);
      return;
    }
    const path = indexPath('resources', i);
    if (!sameMessageType(item.typeUrl, type.typeUrl)) {
      problems.push({ path: fieldPath(path, '@type'), message: `type URL "${item.typeUrl}" does not match the subscribed type ${type.typeUrl}` });
      return;
    }
    const rawName = (item.json as Record<string, unknown> | null)?.[type.nameField];
    const name = typeof rawName === 'string' ? rawName : item.name;
    const decoded = (partial ? decodeMessagePartial : decodeMessage)(messageType, item.json, path);
    if (!decoded.value || decoded.problems.length > 0) {
      for (const p of decoded.problems) problems.push({ ...p, name });
      if (decoded.value && name) partials.push({ index: i, resource: { name, version: item.version ?? versionInfo, resource: decoded.value, hash: '' } });
      return;
    }
    const ownName = decoded.value[type.nameField];
    const resourceName = typeof ownName === 'string' && ownName !== '' ? ownName : item.name;
    if (!resourceName) {
      problems.push({ path: fieldPath(path, type.nameField), message: `a ${type.shortName} resource needs a non-empty ${type.nameField}` });
      return;
    }
    if (seen.has(resourceName)) {
      problems.push({ path, message: `duplicate ${type.shortName} resource name "${resourceName}"`, name: resourceName });
      return;
    }
    seen.add(resourceName);
    const resource = { name: resourceName, version: item.version ?? versionInfo, resource: decoded.value, hash: stableHash(decoded.value) };
    resources.push(resource);
    if (partial) partials.push({ index: i, resource });
  });
  if (problems.length === 0) return { ok: true, resources };
  return partial ? { ok: false, problems, partial: partials } : { ok: false, problems };
}

/**
 * Problems as one error text (the NACK's error_detail.message), one per line:
 * `RDS resource "local_route": resources[0].virtual_hosts[0].domains: at least 1 item(s) required`.
 * `lineOf` adds the source line for a watched file.
 */
export function formatResourceProblems(
  type: XdsResourceType,
  problems: readonly ResourceProblem[],
  lineOf?: (path: string) => number | undefined,
): string {
  return problems
    .map((p) => {
      const who = p.name ? `${type.shortName} resource "${p.name}": ` : '';
      const line = lineOf?.(p.path);
      return `${who}${p.path || '<response>'}${line ? ` (line ${line})` : ''}: ${p.message}`;
    })
    .join('\n');
}
