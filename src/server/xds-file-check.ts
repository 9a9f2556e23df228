/**
 * `--mode validate` for the xDS files a bootstrap names (path_config_source). MAIN process,
 * no server started. Each file that exists is read as its subscription would read it
 * (subscription-file.ts) and every resource goes through the translator the live update
 * would use: LDS → listener-config.ts and the filters (whose RDS files are checked in
 * turn), CDS → cluster-config.ts (whose EDS files are checked in turn), EDS →
 * load-assignment.ts, RDS → the route config kind's parser. A file that does not exist is
 * not a problem (Envoy starts and keeps watching for it); it is listed as unchecked.
 */
import { readConfigText } from '../config/input-limits.js';
import type { NetworkFilterConfigFactory } from '../api/network-filter.js';
import type { Registry } from '../api/registry.js';
import { listenerConfigContext } from '../config/bootstrap.js';
import { parseCluster } from '../config/cluster-config.js';
import { ProblemCollector, type ConfigProblem } from '../config/config-error.js';
import { parseListener } from '../config/listener-config.js';
import { parseLoadAssignment } from '../config/load-assignment.js';
import type { RdsProviderConfig, ServerConfig } from '../config/server-config.js';
import { ROUTE_CONFIG_KINDS } from '../extensions/route-config-kinds.js';
import type { ConfigSourceContext, XdsConfigSource } from '../xds/config-source.js';
import { CLUSTER, CLUSTER_LOAD_ASSIGNMENT, LISTENER, ROUTE_CONFIGURATION, type XdsResourceType } from '../xds/resource-type.js';
import { parseDiscoveryFile } from '../xds/subscription-file.js';
import type { DecodedResource } from '../xds/subscription.js';
import type { ResourceProblem } from '../xds/resource-decoder.js';
import { combineProblems } from '../config/config-check.js';

export interface XdsFileCheck {
  /** Files read and checked. */
  readonly checked: string[];
  /** Files named but absent. */
  readonly missing: string[];
  /** One line per problem: `file: path (line N): message`. */
  readonly problems: string[];
  /** One line per warning (a route naming a cluster no one configured), same form. */
  readonly warnings: string[];
}

export function checkXdsFiles(config: ServerConfig, filters: Registry<NetworkFilterConfigFactory>): XdsFileCheck {
  const out: XdsFileCheck = { checked: [], missing: [], problems: [], warnings: [] };
  const seen = new Set<string>();
  const sources: ConfigSourceContext = { clusters: config.clusters.filter((c) => c.type !== 'EDS'), adsConfigured: config.ads !== undefined };
  const clusterNames = new Set(config.clusters.map((c) => c.name));

  /** Reads a path source's file; calls `each` per resource with a collector rooted at it. */
  const visit = (
    source: XdsConfigSource | undefined,
    type: XdsResourceType,
    names: readonly string[] | undefined,
    each: (r: DecodedResource, problems: ProblemCollector) => void,
  ): void => {
    if (source?.kind !== 'path') return;
    const key = `${type.typeUrl} ${source.path} ${names?.join(',') ?? '*'}`;
    if (seen.has(key)) return;
    seen.add(key);
    let text: string;
    try {
      text = readConfigText(source.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === undefined) {
        out.problems.push(`${source.path}: ${(e as Error).message}`);
        return;
      }
      if (!out.missing.includes(source.path)) out.missing.push(source.path);
      return;
    }
    if (!out.checked.includes(source.path)) out.checked.push(source.path);
    // Partial: a file with decode problems is still translated, so one run lists them all.
    const parsed = parseDiscoveryFile(text, source.path, type, true);
    let decodeProblems: readonly ResourceProblem[] = [];
    let resources: ReadonlyArray<{ index: number; resource: DecodedResource }>;
    let lineOf: (path: string) => number | undefined;
    if ('error' in parsed) {
      if (!parsed.partial) {
        out.problems.push(...parsed.error.split('\n'));
        return;
      }
      ({ problems: decodeProblems, resources, lineOf } = parsed.partial);
    } else {
      resources = parsed.resources.map((resource, index) => ({ index, resource }));
      lineOf = parsed.lineOf;
    }
    const format = (p: ConfigProblem & { name?: string | undefined }): string => {
      const line = lineOf(p.path);
      return `${source.path}: ${p.name ? `${type.shortName} resource "${p.name}": ` : ''}${p.path || '<response>'}${line ? ` (line ${line})` : ''}: ${p.message}`;
    };
    const translation: Array<ConfigProblem & { name: string }> = [];
    for (const { index, resource: r } of resources) {
      if (names && !names.includes(r.name)) continue;
      const sink: ConfigProblem[] = [];
      const warnings: ConfigProblem[] = [];
      each(r, new ProblemCollector(`resources[${index}]`, sink, warnings));
      for (const p of sink) translation.push({ ...p, name: r.name });
      for (const w of warnings) out.warnings.push(format({ ...w, name: r.name }));
    }
    const shown = new Set(combineProblems(decodeProblems, translation));
    for (const p of [...decodeProblems, ...translation]) if (shown.has(p)) out.problems.push(format(p));
  };

  const checkRds = (rds: readonly RdsProviderConfig[]): void => {
    for (const p of rds) {
      visit(p.source, ROUTE_CONFIGURATION, [p.routeConfigName], (r, problems) => void ROUTE_CONFIG_KINDS[p.kind].parse(r.resource, problems));
    }
  };
  const checkEds = (cluster: { eds?: { source: XdsConfigSource; serviceName: string } | undefined }): void => {
    if (!cluster.eds) return;
    visit(cluster.eds.source, CLUSTER_LOAD_ASSIGNMENT, [cluster.eds.serviceName], (r, problems) => void parseLoadAssignment(r.resource, true, problems));
  };

  for (const c of config.clusters) checkEds(c);
  visit(config.cds, CLUSTER, undefined, (r, problems) => {
    const c = parseCluster(r.resource, problems, filters, sources);
    if (c) {
      clusterNames.add(c.name);
      checkEds(c);
    }
  });
  checkRds(config.rds);
  const ldsRds = new Map<string, RdsProviderConfig>();
  visit(config.lds, LISTENER, undefined, (r, problems) => void parseListener(r.resource, problems, filters, listenerConfigContext(sources, clusterNames, ldsRds, true)));
  checkRds([...ldsRds.values()]);
  return out;
}
