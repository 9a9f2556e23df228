/**
 * The config checker: loadBootstrapText (src/config/bootstrap.ts: YAML or JSON parsing with line
 * numbers, then src/config/proto-json.ts's proto3 JSON checks, then translation), as
 * `courier -c` and `--mode validate` run it. Documented failure: a thrown ConfigError (every
 * problem with its path and line). Anything else thrown is a finding.
 *
 * Byte mutations mostly break the YAML; the structure-aware mutate() parses the document and
 * changes one node (a wrong type, an odd number, a known field name, deep nesting, an alias
 * fan-out), then writes it back as YAML or JSON.
 */
import YAML from 'yaml';
import { loadBootstrapText } from '../../../src/config/bootstrap.js';
import { ConfigError } from '../../../src/config/config-error.js';
import { networkFilterRegistry } from '../../../src/extensions/all.js';
import type { Rng } from '../rng.js';
import type { FuzzTarget } from '../target.js';

const FIELDS = [
  'name', 'cluster', 'clusters', 'listeners', 'filter_chains', 'filters', 'typed_config', '@type', 'route_config',
  'virtual_hosts', 'routes', 'match', 'prefix', 'safe_regex', 'regex', 'timeout', 'connect_timeout', 'lb_policy',
  'load_assignment', 'endpoints', 'lb_endpoints', 'address', 'socket_address', 'port_value', 'stat_prefix',
  'http_filters', 'rds', 'config_source', 'path_config_source', 'typed_per_filter_config', 'headers', 'weighted_clusters',
  'admin', 'node', 'dynamic_resources', 'static_resources', 'circuit_breakers', 'thresholds', 'max_connections',
];
const TYPES = [
  'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  'type.googleapis.com/envoy.extensions.filters.network.dubbo_proxy.v3.DubboProxy',
  'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  'type.googleapis.com/google.protobuf.Struct',
  'type.googleapis.com/google.protobuf.Any',
  'type.googleapis.com/xds.type.matcher.v3.Matcher',
];
const ODD_VALUES: unknown[] = [
  null, true, 0, -1, 1e300, 2 ** 53, -0.5, '', '1.5s', '-1s', '315576000001s', 'NaN', '0x10', '65536', [], {}, [[]], { '': '' },
  'ROUND_ROBIN', 'MAGLEV', '\u0000', 'é'.repeat(100),
];

const DICTIONARY = [...FIELDS.map((f) => `${f}: `), ...TYPES, '\n  - ', '{', '}', '[', ']', ': ', '&a ', '*a', '<<: *a', '!!binary ', '"', "'", '\\u0000', '#']
  .map((s) => Buffer.from(s));

function parse(text: string): unknown {
  try {
    return /^\s*[{[]/.test(text) ? JSON.parse(text) : YAML.parse(text, { maxAliasCount: 100 });
  } catch {
    return undefined;
  }
}

/** Every container in a document, with its keys, for picking one at random. */
function containers(v: unknown, out: Array<Record<string, unknown> | unknown[]> = [], depth = 0): Array<Record<string, unknown> | unknown[]> {
  if (depth > 64 || v === null || typeof v !== 'object') return out;
  out.push(v as Record<string, unknown> | unknown[]);
  for (const child of Array.isArray(v) ? v : Object.values(v)) containers(child, out, depth + 1);
  return out;
}

function nest(value: unknown, depth: number, rng: Rng): unknown {
  const key = rng.pick(FIELDS);
  let v = value;
  for (let i = 0; i < depth; i++) v = rng.chance(0.5) ? { [key]: v } : [v];
  return v;
}

function mutateDocument(input: Buffer, rng: Rng): Buffer {
  const doc = parse(input.toString('utf8'));
  if (doc === undefined || doc === null || typeof doc !== 'object') return input;
  const all = containers(doc);
  const target = rng.pick(all);
  const keys = Array.isArray(target) ? target.map((_, i) => i) : Object.keys(target);
  const key: string | number = keys.length > 0 && rng.chance(0.7) ? rng.pick(keys as Array<string | number>) : rng.pick(FIELDS);
  const set = (v: unknown): void => {
    if (Array.isArray(target) && typeof key === 'number') target[key] = v;
    else (target as Record<string, unknown>)[String(key)] = v;
  };
  const old = Array.isArray(target) ? target[key as number] : (target as Record<string, unknown>)[String(key)];
  let deep = false;
  switch (rng.below(6)) {
    case 0:
      set(rng.pick(ODD_VALUES));
      break;
    case 1: {
      const depth = rng.pick([8, 64, 300, 700, 2000]);
      deep = depth > 64;
      set(nest(old ?? {}, depth, rng));
      break;
    }
    case 2:
      set(rng.chance(0.5) ? { '@type': rng.pick(TYPES), ...(typeof old === 'object' && old ? old : {}) } : rng.pick(TYPES));
      break;
    case 3:
      // Duplicate a sibling subtree under a field name (fan-out, as aliases would).
      set(Array.from({ length: rng.smallLength(64) }, () => old));
      break;
    case 4:
      if (!Array.isArray(target)) delete (target as Record<string, unknown>)[String(key)];
      break;
    default:
      set(rng.chance(0.5) ? String(old) : Number(old));
  }
  // YAML's stringify is slow (block YAML indents each level: quadratic in depth, and about
  // 5 µs per output byte here): deep or large documents are written as JSON, so the harness,
  // not the checker, never spends seconds on one mutant.
  const json = JSON.stringify(doc);
  const text = deep || json.length > 16 * 1024 || rng.chance(0.5) ? json : safeYaml(doc) ?? json;
  return Buffer.from(text, 'utf8');
}

function safeYaml(doc: unknown): string | undefined {
  try {
    return YAML.stringify(doc, { aliasDuplicateObjects: false });
  } catch {
    return undefined;
  }
}

const filters = networkFilterRegistry();

export const configTarget: FuzzTarget = {
  name: 'config',
  description: 'bootstrap checker: loadBootstrapText (YAML/JSON → src/config/proto-json.ts checks → ServerConfig)',
  maxInputBytes: 64 * 1024,
  // The checker costs microseconds per byte: keep random growth probes small.
  probeSizes: [2 * 1024, 16 * 1024],
  dictionary: DICTIONARY,
  mutate: mutateDocument,
  run(chunks) {
    const text = Buffer.concat(chunks).toString('utf8');
    const source = /^\s*[{[]/.test(text) ? 'fuzz.json' : 'fuzz.yaml';
    try {
      loadBootstrapText(text, source, filters);
      return 'valid';
    } catch (e) {
      if (e instanceof ConfigError) return /invalid (YAML|JSON)/.test(e.message) ? 'refused:syntax' : 'refused:config';
      throw e;
    }
  },
};
