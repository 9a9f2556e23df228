/**
 * The bootstrap's `stats_config` (tags, matcher) and `stats_sinks` (statsd, DogStatsD over UDP),
 * read into plain data (StatsConfig) that main uses and posts to every worker.
 *
 * Envoy's rules kept here: use_all_default_tags defaults to true; a stats_tags entry with
 * neither regex nor fixed_value names a default extractor; a tag name given twice is refused;
 * a sink is chosen by its typed_config type; the statsd prefix defaults to `envoy`. Tag regexes
 * are RE2 (Envoy runs them with std::regex): look-around is refused with the field path.
 */
import type { ProblemSink } from '../api/network-filter.js';
import { checkRe2 } from '../common/matchers/re2.js';
import { parseStringMatcher, type StringMatcherConfig } from '../common/matchers/string-matcher.js';
import { DEFAULT_STATS_TAGS, tagsConfigError, type StatsTagsConfig, type TagSpecifierConfig } from '../common/stats/tag-extractor.js';
import { parseSocketAddress } from './address.js';
import { list, num, obj, rejectUnsupported, str, type Obj } from './plain-reader.js';

/** One UDP statsd sink. DogStatsD sends tag-extracted names with `|#tag:value,...`. */
export interface StatsSinkConfig {
  kind: 'statsd' | 'dog_statsd';
  host: string;
  port: number;
  /** Prepended with a dot to every name (default `envoy`). */
  prefix: string;
  /** DogStatsD's max_bytes_per_datagram: lines are packed into datagrams up to this size; 0 = one line per datagram. */
  maxBytesPerDatagram: number;
}

/** stats_config.stats_matcher: which stats exist at all (Envoy does not create rejected ones). */
export type StatsMatcherConfig =
  | { kind: 'reject_all' }
  | { kind: 'inclusion_list'; patterns: StringMatcherConfig[] }
  | { kind: 'exclusion_list'; patterns: StringMatcherConfig[] };

export interface StatsConfig {
  tags: StatsTagsConfig;
  /** Undefined: every stat is kept. */
  matcher: StatsMatcherConfig | undefined;
  sinks: StatsSinkConfig[];
}

export const DEFAULT_STATS_CONFIG: StatsConfig = { tags: DEFAULT_STATS_TAGS, matcher: undefined, sinks: [] };

const TYPE_PREFIX = 'type.googleapis.com/';
const STATSD_SINK = 'envoy.config.metrics.v3.StatsdSink';
const DOG_STATSD_SINK = 'envoy.config.metrics.v3.DogStatsdSink';

/** Reads `stats_config` and `stats_sinks` of a checked Bootstrap. */
export function parseStatsConfig(bootstrap: Obj, problems: ProblemSink): StatsConfig {
  const sc = obj(bootstrap['stats_config']);
  const tags = sc ? parseTags(sc, problems.at('stats_config')) : DEFAULT_STATS_TAGS;
  const matcherProto = sc ? obj(sc['stats_matcher']) : undefined;
  const matcher = matcherProto ? parseMatcher(matcherProto, problems.at('stats_config.stats_matcher')) : undefined;
  const sinks: StatsSinkConfig[] = [];
  list(bootstrap['stats_sinks']).forEach((s, i) => {
    const sink = parseSink(obj(s) ?? {}, problems.at(`stats_sinks[${i}]`));
    if (sink) sinks.push(sink);
  });
  return { tags, matcher, sinks };
}

function parseTags(sc: Obj, problems: ProblemSink): StatsTagsConfig {
  rejectUnsupported(sc, ['stats_tags', 'use_all_default_tags', 'stats_matcher'], 'StatsConfig', problems);
  const useAllDefaultTags = sc['use_all_default_tags'] !== false;
  const specifiers: TagSpecifierConfig[] = [];
  list(sc['stats_tags']).forEach((t, i) => {
    const p = problems.at(`stats_tags[${i}]`);
    const spec = obj(t) ?? {};
    rejectUnsupported(spec, ['tag_name', 'regex', 'fixed_value'], 'TagSpecifier', p);
    const name = str(spec, 'tag_name');
    if (spec['fixed_value'] !== undefined) {
      specifiers.push({ name, fixedValue: str(spec, 'fixed_value') });
      return;
    }
    const regex = str(spec, 'regex');
    if (regex !== '') {
      // Envoy's std::regex has no program size limit; RE2's syntax is what matters here.
      const checked = checkRe2(regex, Infinity);
      if ('error' in checked) p.add('regex', `invalid regex "${regex}": ${checked.error}`);
      specifiers.push({ name, regex });
    } else {
      specifiers.push({ name });
    }
  });
  const config = { useAllDefaultTags, specifiers };
  const error = tagsConfigError(config);
  if (error) problems.at(`stats_tags[${error.index}]`).add('tag_name', error.message);
  return config;
}

function parseMatcher(m: Obj, problems: ProblemSink): StatsMatcherConfig | undefined {
  rejectUnsupported(m, ['reject_all', 'inclusion_list', 'exclusion_list'], 'StatsMatcher', problems);
  if (m['reject_all'] !== undefined) return m['reject_all'] === true ? { kind: 'reject_all' } : undefined;
  for (const kind of ['inclusion_list', 'exclusion_list'] as const) {
    const l = obj(m[kind]);
    if (!l) continue;
    const p = problems.at(kind);
    rejectUnsupported(l, ['patterns'], 'ListStringMatcher', p);
    const patterns: StringMatcherConfig[] = [];
    list(l['patterns']).forEach((pattern, i) => {
      const parsed = parseStringMatcher(pattern, p.at(`patterns[${i}]`));
      if (parsed) patterns.push(parsed);
    });
    if (list(l['patterns']).length === 0) p.add('patterns', 'at least one pattern is required');
    return { kind, patterns };
  }
  return undefined;
}

function parseSink(s: Obj, problems: ProblemSink): StatsSinkConfig | undefined {
  rejectUnsupported(s, ['name', 'typed_config'], 'StatsSink', problems);
  const typed = obj(s['typed_config']);
  if (!typed) {
    problems.add('typed_config', `typed_config is required (stats sink ${str(s, 'name') || 'without a name'})`);
    return undefined;
  }
  const typeName = str(typed, '@type').replace(TYPE_PREFIX, '');
  const p = problems.at('typed_config');
  if (typeName !== STATSD_SINK && typeName !== DOG_STATSD_SINK) {
    p.add('@type', `stats sink ${str(s, 'name') || typeName} (${typeName}) is not supported by Courier yet (supported: envoy.stat_sinks.statsd, envoy.stat_sinks.dog_statsd)`);
    return undefined;
  }
  const dog = typeName === DOG_STATSD_SINK;
  rejectUnsupported(typed, dog ? ['address', 'prefix', 'max_bytes_per_datagram'] : ['address', 'tcp_cluster_name', 'prefix'], dog ? 'DogStatsdSink' : 'StatsdSink', p);
  if (typed['tcp_cluster_name'] !== undefined) {
    p.add('tcp_cluster_name', 'StatsdSink.tcp_cluster_name (statsd over TCP through a cluster) is not supported by Courier yet; use address (UDP)');
    return undefined;
  }
  const address = parseSocketAddress(withoutProtocol(obj(typed['address'])), p.at('address'), true);
  if (!address) return undefined;
  if (address.port === 0) {
    p.add('address.socket_address.port_value', 'a statsd sink needs a port');
    return undefined;
  }
  return {
    kind: dog ? 'dog_statsd' : 'statsd',
    host: address.host,
    port: address.port,
    prefix: str(typed, 'prefix') || 'envoy',
    maxBytesPerDatagram: dog ? num(typed, 'max_bytes_per_datagram', 0) : 0,
  };
}

/** The Address without socket_address.protocol: a statsd sink is UDP whatever it says, as in Envoy. */
function withoutProtocol(address: Obj | undefined): Obj | undefined {
  const sa = obj(address?.['socket_address']);
  if (!address || !sa) return address;
  const { protocol: _ignored, ...rest } = sa;
  return { ...address, socket_address: rest };
}
