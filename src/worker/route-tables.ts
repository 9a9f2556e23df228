/**
 * A worker's RDS route tables (Envoy's per-worker RDS config slot). WORKER.
 *
 * Main posts the `routes` slot (every accepted route config, by provider key) as a whole new
 * map on each change. `apply` compiles a RouteTable only for the keys whose content hash
 * changed, so a change to one provider costs one compile, once per worker, never per request.
 * `get` is the per-request read: one map lookup. A request keeps the table it read (the
 * connection manager reads once per request), so an update never changes a request in flight.
 */
import type { RouteTableLike } from '../api/network-filter.js';
import type { RuntimeLoader } from '../api/runtime.js';
import { ROUTE_CONFIG_KINDS, routeConfigKindOfKey } from '../extensions/route-config-kinds.js';
import type { RoutesSlotEntry } from '../server/worker-protocol.js';

export class WorkerRouteTables {
  #tables = new Map<string, { hash: string; table: RouteTableLike }>();
  /** Read by tables per request (runtime_fraction), never copied into them. */
  readonly #runtime: RuntimeLoader;

  constructor(runtime: RuntimeLoader) {
    this.#runtime = runtime;
  }

  /** The current table for `key` (its kind's empty table until the first update). */
  get(key: string): RouteTableLike {
    return this.#tables.get(key)?.table ?? routeConfigKindOfKey(key).empty();
  }

  /** Swaps in a new `routes` slot value, compiling only changed entries. */
  apply(value: Readonly<Record<string, RoutesSlotEntry>>): void {
    const next = new Map<string, { hash: string; table: RouteTableLike }>();
    for (const [key, entry] of Object.entries(value)) {
      const current = this.#tables.get(key);
      next.set(key, current && current.hash === entry.hash ? current : { hash: entry.hash, table: ROUTE_CONFIG_KINDS[entry.kind].compile(entry.config, this.#runtime) });
    }
    this.#tables = next;
  }
}
