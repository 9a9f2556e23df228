/**
 * A worker's RDS route tables (Envoy's per-worker RDS config slot). WORKER.
 *
 * Main posts the `routes` slot (every accepted route config, by provider key) as a whole new
 * map on each change. `apply` compiles a RouteTable only for the keys whose content hash
 * changed, so a change to one provider costs one compile, once per worker, never per request.
 * `get` is the per-request read: one map lookup. A request keeps the table it read (the
 * connection manager reads once per request), so an update never changes a request in flight.
 */
import type { RouteConfig } from '../common/router/route-config.js';
import { RouteTable } from '../common/router/route-table.js';
import type { RoutesSlotEntry } from '../server/worker-protocol.js';

/** Envoy's empty route table before the first RDS update: every request gets 404 NR. */
const EMPTY_ROUTE_CONFIG: RouteConfig = {
  name: '',
  virtualHosts: [],
  requestHeaders: { add: [], remove: [] },
  responseHeaders: { add: [], remove: [] },
  internalOnlyHeaders: [],
  validateClusters: false,
  mostSpecificHeaderMutationsWins: false,
  ignorePortInHostMatching: false,
  ignorePathParametersInPathMatching: false,
};

export class WorkerRouteTables {
  readonly #empty = new RouteTable(EMPTY_ROUTE_CONFIG);
  #tables = new Map<string, { hash: string; table: RouteTable }>();

  /** The current table for `key` (the empty table until its first update). */
  get(key: string): RouteTable {
    return this.#tables.get(key)?.table ?? this.#empty;
  }

  /** Swaps in a new `routes` slot value, compiling only changed entries. */
  apply(value: Readonly<Record<string, RoutesSlotEntry>>): void {
    const next = new Map<string, { hash: string; table: RouteTable }>();
    for (const [key, entry] of Object.entries(value)) {
      const current = this.#tables.get(key);
      next.set(key, current && current.hash === entry.hash ? current : { hash: entry.hash, table: new RouteTable(entry.config) });
    }
    this.#tables = next;
  }
}
