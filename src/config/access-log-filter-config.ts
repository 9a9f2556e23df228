/**
 * AccessLog.filter (envoy.config.accesslog.v3.AccessLogFilter) → AccessLogFilterConfig. MAIN,
 * at config time; evaluation is src/common/access-log/access-log-filter.ts.
 *
 * Implemented: status_code_filter, duration_filter, not_health_check_filter,
 * response_flag_filter, runtime_filter, header_filter, and_filter, or_filter. Refused by
 * name: traceable_filter (Courier does not trace), grpc_status_filter (no gRPC status is
 * read), metadata_filter (no dynamic metadata), log_type_filter (one log per stream, at its
 * end), extension_filter.
 */
import type { ProblemSink } from '../api/network-filter.js';
import type { AccessLogFilterConfig, ComparisonConfig } from '../common/access-log/access-log-filter.js';
import { parseHeaderMatcher } from '../common/matchers/header-matcher.js';
import { parseFractionalPercent } from '../common/runtime/runtime-fraction.js';
import { bool, list, num, obj, rejectUnsupported, str, type Obj } from './plain-reader.js';

const NOT_YET: Record<string, string> = {
  traceable_filter: 'traceable_filter is not supported by Courier (it does not trace requests)',
  grpc_status_filter: 'grpc_status_filter is not supported by Courier yet',
  metadata_filter: 'metadata_filter is not supported by Courier yet (no dynamic metadata)',
  log_type_filter: 'log_type_filter is not supported by Courier yet (one access log entry per stream, at its end)',
  extension_filter: 'extension_filter is not supported by Courier yet',
};

/** Envoy's response flag names (ResponseFlagFilter.flags `in` rule). */
const RESPONSE_FLAGS = new Set([
  'LH', 'UH', 'UT', 'LR', 'UR', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'RL', 'UAEX', 'RLSE', 'DC', 'URX', 'SI', 'IH', 'DPE',
  'UMSDR', 'RFCF', 'NFCF', 'DT', 'UPE', 'NC', 'OM', 'DF', 'DO', 'DR',
]);

const IMPLEMENTED = [
  'status_code_filter',
  'duration_filter',
  'not_health_check_filter',
  'response_flag_filter',
  'runtime_filter',
  'header_filter',
  'and_filter',
  'or_filter',
];

/** Parses one AccessLogFilter; undefined after reporting problems. */
export function parseAccessLogFilter(f: Obj, problems: ProblemSink): AccessLogFilterConfig | undefined {
  for (const [field, message] of Object.entries(NOT_YET)) if (f[field] !== undefined) problems.add(field, message);
  rejectUnsupported(Object.fromEntries(Object.entries(f).filter(([k]) => !(k in NOT_YET))), IMPLEMENTED, 'AccessLogFilter', problems);
  const set = IMPLEMENTED.filter((k) => f[k] !== undefined);
  if (set.length !== 1) {
    if (set.length > 1) problems.add(set[1]!, `only one filter may be set per AccessLogFilter (${set.join(', ')})`);
    else if (Object.keys(f).length === 0) problems.add('', `one of ${IMPLEMENTED.join(', ')} is required`);
    return undefined;
  }
  const kind = set[0]!;
  const body = obj(f[kind]) ?? {};
  const p = problems.at(kind);
  switch (kind) {
    case 'status_code_filter':
    case 'duration_filter': {
      rejectUnsupported(body, ['comparison'], kind === 'status_code_filter' ? 'StatusCodeFilter' : 'DurationFilter', p);
      const comparison = parseComparison(obj(body['comparison']), p.at('comparison'));
      return comparison && { kind: kind === 'status_code_filter' ? 'status_code' : 'duration', comparison };
    }
    case 'not_health_check_filter':
      rejectUnsupported(body, [], 'NotHealthCheckFilter', p);
      return { kind: 'not_health_check' };
    case 'response_flag_filter': {
      rejectUnsupported(body, ['flags'], 'ResponseFlagFilter', p);
      const flags = list(body['flags']).map(String);
      let ok = true;
      flags.forEach((flag, i) => {
        if (RESPONSE_FLAGS.has(flag)) return;
        p.add(`flags[${i}]`, `unknown response flag "${flag}" (one of ${[...RESPONSE_FLAGS].join(', ')})`);
        ok = false;
      });
      return ok ? { kind: 'response_flag', flags } : undefined;
    }
    case 'runtime_filter': {
      rejectUnsupported(body, ['runtime_key', 'percent_sampled', 'use_independent_randomness'], 'RuntimeFilter', p);
      const runtimeKey = str(body, 'runtime_key');
      if (runtimeKey === '') p.add('runtime_key', 'runtime_key is required');
      // Unset percent_sampled is 0/100: Envoy then samples only through the runtime key.
      const ps = obj(body['percent_sampled']);
      const percent = ps ? parseFractionalPercent(ps, p.at('percent_sampled')) : { numerator: 0, denominator: 100 as const };
      if (!percent || runtimeKey === '') return undefined;
      return { kind: 'runtime', runtimeKey, percent, independent: bool(body, 'use_independent_randomness', false) };
    }
    case 'header_filter': {
      rejectUnsupported(body, ['header'], 'HeaderFilter', p);
      if (!obj(body['header'])) {
        p.add('header', 'header is required');
        return undefined;
      }
      const header = parseHeaderMatcher(body['header'], p.at('header'));
      return header && { kind: 'header', header };
    }
    case 'and_filter':
    case 'or_filter': {
      rejectUnsupported(body, ['filters'], kind === 'and_filter' ? 'AndFilter' : 'OrFilter', p);
      const raw = list(body['filters']);
      if (raw.length < 2) p.add('filters', 'at least 2 filters are required');
      const filters = raw.map((x, i) => parseAccessLogFilter(obj(x) ?? {}, p.at(`filters[${i}]`)));
      if (raw.length < 2 || filters.some((x) => x === undefined)) return undefined;
      return { kind: kind === 'and_filter' ? 'and' : 'or', filters: filters as AccessLogFilterConfig[] };
    }
  }
  return undefined;
}

function parseComparison(c: Obj | undefined, problems: ProblemSink): ComparisonConfig | undefined {
  if (!c) {
    problems.add('', 'comparison is required');
    return undefined;
  }
  rejectUnsupported(c, ['op', 'value'], 'ComparisonFilter', problems);
  const op = str(c, 'op', 'EQ');
  if (op !== 'EQ' && op !== 'GE' && op !== 'LE') {
    problems.add('op', `op must be one of EQ, GE, LE (got ${op})`);
    return undefined;
  }
  const value = obj(c['value']);
  if (!value) {
    problems.add('value', 'value is required');
    return undefined;
  }
  rejectUnsupported(value, ['default_value', 'runtime_key'], 'RuntimeUInt32', problems.at('value'));
  return { op, defaultValue: num(value, 'default_value', 0), runtimeKey: str(value, 'runtime_key') };
}
