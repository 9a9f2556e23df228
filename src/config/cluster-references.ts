/**
 * Cluster names a listener's config refers to, with the field path of each reference, and
 * what to say when no cluster has that name. MAIN process.
 *
 * Serving, a static route_config with validate_clusters (on by default) refuses an unknown
 * cluster, as Envoy does; tcp_proxy accepts it (connections fail until the cluster exists).
 * Under `--mode validate` both are warnings: clusters that CDS would deliver are not fetched
 * there, so an unknown name may well be right. The path is the reference's own
 * (`virtual_hosts[0].routes[3].route.cluster`), so the line named is the route's.
 */
import type { MainConfigContext, ProblemSink } from '../api/network-filter.js';
import { list, obj, str } from './plain-reader.js';

export interface ClusterReference {
  /** Relative to the RouteConfiguration. */
  readonly path: string;
  readonly name: string;
}

/** Every `route.cluster` and `route.weighted_clusters.clusters[].name` of a checked RouteConfiguration. */
export function routeClusterReferences(routeConfig: Record<string, unknown>): ClusterReference[] {
  const refs: ClusterReference[] = [];
  list(routeConfig['virtual_hosts']).forEach((vh, i) => {
    list(obj(vh)?.['routes']).forEach((r, j) => {
      const action = obj(obj(r)?.['route']);
      if (!action) return;
      const at = `virtual_hosts[${i}].routes[${j}].route`;
      const name = str(action, 'cluster');
      if (name !== '') refs.push({ path: `${at}.cluster`, name });
      list(obj(action['weighted_clusters'])?.['clusters']).forEach((w, k) => {
        const wname = str(obj(w) ?? {}, 'name');
        if (wname !== '') refs.push({ path: `${at}.weighted_clusters.clusters[${k}].name`, name: wname });
      });
    });
  });
  return refs;
}

/**
 * Reports each reference no cluster has now. `required`: serving refuses the config then
 * (validate_clusters); otherwise only `--mode validate` mentions it.
 */
export function reportUnknownClusters(
  refs: readonly ClusterReference[],
  ctx: MainConfigContext,
  problems: ProblemSink,
  required: boolean,
  hint = '',
): void {
  for (const ref of refs) {
    if (ctx.clusterNames.has(ref.name)) continue;
    if (ctx.validateOnly) {
      problems.warn?.(ref.path, `no cluster named '${ref.name}' is configured (fine if CDS delivers it${required ? ' before this listener loads' : ''})${hint}`);
    } else if (required) {
      problems.add(ref.path, `route references unknown cluster '${ref.name}'${hint}`);
    }
  }
}
