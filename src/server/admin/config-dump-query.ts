/**
 * /config_dump's query, as Envoy's ConfigDumpHandler:
 *
 * - `?resource=F` answers, instead of the dumps, the elements of the repeated field F of the
 *   first dump that has such a field (`dynamic_active_clusters`, `static_listeners`, ...),
 *   each packed with its own type (`envoy.admin.v3.ClustersConfigDump.DynamicCluster`).
 *   A field that is not repeated is 400 ("use ?mask="); one no dump has is 404.
 * - `?mask=a,b.c` is a FieldMask. With `resource`, it applies to each element, and a path
 *   may go through the element's one Any field into the resource it holds
 *   (`cluster.name,last_updated`); a path that does not name fields is 400. Without
 *   `resource`, it applies to each whole dump; dumps it does not fit are left out, and if it
 *   fits none, 400.
 *
 * Field names are checked against Envoy's descriptors (envoy.admin.v3 and the resources'
 * types), so a mask means here what it means to Envoy.
 */
import type protobuf from 'protobufjs';
import { lookupTypeUrl, TYPE_URL_PREFIX } from '../../config/proto-registry.js';

type Json = Record<string, unknown>;

export type ConfigDumpResult = { ok: true; configs: Json[] } | { ok: false; status: number; message: string };

/** Whether `path` names a field of `type`: every part but the last a singular message field. */
function validPath(type: protobuf.Type, path: string): boolean {
  let at: protobuf.Type | undefined = type;
  const parts = path.split('.');
  for (let i = 0; i < parts.length; i++) {
    const field: protobuf.Field | undefined = at?.fields[parts[i]!];
    if (!field) return false;
    if (i === parts.length - 1) return true;
    field.resolve();
    if (field.repeated || field.map || !field.resolvedType || !('fields' in field.resolvedType)) return false;
    at = field.resolvedType as protobuf.Type;
  }
  return false;
}

interface MaskTree {
  [field: string]: MaskTree | true;
}

function maskTree(paths: readonly string[]): MaskTree {
  const tree: MaskTree = {};
  for (const path of paths) {
    let node = tree;
    const parts = path.split('.');
    parts.forEach((part, i) => {
      if (node[part] === true) return;
      if (i === parts.length - 1) node[part] = true;
      else node = (node[part] ??= {}) as MaskTree;
    });
  }
  return tree;
}

/** A copy of `message` with only the fields the tree names (an Any's `@type` is kept). */
function trim(message: Json, tree: MaskTree): Json {
  const out: Json = {};
  if (message['@type'] !== undefined) out['@type'] = message['@type'];
  for (const [field, sub] of Object.entries(tree)) {
    const value = message[field];
    if (value === undefined) continue;
    if (sub === true) out[field] = value;
    else if (value !== null && typeof value === 'object' && !Array.isArray(value)) out[field] = trim(value as Json, sub);
  }
  return out;
}

/** FieldMaskUtil::TrimMessage after checking every path; undefined if one is invalid. */
function checkAndTrim(message: Json, type: protobuf.Type, paths: readonly string[]): Json | undefined {
  if (!paths.every((p) => validPath(type, p))) return undefined;
  return trim(message, maskTree(paths));
}

/**
 * Envoy's trimResourceMessage: paths whose first part is the element's (singular) Any field
 * are applied, without that part, to the resource inside it, typed by its `@type`.
 */
function trimResource(element: Json, type: protobuf.Type, paths: readonly string[]): Json | undefined {
  const outer: string[] = [];
  const inner: string[] = [];
  let anyField: string | undefined;
  for (const path of paths) {
    const [first, ...rest] = path.split('.');
    const field = type.fields[first!];
    field?.resolve();
    if (field && !field.repeated && field.resolvedType?.fullName === '.google.protobuf.Any') {
      // Only one Any field per element, as Envoy (a DynamicListener has several: its states).
      if (anyField !== undefined && anyField !== first) return undefined;
      anyField = first!;
      outer.push(first!);
      inner.push(rest.join('.'));
    } else {
      outer.push(path);
    }
  }
  let result: Json = element;
  if (anyField !== undefined && element[anyField] !== undefined) {
    const any = element[anyField] as Json;
    const anyType = typeof any['@type'] === 'string' ? lookupTypeUrl(any['@type']) : undefined;
    if (!anyType) return undefined;
    // A path that is just the Any field keeps all of it.
    const innerTrimmed = inner.includes('') ? any : checkAndTrim(any, anyType, inner);
    if (!innerTrimmed) return undefined;
    result = { ...element, [anyField]: innerTrimmed };
  }
  return checkAndTrim(result, type, outer);
}

function maskPaths(mask: string): string[] {
  return mask.split(',').filter((p) => p !== '');
}

function dumpType(config: Json): protobuf.Type | undefined {
  return typeof config['@type'] === 'string' ? lookupTypeUrl(config['@type']) : undefined;
}

/** Applies `?resource=` and `?mask=` to the full list of dumps (each with its `@type`). */
export function queryConfigDump(configs: readonly Json[], resource: string | null, mask: string | null): ConfigDumpResult {
  const paths = mask === null ? undefined : maskPaths(mask);
  if (resource !== null) {
    for (const config of configs) {
      const type = dumpType(config);
      const field = type?.fields[resource];
      if (!type || !field) continue;
      field.resolve();
      if (!field.repeated || !field.resolvedType) {
        return { ok: false, status: 400, message: `${resource} is not a repeated field. Use ?mask=${resource} to get only this field` };
      }
      const elementType = field.resolvedType as protobuf.Type;
      const out: Json[] = [];
      for (const element of (config[resource] as Json[] | undefined) ?? []) {
        const trimmed = paths ? trimResource(element, elementType, paths) : element;
        if (!trimmed) {
          return { ok: false, status: 400, message: `FieldMask ${paths!.map((p) => `paths: "${p}"`).join(' ')} could not be successfully used.` };
        }
        out.push({ '@type': `${TYPE_URL_PREFIX}${elementType.fullName.replace(/^\./, '')}`, ...trimmed });
      }
      return { ok: true, configs: out };
    }
    return { ok: false, status: 404, message: `${resource} not found in config dump` };
  }
  if (!paths) return { ok: true, configs: [...configs] };
  const out: Json[] = [];
  for (const config of configs) {
    const type = dumpType(config);
    const trimmed = type ? checkAndTrim(config, type, paths) : undefined;
    if (trimmed) out.push(trimmed);
  }
  if (out.length === 0) return { ok: false, status: 400, message: `FieldMask ${mask} could not be successfully applied to any configs.` };
  return { ok: true, configs: out };
}
