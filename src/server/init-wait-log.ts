/**
 * The info lines start-up writes while it waits for xDS, so an operator whose Courier sits
 * in INITIALIZING can tell what it waits for, from where, and for how long at most:
 *
 *   waiting for the initial CDS update from ADS via xds_cluster (127.0.0.1:18000), up to 15s
 *   waiting for the initial RDS update of route config 'local_route' from file /etc/rds.yaml, up to 15s
 */
import type { XdsConfigSource, XdsGrpcServer } from '../xds/config-source.js';

/** Where a config source reads from, in words. */
export function describeConfigSource(source: XdsConfigSource, ads?: XdsGrpcServer | undefined): string {
  switch (source.kind) {
    case 'ads':
      return ads ? `ADS via ${ads.clusterName} (${ads.target})` : 'ADS';
    case 'grpc':
      return `gRPC via ${source.server.clusterName} (${source.server.target})`;
    case 'path':
      return `file ${source.path}${source.watchedDirectory ? ` (watching ${source.watchedDirectory})` : ''}`;
  }
}

function describeTimeout(ms: number): string {
  return ms === 0 ? 'no initial_fetch_timeout (until it comes)' : `up to ${ms / 1000}s (initial_fetch_timeout)`;
}

/** `what`: "the initial CDS update", "the initial RDS update of route config 'x'". */
export function initWaitMessage(what: string, source: XdsConfigSource, ads?: XdsGrpcServer | undefined): string {
  return `waiting for ${what} from ${describeConfigSource(source, ads)}, ${describeTimeout(source.initialFetchTimeoutMs)}`;
}
