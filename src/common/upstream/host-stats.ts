/**
 * Per-host counters shown by /clusters (Envoy's HostStats). Plain fields: the worker reports
 * them with its stats snapshot, main sums them per host across workers.
 */
export interface HostStats {
  cx_total: number;
  cx_active: number;
  cx_connect_fail: number;
  rq_total: number;
  rq_active: number;
  rq_success: number;
  rq_error: number;
  rq_timeout: number;
}

export function newHostStats(): HostStats {
  return { cx_total: 0, cx_active: 0, cx_connect_fail: 0, rq_total: 0, rq_active: 0, rq_success: 0, rq_error: 0, rq_timeout: 0 };
}

export function addHostStats(into: HostStats, from: HostStats): void {
  for (const k of Object.keys(into) as Array<keyof HostStats>) into[k] += from[k];
}
