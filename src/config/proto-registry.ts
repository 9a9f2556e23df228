/**
 * Envoy's own .proto files, loaded once on the main process (never on workers: the data
 * plane sees only internal types). The files come from @grpc/grpc-js-xds, which vendors
 * envoyproxy/data-plane-api; a few fields newer than that snapshot are added by
 * `applyNewerFields` so current Envoy YAML still decodes.
 */
import { createRequire } from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/**
 * The proto files loaded at start. Any other Envoy type named by an `@type` is loaded on
 * demand from the vendored files (`loadPackageOf`), so it decodes and is then refused by name.
 */
const ENTRY_FILES = [
  'envoy/config/bootstrap/v3/bootstrap.proto',
  // Needed by NEWER_FIELDS (tcp_proxy backoff_options) when the vendored file lacks it.
  'envoy/config/core/v3/backoff.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/dubbo_proxy/v3/dubbo_proxy.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'courier/extensions/filters/network/dubbo_proxy/v1/dubbo_protocol_options.proto',
  'courier/meta_protocol_proxy/v1/meta_protocol_proxy.proto',
  'courier/meta_protocol_proxy/filters/router/v1/router.proto',
  'courier/meta_protocol_proxy/filters/local_ratelimit/v1/local_ratelimit.proto',
];

/** Courier's own .proto files (proto/courier/...), found from this module up to the package root. */
function courierProtoDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'proto', 'courier')) && dir !== path.dirname(dir)) dir = path.dirname(dir);
  return path.join(dir, 'proto');
}

/** Directories the vendored .proto files are resolved against (Courier's own, envoy-api, xds, googleapis, protoc-gen-validate, protobufjs). */
export function includeDirs(): string[] {
  const pkgMain = require.resolve('@grpc/grpc-js-xds');
  let dir = path.dirname(pkgMain);
  while (!existsSync(path.join(dir, 'deps')) && dir !== path.dirname(dir)) dir = path.dirname(dir);
  const deps = path.join(dir, 'deps');
  const pbDir = path.dirname(require.resolve('protobufjs/package.json'));
  return [
    courierProtoDir(),
    path.join(deps, 'envoy-api'),
    path.join(deps, 'xds'),
    path.join(deps, 'googleapis'),
    path.join(deps, 'protoc-gen-validate'),
    pbDir,
  ];
}

/**
 * Fields Envoy added after the vendored snapshot, with their real field numbers, so that
 * configs written for a current Envoy load. Each entry is checked: if the vendored file
 * already has the field (a newer @grpc/grpc-js-xds), nothing is added.
 */
const NEWER_FIELDS: ReadonlyArray<{ type: string; name: string; id: number; fieldType: string }> = [
  {
    type: 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
    name: 'backoff_options',
    id: 18,
    fieldType: '.envoy.config.core.v3.BackoffStrategy',
  },
];

function applyNewerFields(root: protobuf.Root): void {
  for (const f of NEWER_FIELDS) {
    const type = root.lookupType(f.type);
    if (type.fields[f.name]) continue;
    const field = new protobuf.Field(f.name, f.id, f.fieldType);
    type.add(field);
    field.resolve();
  }
}

let cached: protobuf.Root | undefined;

/** An empty root that resolves imports against includeDirs(). */
function newRoot(): protobuf.Root {
  const dirs = includeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string => {
    for (const d of dirs) {
      const p = path.join(d, target);
      if (existsSync(p)) return p;
    }
    return target;
  };
  return root;
}

/** The loaded registry (about 300 ms the first time). */
export function protoRoot(): protobuf.Root {
  if (cached) return cached;
  const root = newRoot();
  root.loadSync(ENTRY_FILES, { keepCase: true });
  applyNewerFields(root);
  root.resolveAll();
  cached = root;
  return root;
}

/** Message type by full name (no leading dot), or undefined. */
export function lookupMessage(fullName: string): protobuf.Type | undefined {
  const find = (): protobuf.Type | undefined => typeAtExactName(protoRoot(), fullName);
  return find() ?? (loadPackageOf(fullName) ? find() : undefined);
}

/**
 * The type declared at exactly `fullName`, walking one namespace per name part. Not
 * protobufjs's lookupType: on a miss that searches every namespace of the tree (about half a
 * millisecond here), and the names come from configs and control planes, misses included.
 */
function typeAtExactName(root: protobuf.Root, fullName: string): protobuf.Type | undefined {
  let at: protobuf.ReflectionObject | undefined = root;
  for (const part of fullName.split('.')) {
    const nested: Record<string, protobuf.ReflectionObject> | undefined = (at as protobuf.Namespace).nested;
    at = nested !== undefined && Object.prototype.hasOwnProperty.call(nested, part) ? nested[part] : undefined;
    if (at === undefined) return undefined;
  }
  return at instanceof protobuf.Type ? at : undefined;
}

const loadedDirs = new Set<string>();

let packageDirs: Map<string, string[]> | undefined;
/** The most parts a package directory has (envoy/extensions/filters/network/x/v3: 6). */
let deepestPackage = 0;

/**
 * Every directory of the include path that holds .proto files, by its path relative to the
 * include root ('envoy/extensions/filters/network/redis_proxy/v3' → its files), walked once.
 * A type name from a config or a control plane is then looked up in memory: an unknown name
 * costs no file-system probe (a response full of made-up type URLs must not stall main).
 */
function protoPackageDirs(): Map<string, string[]> {
  if (packageDirs) return packageDirs;
  const found = new Map<string, string[]>();
  for (const root of includeDirs()) {
    const pending = [''];
    while (pending.length > 0) {
      const rel = pending.pop()!;
      let entries;
      try {
        entries = readdirSync(path.join(root, rel), { withFileTypes: true });
      } catch {
        continue;
      }
      const files: string[] = [];
      for (const e of entries) {
        const child = rel === '' ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) pending.push(child);
        else if (e.name.endsWith('.proto')) files.push(child);
      }
      // The first include directory that has the package wins, as in resolvePath.
      if (files.length > 0 && !found.has(rel)) {
        found.set(rel, files);
        deepestPackage = Math.max(deepestPackage, rel.split('/').length);
      }
    }
  }
  packageDirs = found;
  return found;
}

/**
 * Loads the vendored .proto files of the package directory `fullName` would be declared in
 * (envoy.extensions.filters.network.redis_proxy.v3.RedisProxy → envoy/extensions/filters/
 * network/redis_proxy/v3/*.proto). True if new files were loaded.
 */
function loadPackageOf(fullName: string): boolean {
  const parts = fullName.split('.');
  const dirs = protoPackageDirs();
  // Only prefixes as deep as a real package are tried: a name of thousands of parts costs no
  // more than a short one (the prefixes are built from the longest down, each a new string).
  for (let n = Math.min(parts.length - 1, deepestPackage); n > 0; n--) {
    const rel = parts.slice(0, n).join('/');
    const files = dirs.get(rel);
    if (!files) continue;
    if (loadedDirs.has(rel)) return false;
    loadedDirs.add(rel);
    // A package that cannot load (an import the vendored tree lacks, such as opencensus for
    // envoy.service.trace.v3) would leave half its types unresolved in the shared root, and
    // every later resolveAll() would throw: unrelated look-ups after it would fail. So its
    // imports are checked first (reading the files' import lines is cheap; a trial load into
    // a scratch root costs half a second).
    if (!importsResolve(files)) return false;
    try {
      protoRoot().loadSync(files, { keepCase: true });
      protoRoot().resolveAll();
      loadedFiles.push(...files);
      return true;
    } catch {
      // Found but broken (a file that does not parse): the shared root may hold half of it, so
      // it is rebuilt from what loaded before. Types already handed out stay valid.
      rebuildRoot();
      return false;
    }
  }
  return false;
}

/** Files of packages loaded on demand, in order, for rebuildRoot. */
const loadedFiles: string[] = [];

function rebuildRoot(): void {
  cached = undefined;
  const root = protoRoot();
  if (loadedFiles.length > 0) {
    root.loadSync(loadedFiles, { keepCase: true });
    root.resolveAll();
  }
}

/** Files whose whole import closure was found (or that were loaded already). */
const resolvableFiles = new Set<string>();
const IMPORT_RE = /^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/gm;

/** True if every file of `files` and everything they import, transitively, exists. */
function importsResolve(files: readonly string[]): boolean {
  const dirs = includeDirs();
  const find = (rel: string): string | undefined => dirs.map((d) => path.join(d, rel)).find((p) => existsSync(p));
  const pending = [...files];
  const seen = new Set<string>();
  while (pending.length > 0) {
    const rel = pending.pop()!;
    if (seen.has(rel) || resolvableFiles.has(rel)) continue;
    seen.add(rel);
    const file = find(rel);
    // protobufjs carries the google/protobuf files it needs (its `common` bundle).
    if (!file && rel.startsWith('google/protobuf/')) continue;
    if (!file) return false;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return false;
    }
    for (const m of text.matchAll(IMPORT_RE)) pending.push(m[1]!);
  }
  for (const rel of seen) resolvableFiles.add(rel);
  return true;
}

export { TYPE_URL_PREFIX } from './type-url.js';
import { TYPE_URL_PREFIX } from './type-url.js';

/** Message type named by an Any's type URL (any host part before the last '/'). */
export function lookupTypeUrl(typeUrl: string): protobuf.Type | undefined {
  const slash = typeUrl.lastIndexOf('/');
  if (slash < 0) return undefined;
  return lookupMessage(typeUrl.slice(slash + 1));
}
