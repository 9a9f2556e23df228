/**
 * Bootstrap loading: file → checked proto values → ServerConfig. Runs on the main process.
 * Every problem is gathered first; then one ConfigError lists them all with paths and lines.
 */
import type { MainConfigContext, NetworkFilterConfigFactory } from '../api/network-filter.js';
import type { Registry } from '../api/registry.js';
import { ConfigError, ProblemCollector } from './config-error.js';
import { readConfigFile, parseConfigText, type ParsedDocument } from './config-source-file.js';
import { decodeMessage, type PlainObject } from './proto-json.js';
import { protoRoot } from './proto-registry.js';
import { parseSocketAddress } from './address.js';
import { parseCluster } from './cluster-config.js';
import { parseListener } from './listener-config.js';
import { parseAccessLog } from './access-log-config.js';
import { durationMs, list, obj, rejectUnsupported, str } from './plain-reader.js';
import type { ClusterConfig, ListenerConfig, RdsProviderConfig, ServerConfig } from './server-config.js';
import { configSourceKey, parseApiConfigSource, parseConfigSource } from '../xds/config-source.js';
import { stableHash } from '../xds/stable-hash.js';

const SUPPORTED_BOOTSTRAP_FIELDS = ['node', 'static_resources', 'admin', 'stats_flush_interval', 'dynamic_resources'];
/** dynamic_resources fields refused by name until Courier has LDS/CDS. */
const DYNAMIC_NOT_YET: Record<string, string> = {
  lds_config: 'dynamic_resources.lds_config (LDS) is not supported by Courier yet; use static_resources.listeners',
  cds_config: 'dynamic_resources.cds_config (CDS) is not supported by Courier yet; use static_resources.clusters',
  lds_resources_locator: 'lds_resources_locator is not supported by Courier yet',
  cds_resources_locator: 'cds_resources_locator is not supported by Courier yet',
};

export interface LoadedBootstrap {
  config: ServerConfig;
  /** The checked bootstrap as proto3 JSON, for /config_dump. */
  raw: unknown;
}

export function loadBootstrapFile(file: string, filters: Registry<NetworkFilterConfigFactory>): LoadedBootstrap {
  return loadBootstrapDocument(readConfigFile(file), filters);
}

export function loadBootstrapText(text: string, source: string, filters: Registry<NetworkFilterConfigFactory>): LoadedBootstrap {
  return loadBootstrapDocument(parseConfigText(text, source), filters);
}

function loadBootstrapDocument(doc: ParsedDocument, filters: Registry<NetworkFilterConfigFactory>): LoadedBootstrap {
  const type = protoRoot().lookupType('envoy.config.bootstrap.v3.Bootstrap');
  const decoded = decodeMessage(type, doc.value ?? {});
  const withLines = (problems: Array<{ path: string; message: string }>): ConfigError =>
    new ConfigError(problems.map((p) => ({ ...p, line: doc.lineOf(p.path) })), doc.source);
  if (!decoded.value) throw withLines(decoded.problems);
  const problems = new ProblemCollector();
  const config = translateBootstrap(decoded.value, problems, filters);
  if (!problems.ok || !config) throw withLines(problems.problems);
  return { config, raw: doc.value };
}

export function translateBootstrap(
  b: PlainObject,
  problems: ProblemCollector,
  filters: Registry<NetworkFilterConfigFactory>,
): ServerConfig | undefined {
  rejectUnsupported(b, SUPPORTED_BOOTSTRAP_FIELDS, 'Bootstrap', problems);
  const node = obj(b['node']) ?? {};
  const sr = obj(b['static_resources']) ?? {};
  rejectUnsupported(sr, ['listeners', 'clusters'], 'StaticResources', problems.at('static_resources'));

  const clusters: ClusterConfig[] = [];
  const clusterNames = new Set<string>();
  list(sr['clusters']).forEach((c, i) => {
    const p = problems.at(`static_resources.clusters[${i}]`);
    const parsed = parseCluster(obj(c) ?? {}, p, filters);
    if (!parsed) return;
    if (clusterNames.has(parsed.name)) p.add('name', `cluster manager: duplicate cluster '${parsed.name}'`);
    clusterNames.add(parsed.name);
    clusters.push(parsed);
  });

  // dynamic_resources before the listeners: an HCM's `rds { config_source: { ads: {} } }`
  // needs to know whether ads_config exists.
  let ads: ServerConfig['ads'];
  const dr = obj(b['dynamic_resources']);
  if (dr) {
    const dp = problems.at('dynamic_resources');
    for (const [field, message] of Object.entries(DYNAMIC_NOT_YET)) if (dr[field] !== undefined) dp.add(field, message);
    rejectUnsupported(dr, ['ads_config', ...Object.keys(DYNAMIC_NOT_YET)], 'DynamicResources', dp);
    const adsConfig = obj(dr['ads_config']);
    if (adsConfig) ads = parseApiConfigSource(adsConfig, dp.at('ads_config'), { clusters }, true);
  }
  const sourceContext = { clusters, adsConfigured: ads !== undefined || (dr !== undefined && obj(dr['ads_config']) !== undefined) };

  // One provider per (config source, route_config_name): HCMs naming the same pair share it.
  const rds = new Map<string, RdsProviderConfig>();
  const registerRds: MainConfigContext['registerRds'] = (cs, routeConfigName, statPrefix, p) => {
    const source = parseConfigSource(cs, p, sourceContext);
    if (!source) return undefined;
    const key = `${routeConfigName}@${stableHash(configSourceKey(source))}`;
    if (!rds.has(key)) rds.set(key, { key, routeConfigName, source, statPrefix });
    return key;
  };
  const ctx: MainConfigContext = { clusterNames, parseAccessLog, registerRds };
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
  return {
    node: { id: str(node, 'id'), cluster: str(node, 'cluster') },
    admin,
    listeners,
    clusters,
    statsFlushIntervalMs: durationMs(b, 'stats_flush_interval', 5000),
    ads,
    rds: [...rds.values()],
  };
}
