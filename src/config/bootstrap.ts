/**
 * Bootstrap loading: file → checked proto values → ServerConfig. Runs on the main process.
 * Every problem is gathered first; then one ConfigError lists them all with paths and lines.
 */
import path from 'node:path';
import type { MainConfigContext, NetworkFilterConfigFactory } from '../api/network-filter.js';
import type { Registry } from '../api/registry.js';
import { ConfigError, formatProblem, ProblemCollector, type ConfigProblem } from './config-error.js';
import { checkDocument } from './config-check.js';
import { mergeProtoJson } from './proto-merge.js';
import { readConfigFile, parseConfigText, type ParsedDocument } from './config-source-file.js';
import { decodeMessage, type PlainObject } from './proto-json.js';
import { protoRoot } from './proto-registry.js';
import { parseSocketAddress } from './address.js';
import { parseCluster } from './cluster-config.js';
import { parseListener } from './listener-config.js';
import { parseAccessLog } from './access-log-config.js';
import { parseOverloadManager } from './overload-config.js';
import { parseLayeredRuntime } from './runtime-config.js';
import { parseStatsConfig } from './stats-config.js';
import { durationMs, list, obj, rejectUnsupported, str, type Obj } from './plain-reader.js';
import type { ClusterConfig, ListenerConfig, RdsProviderConfig, ServerConfig } from './server-config.js';
import { configSourceKey, parseApiConfigSource, parseConfigSource, type ConfigSourceContext } from '../xds/config-source.js';
import { stableHash } from '../xds/stable-hash.js';
import { routeConfigProviderKey } from '../extensions/route-config-kinds.js';

const SUPPORTED_BOOTSTRAP_FIELDS = [
  'node', 'static_resources', 'admin', 'stats_flush_interval', 'dynamic_resources', 'overload_manager', 'layered_runtime', 'stats_config', 'stats_sinks',
];
/** dynamic_resources fields refused by name. */
const DYNAMIC_NOT_YET: Record<string, string> = {
  lds_resources_locator: 'lds_resources_locator (xdstp) is not supported by Courier yet; use lds_config',
  cds_resources_locator: 'cds_resources_locator (xdstp) is not supported by Courier yet; use cds_config',
};

export interface LoadedBootstrap {
  config: ServerConfig;
  /** The checked bootstrap as proto3 JSON, for /config_dump. */
  raw: unknown;
  /** What loads but the user should hear about, one line each (`file: path (line N): message`). */
  warnings: string[];
  /** The file (or `--config-yaml`), and the line of a field path in it: for problems found later. */
  source: string;
  lineOf(path: string): number | undefined;
}

export interface BootstrapLoadOptions {
  /** `--config-yaml` given with `-c`: merged over the file as Envoy does (MergeFrom). */
  overlayYaml?: string | undefined;
  /** `--mode validate`: what only serving would refuse (unknown clusters) is a warning. */
  validateOnly?: boolean | undefined;
  /** Relative paths in the config (a codec module) are resolved against this; set from the file. */
  configDir?: string | undefined;
}

export function loadBootstrapFile(file: string, filters: Registry<NetworkFilterConfigFactory>, options: BootstrapLoadOptions = {}): LoadedBootstrap {
  return loadBootstrapDocument(readConfigFile(file), filters, { configDir: path.dirname(path.resolve(file)), ...options });
}

export function loadBootstrapText(
  text: string,
  source: string,
  filters: Registry<NetworkFilterConfigFactory>,
  options: BootstrapLoadOptions = {},
): LoadedBootstrap {
  return loadBootstrapDocument(parseConfigText(text, source), filters, options);
}

/**
 * Decodes and translates in one run (config-check.ts), so decode problems and unsupported
 * features are listed together; the overlay (`--config-yaml`) is checked on its own first,
 * so its problems name its own lines.
 */
function loadBootstrapDocument(doc: ParsedDocument, filters: Registry<NetworkFilterConfigFactory>, options: BootstrapLoadOptions): LoadedBootstrap {
  const type = protoRoot().lookupType('envoy.config.bootstrap.v3.Bootstrap');
  const warnings = doc.warnings.map((w) => formatProblem(w, doc.source));
  let json: unknown = doc.value ?? {};
  let lineOf = (p: string): { line?: number | undefined; source?: string | undefined } => ({ line: doc.lineOf(p) });
  if (options.overlayYaml !== undefined) {
    const overlay = parseConfigText(options.overlayYaml, '--config-yaml');
    warnings.push(...overlay.warnings.map((w) => formatProblem(w, overlay.source)));
    const own = decodeMessage(type, overlay.value ?? {});
    if (own.problems.length > 0) throw new ConfigError(own.problems.map((p) => ({ ...p, line: overlay.lineOf(p.path) })), overlay.source);
    json = mergeProtoJson(type, json, overlay.value);
    lineOf = (p) => {
      const line = overlay.ownLineOf(p);
      return line !== undefined ? { line, source: overlay.source } : { line: doc.lineOf(p) };
    };
  }
  if (isEmptyConfig(json)) warnings.push(formatProblem({ path: '', message: 'the config is empty: no listeners, clusters or admin; Courier would start and serve nothing' }, doc.source));
  const checked = checkDocument(type, json, () => undefined, (value, problems) => translateBootstrap(value, problems, filters, options.validateOnly, options.configDir));
  const located = (p: ConfigProblem): ConfigProblem => ({ ...p, ...lineOf(p.path) });
  warnings.push(...checked.warnings.map((w) => formatProblem(located(w), doc.source)));
  if (!checked.value) throw new ConfigError(checked.problems.map(located), doc.source);
  return { config: checked.value, raw: json, warnings, source: doc.source, lineOf: (p) => lineOf(p).line };
}

function isEmptyConfig(json: unknown): boolean {
  return typeof json !== 'object' || json === null || Object.keys(json).length === 0;
}

export function translateBootstrap(
  b: PlainObject,
  problems: ProblemCollector,
  filters: Registry<NetworkFilterConfigFactory>,
  validateOnly = false,
  configDir?: string,
): ServerConfig | undefined {
  rejectUnsupported(b, SUPPORTED_BOOTSTRAP_FIELDS, 'Bootstrap', problems);
  const node = obj(b['node']) ?? {};
  const sr = obj(b['static_resources']) ?? {};
  rejectUnsupported(sr, ['listeners', 'clusters'], 'StaticResources', problems.at('static_resources'));

  // Clusters in two passes: an EDS cluster's eds_config may name (api_config_source) any
  // static non-EDS cluster, wherever it is in the list. The result keeps the file's order.
  const clusterList = list(sr['clusters']).map((c, i) => ({ raw: obj(c) ?? {}, i }));
  const isEds = (c: { raw: Obj }): boolean => c.raw['type'] === 'EDS';
  const parsedClusters: Array<{ i: number; config: ClusterConfig }> = [];
  const staticNonEds: ClusterConfig[] = [];
  const clusterNames = new Set<string>();
  const parseOne = ({ raw, i }: { raw: Obj; i: number }, sources: ConfigSourceContext): void => {
    const p = problems.at(`static_resources.clusters[${i}]`);
    const parsed = parseCluster(raw, p, filters, sources);
    if (!parsed) return;
    if (clusterNames.has(parsed.name)) p.add('name', `cluster manager: duplicate cluster '${parsed.name}'`);
    clusterNames.add(parsed.name);
    parsedClusters.push({ i, config: parsed });
    if (parsed.type !== 'EDS') staticNonEds.push(parsed);
  };
  for (const c of clusterList.filter((c) => !isEds(c))) parseOne(c, { clusters: [] });

  // dynamic_resources before the EDS clusters and the listeners: `ads: {}` config sources
  // need to know whether ads_config exists.
  let ads: ServerConfig['ads'];
  const dr = obj(b['dynamic_resources']);
  if (dr) {
    const dp = problems.at('dynamic_resources');
    for (const [field, message] of Object.entries(DYNAMIC_NOT_YET)) if (dr[field] !== undefined) dp.add(field, message);
    rejectUnsupported(dr, ['ads_config', 'lds_config', 'cds_config', ...Object.keys(DYNAMIC_NOT_YET)], 'DynamicResources', dp);
    const adsConfig = obj(dr['ads_config']);
    if (adsConfig) ads = parseApiConfigSource(adsConfig, dp.at('ads_config'), { clusters: staticNonEds }, true);
  }
  const sourceContext: ConfigSourceContext = {
    clusters: staticNonEds,
    adsConfigured: ads !== undefined || (dr !== undefined && obj(dr['ads_config']) !== undefined),
  };
  for (const c of clusterList.filter(isEds)) parseOne(c, sourceContext);
  const clusters = parsedClusters.sort((x, y) => x.i - y.i).map((c) => c.config);
  let cds: ServerConfig['cds'];
  let lds: ServerConfig['lds'];
  if (dr) {
    const dp = problems.at('dynamic_resources');
    const cdsConfig = obj(dr['cds_config']);
    if (cdsConfig) cds = parseConfigSource(cdsConfig, dp.at('cds_config'), sourceContext);
    const ldsConfig = obj(dr['lds_config']);
    if (ldsConfig) lds = parseConfigSource(ldsConfig, dp.at('lds_config'), sourceContext);
  }

  const rds = new Map<string, RdsProviderConfig>();
  const ctx = listenerConfigContext(sourceContext, clusterNames, rds, validateOnly, configDir);
  const listeners: ListenerConfig[] = [];
  const listenerNames = new Set<string>();
  const listenerAddresses = new Set<string>();
  list(sr['listeners']).forEach((l, i) => {
    const p = problems.at(`static_resources.listeners[${i}]`);
    const parsed = parseListener(obj(l) ?? {}, p, filters, ctx);
    if (!parsed) return;
    if (listenerNames.has(parsed.name)) p.add('name', `duplicate listener name '${parsed.name}'`);
    const key = `${parsed.address.host}:${parsed.address.port}`;
    if (parsed.address.port !== 0 && listenerAddresses.has(key)) p.add('address', `another listener is already configured on ${key}`);
    listenerNames.add(parsed.name);
    listenerAddresses.add(key);
    listeners.push(parsed);
  });

  let admin: ServerConfig['admin'];
  const a = obj(b['admin']);
  if (a) {
    const ap = problems.at('admin');
    rejectUnsupported(a, ['address', 'access_log_path', 'profile_path'], 'Admin', ap);
    const address = parseSocketAddress(obj(a['address']), ap.at('address'), true);
    if (address) admin = { address };
  }
  const runtime = parseLayeredRuntime(obj(b['layered_runtime']), problems.at('layered_runtime'), sourceContext);
  return {
    node: { id: str(node, 'id'), cluster: str(node, 'cluster') },
    admin,
    listeners,
    clusters,
    statsFlushIntervalMs: durationMs(b, 'stats_flush_interval', 5000),
    stats: parseStatsConfig(b, problems),
    ads,
    rds: [...rds.values()],
    cds,
    lds,
    overload: obj(b['overload_manager']) ? parseOverloadManager(obj(b['overload_manager'])!, problems.at('overload_manager')) : undefined,
    runtime,
  };
}

/**
 * What a listener's network filters may ask while parsing (MAIN): the bootstrap's static
 * listeners and every LDS update use it. `clusterNames` is read at parse time (LDS passes
 * the cluster manager's live set); `rds` receives one RdsProviderConfig per new (config
 * source, route_config_name) key: HCMs naming the same pair share a provider.
 */
export function listenerConfigContext(
  sources: ConfigSourceContext,
  clusterNames: ReadonlySet<string>,
  rds: Map<string, RdsProviderConfig>,
  validateOnly = false,
  configDir?: string,
): MainConfigContext {
  const registerRds: MainConfigContext['registerRds'] = (cs, routeConfigName, statPrefix, p, kind = 'http') => {
    const source = parseConfigSource(cs, p, sources);
    if (!source) return undefined;
    const key = routeConfigProviderKey(kind, routeConfigName, stableHash(configSourceKey(source)));
    if (!rds.has(key)) rds.set(key, { key, routeConfigName, source, statPrefix, kind });
    return key;
  };
  return { clusterNames, parseAccessLog, registerRds, validateOnly, configDir };
}
