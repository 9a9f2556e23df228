/**
 * Access log filters (envoy.config.accesslog.v3.AccessLogFilter), evaluated on the WORKER for
 * every finished stream before its line is formatted. Semantics are Envoy's
 * (source/common/access_log/access_log_impl.cc):
 * - status_code: the response code (0 for a stream without one: TCP, a reset before any
 *   response) compared with `value` (its runtime_key's integer when set, else default_value);
 * - duration: the stream's duration in ms (start to end), compared the same way;
 * - not_health_check: true unless the request was answered by a health check filter
 *   (Courier has none, so always true);
 * - response_flag: any of the listed flags is set (no list: any flag at all);
 * - runtime: featureEnabled(runtime_key, percent_sampled, random): the random value is the
 *   x-request-id's first 8 hex digits (so every log of one request decides alike) unless
 *   use_independent_randomness is set or there is no usable request id;
 * - header: the request header matcher matches (an RPC request's metadata for Dubbo and
 *   MetaProtocol; nothing for TCP);
 * - and / or: in order, stopping at the first that decides.
 * The config is plain data made on main (src/config/access-log-filter-config.ts).
 */
import type { AccessLogger } from '../../api/access-logger.js';
import type { FractionalPercent, RuntimeLoader, RuntimeSnapshot } from '../../api/runtime.js';
import { randomRuntimeValue } from '../../api/runtime.js';
import type { ResponseFlagCode, StreamInfo } from '../../api/stream-info.js';
import { compileHeaderMatcher, type HeaderMatcher, type HeaderMatcherConfig } from '../matchers/header-matcher.js';

/** ComparisonFilter: `op` against RuntimeUInt32 `value`. */
export interface ComparisonConfig {
  readonly op: 'EQ' | 'GE' | 'LE';
  readonly defaultValue: number;
  readonly runtimeKey: string;
}

export type AccessLogFilterConfig =
  | { readonly kind: 'status_code' | 'duration'; readonly comparison: ComparisonConfig }
  | { readonly kind: 'not_health_check' }
  /** Flags as Envoy names them; empty = any flag. */
  | { readonly kind: 'response_flag'; readonly flags: readonly string[] }
  | { readonly kind: 'runtime'; readonly runtimeKey: string; readonly percent: FractionalPercent; readonly independent: boolean }
  | { readonly kind: 'header'; readonly header: HeaderMatcherConfig }
  | { readonly kind: 'and' | 'or'; readonly filters: readonly AccessLogFilterConfig[] };

/** A compiled filter: true = write the line. */
export type AccessLogFilter = (info: StreamInfo, runtime: RuntimeSnapshot) => boolean;

function compare(c: ComparisonConfig, lhs: number, runtime: RuntimeSnapshot): boolean {
  const value = c.runtimeKey === '' ? c.defaultValue : runtime.getInteger(c.runtimeKey, c.defaultValue);
  return c.op === 'GE' ? lhs >= value : c.op === 'LE' ? lhs <= value : lhs === value;
}

/** Envoy's UUID request id extension (modBy): the id's first 8 characters as hex. */
function requestIdRandom(info: StreamInfo): number | undefined {
  const id = info.requestHeader?.('x-request-id');
  if (id === undefined || id.length < 8) return undefined;
  const head = id.slice(0, 8);
  return /^[0-9a-fA-F]{8}$/.test(head) ? parseInt(head, 16) : undefined;
}

export function compileAccessLogFilter(c: AccessLogFilterConfig): AccessLogFilter {
  switch (c.kind) {
    case 'status_code':
      return (info, rt) => compare(c.comparison, info.responseCode ?? 0, rt);
    case 'duration':
      return (info, rt) => info.endMonoMs !== undefined && compare(c.comparison, Math.floor(info.endMonoMs - info.startMonoMs), rt);
    case 'not_health_check':
      return () => true;
    case 'response_flag': {
      const wanted = new Set(c.flags);
      if (wanted.size === 0) return (info) => info.responseFlags.size > 0;
      return (info) => {
        if (info.responseFlags.size === 0) return false;
        for (const f of info.responseFlags) if (wanted.has(f as ResponseFlagCode)) return true;
        return false;
      };
    }
    case 'runtime': {
      const { runtimeKey, percent, independent } = c;
      return (info, rt) => {
        const random = (independent ? undefined : requestIdRandom(info)) ?? randomRuntimeValue();
        return rt.featureEnabled(runtimeKey, percent.numerator, random, percent.denominator);
      };
    }
    case 'header': {
      const matcher: HeaderMatcher = compileHeaderMatcher(c.header);
      return (info) => matcher.matchValue(info.requestHeader?.(matcher.name));
    }
    case 'and': {
      const filters = c.filters.map(compileAccessLogFilter);
      return (info, rt) => filters.every((f) => f(info, rt));
    }
    case 'or': {
      const filters = c.filters.map(compileAccessLogFilter);
      return (info, rt) => filters.some((f) => f(info, rt));
    }
  }
}

/** A sink behind a filter: `log` writes only the streams the filter lets through. */
class FilteredAccessLogger implements AccessLogger {
  constructor(
    private readonly inner: AccessLogger,
    private readonly filter: AccessLogFilter,
    private readonly runtime: RuntimeLoader,
  ) {}

  log(info: StreamInfo): void {
    if (this.filter(info, this.runtime.snapshot())) this.inner.log(info);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** `inner` itself when there is no filter. */
export function createFilteredAccessLogger(inner: AccessLogger, filter: AccessLogFilterConfig | undefined, runtime: RuntimeLoader): AccessLogger {
  return filter === undefined ? inner : new FilteredAccessLogger(inner, compileAccessLogFilter(filter), runtime);
}
