/**
 * Envoy's default tag extractors (source/common/config/well_known_names.cc), as data: the tag
 * name, and either an RE2 regex (group 1 is removed from the name, group 2 — or group 1 when
 * there is no group 2 — is the tag value) or a token pattern (`$` is the value's token, `*`
 * one token, `**` one or more). Envoy adds every regex descriptor first, then every token
 * pattern, each in the order below; tag-extractor.ts keeps that order.
 *
 * Left out: Envoy's extractors for stats Courier never makes (TLS curves, signature algorithms
 * and versions; ext_authz; the local rate limit filters; the DNS filter).
 *
 * The last two token patterns (dubbo, meta_protocol) are Courier's: Envoy has no tag for
 * those stat prefixes, and without them `dubbo.<stat_prefix>.request` would be one metric
 * name per stat prefix in Prometheus.
 */

export type WellKnownTag =
  | { name: string; regex: string; substr: string; negativeMatch?: string }
  | { name: string; tokens: string };

/** Stand-ins used in the regexes below, replaced before compiling (Envoy's expandRegex). */
const EXPANSIONS: ReadonlyArray<[string, string]> = [
  // An IPv4 or bracketed IPv6 address (':' already turned into '_'), then '_' and the port.
  ['<ADDRESS>', String.raw`(?:(?:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[[a-fA-F_\d]+\])_\d+)`],
  ['<CIPHER>', String.raw`[\w-]+`],
  ['<TAG_VALUE>', String.raw`[^\.]+`],
  // Route config names may contain dots.
  ['<ROUTE_CONFIG_NAME>', String.raw`[\w-\.]+`],
];

function expand(regex: string): string {
  let out = regex;
  for (const [from, to] of EXPANSIONS) out = out.split(from).join(to);
  return out;
}

const re = (name: string, regex: string, substr = '', negativeMatch?: string): WellKnownTag => ({
  name,
  regex: expand(regex),
  substr,
  ...(negativeMatch !== undefined ? { negativeMatch } : {}),
});
const tokens = (name: string, pattern: string): WellKnownTag => ({ name, tokens: pattern });

/** Regex descriptors, in Envoy's order. */
const REGEX_TAGS: readonly WellKnownTag[] = [
  re('envoy.response_code', String.raw`_rq(_(\d{3}))$`, '_rq_'),
  re('envoy.response_code_class', String.raw`_rq_((\d))xx$`, '_rq_'),
  re(
    'envoy.dynamo_partition_id',
    String.raw`^http\.<TAG_VALUE>\.dynamodb\.table\.<TAG_VALUE>\.capacity\.<TAG_VALUE>(\.__partition_id=(\w{7}))$`,
    '.dynamodb.table.',
  ),
  re(
    'envoy.dynamo_operation',
    String.raw`^http\.<TAG_VALUE>\.dynamodb.(?:operation|table\.<TAG_VALUE>\.capacity)(\.(<TAG_VALUE>))(?:\.|$)`,
    '.dynamodb.',
  ),
  re('envoy.dynamo_table', String.raw`^http\.<TAG_VALUE>\.dynamodb.(?:table|error)\.((<TAG_VALUE>)\.)`, '.dynamodb.'),
  re('envoy.ssl_cipher', String.raw`^listener\..*?\.ssl\.ciphers(\.(<CIPHER>))$`, '.ssl.ciphers.'),
  re('cipher_suite', String.raw`^cluster\.<TAG_VALUE>\.ssl\.ciphers(\.(<CIPHER>))$`, '.ssl.ciphers.'),
  re('envoy.http_conn_manager_prefix', String.raw`^listener\..*?\.http\.((<TAG_VALUE>)\.)`, '.http.'),
  re('envoy.worker_id', String.raw`^(?:listener\.(?:<ADDRESS>|<TAG_VALUE>)\.|server\.|listener_manager\.)worker_((\d+)\.)`),
  // listener.(<address|stat_prefix>.)*, except the admin listener's stats.
  re('envoy.listener_address', String.raw`^listener\.((<ADDRESS>|<TAG_VALUE>)\.)`, '', 'admin'),
  re('envoy.rds_route_config', String.raw`^http\.<TAG_VALUE>\.rds\.((<ROUTE_CONFIG_NAME>)\.)\w+?$`, '.rds.'),
];

/** Token descriptors, in Envoy's order (then Courier's two). */
const TOKEN_TAGS: readonly WellKnownTag[] = [
  tokens('envoy.mongo_callsite', 'mongo.*.collection.*.callsite.$.query.**'),
  tokens('envoy.mongo_collection', 'mongo.*.collection.$.**.query.*'),
  tokens('envoy.mongo_cmd', 'mongo.*.cmd.$.**'),
  tokens('envoy.grpc_bridge_method', 'cluster.*.grpc.*.$.**'),
  tokens('envoy.http_user_agent', 'http.*.user_agent.$.**'),
  tokens('envoy.virtual_cluster', 'vhost.*.vcluster.$.**'),
  tokens('envoy.fault_downstream_cluster', 'http.*.fault.$.**'),
  tokens('envoy.grpc_bridge_service', 'cluster.*.grpc.$.**'),
  tokens('envoy.tcp_prefix', 'tcp.$.**'),
  tokens('envoy.udp_prefix', 'udp.$.**'),
  tokens('envoy.clientssl_prefix', 'auth.clientssl.$.**'),
  tokens('envoy.ratelimit_prefix', 'ratelimit.$.**'),
  tokens('envoy.cluster_name', 'cluster.$.**'),
  tokens('envoy.http_conn_manager_prefix', 'http.$.**'),
  tokens('envoy.virtual_host', 'vhost.$.**'),
  tokens('envoy.mongo_prefix', 'mongo.$.**'),
  tokens('envoy.route', 'vhost.*.route.$.**'),
  tokens('envoy.thrift_prefix', 'thrift.$.**'),
  tokens('envoy.redis_prefix', 'redis.$.**'),
  tokens('envoy.dubbo_prefix', 'dubbo.$.**'),
  tokens('envoy.meta_protocol_prefix', 'meta_protocol.$.**'),
];

/** Every default descriptor in the order Envoy applies them (before prefix indexing). */
export const WELL_KNOWN_TAGS: readonly WellKnownTag[] = [...REGEX_TAGS, ...TOKEN_TAGS];
