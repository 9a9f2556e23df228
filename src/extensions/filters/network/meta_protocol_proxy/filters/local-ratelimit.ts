/**
 * courier.meta_protocol.filters.local_ratelimit (aeraki's local_ratelimit, same config):
 * token buckets chosen by the request's metadata. The first condition that matches picks its
 * bucket, else the default bucket, else the request passes. A limited request gets the
 * codec's over_limit error reply (response flag RL) and goes no further.
 *
 * Buckets live on each worker (no cross-process coordination on the request path): each gets
 * ceil(max_tokens / workers) and ceil(tokens_per_fill / workers) per fill, so the proxy as a
 * whole admits about the configured rate. A bucket refills lazily, when a request looks at
 * it: no timers. Stats: meta_protocol.<prefix>.local_ratelimit.<stat_prefix>.{ok,rate_limited}.
 */
import type { ProblemSink } from '../../../../../api/network-filter.js';
import { LocalReplyKind } from '../../../../../api/rpc-protocol.js';
import type { Counter, StatsScope } from '../../../../../api/stats.js';
import { ResponseFlag } from '../../../../../api/stream-info.js';
import { compileHeaderMatcher, matchAllHeaders, parseHeaderMatcher, type HeaderMatcher, type HeaderMatcherConfig } from '../../../../../common/matchers/header-matcher.js';
import { RpcFilterStatus, type RpcDecoderFilter, type RpcFilterCallbacks } from '../../../../../common/rpc/rpc-filter.js';
import { durationMs, list, num, obj, rejectUnsupported, str, type Obj } from '../../../../../config/plain-reader.js';
import type { MetaFrame } from '../meta-protocol.js';

export const LOCAL_RATELIMIT_FILTER = 'courier.meta_protocol.filters.local_ratelimit';
export const LOCAL_RATELIMIT_TYPE = 'courier.meta_protocol_proxy.filters.local_ratelimit.v1.LocalRateLimit';

/** MetaProtocol refuses fill intervals below 50 ms; so does Courier. */
const MIN_FILL_INTERVAL_MS = 50;

export interface TokenBucketConfig {
  maxTokens: number;
  tokensPerFill: number;
  fillIntervalMs: number;
}

export interface LocalRateLimitConfig {
  statPrefix: string;
  defaultBucket: TokenBucketConfig | undefined;
  conditions: Array<{ match: HeaderMatcherConfig[]; bucket: TokenBucketConfig }>;
}

function parseTokenBucket(proto: unknown, problems: ProblemSink): TokenBucketConfig | undefined {
  const b = obj(proto);
  if (!b) {
    problems.add('', 'a token_bucket is required');
    return undefined;
  }
  rejectUnsupported(b, ['max_tokens', 'tokens_per_fill', 'fill_interval'], 'TokenBucket', problems);
  const maxTokens = num(b, 'max_tokens', 0);
  const tokensPerFill = num(b, 'tokens_per_fill', 1);
  const fillIntervalMs = durationMs(b, 'fill_interval', 0);
  if (maxTokens <= 0) problems.add('max_tokens', 'max_tokens must be greater than 0');
  if (fillIntervalMs < MIN_FILL_INTERVAL_MS) problems.add('fill_interval', `fill_interval must be at least ${MIN_FILL_INTERVAL_MS}ms`);
  return { maxTokens, tokensPerFill, fillIntervalMs };
}

/** MAIN: a checked LocalRateLimit as plain data. */
export function parseLocalRateLimit(proto: Obj, problems: ProblemSink): LocalRateLimitConfig {
  rejectUnsupported(proto, ['stat_prefix', 'token_bucket', 'conditions'], 'LocalRateLimit', problems);
  const defaultBucket = proto['token_bucket'] !== undefined ? parseTokenBucket(proto['token_bucket'], problems.at('token_bucket')) : undefined;
  const conditions = list(proto['conditions']).flatMap((c, i) => {
    const p = problems.at(`conditions[${i}]`);
    const cond = obj(c) ?? {};
    const match = list(obj(cond['match'])?.['metadata']).map((m, j) => parseHeaderMatcher(m, p.at(`match.metadata[${j}]`)));
    const bucket = parseTokenBucket(cond['token_bucket'], p.at('token_bucket'));
    if (!bucket || match.some((m) => m === undefined)) return [];
    return [{ match: match as HeaderMatcherConfig[], bucket }];
  });
  if (!defaultBucket && conditions.length === 0) problems.add('', 'at least one of token_bucket or conditions is required');
  return { statPrefix: str(proto, 'stat_prefix'), defaultBucket, conditions };
}

class TokenBucket {
  readonly #max: number;
  readonly #perFill: number;
  readonly #intervalMs: number;
  #tokens: number;
  #lastFill: number;

  constructor(c: TokenBucketConfig, workers: number) {
    this.#max = Math.ceil(c.maxTokens / workers);
    this.#perFill = Math.ceil(c.tokensPerFill / workers);
    this.#intervalMs = c.fillIntervalMs;
    this.#tokens = this.#max;
    this.#lastFill = performance.now();
  }

  tryConsume(): boolean {
    const now = performance.now();
    const fills = Math.floor((now - this.#lastFill) / this.#intervalMs);
    if (fills > 0) {
      this.#tokens = Math.min(this.#max, this.#tokens + fills * this.#perFill);
      this.#lastFill += fills * this.#intervalMs;
    }
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}

/** WORKER: one filter instance per proxy config; it holds the worker's buckets. */
export class LocalRateLimitFilter implements RpcDecoderFilter<MetaFrame> {
  readonly #conditions: Array<{ matchers: HeaderMatcher[]; bucket: TokenBucket }>;
  readonly #default: TokenBucket | undefined;
  readonly #ok: Counter;
  readonly #limited: Counter;

  constructor(config: LocalRateLimitConfig, scope: StatsScope, workers: number) {
    this.#conditions = config.conditions.map((c) => ({ matchers: c.match.map(compileHeaderMatcher), bucket: new TokenBucket(c.bucket, workers) }));
    this.#default = config.defaultBucket ? new TokenBucket(config.defaultBucket, workers) : undefined;
    const stats = scope.scope(`local_ratelimit.${config.statPrefix}`);
    this.#ok = stats.counter('ok');
    this.#limited = stats.counter('rate_limited');
  }

  onMessageDecoded(cb: RpcFilterCallbacks<MetaFrame>): RpcFilterStatus {
    const metadata = cb.request.message.metadata;
    const get = (key: string): string | undefined => metadata.get(key);
    let bucket = this.#default;
    for (const c of this.#conditions) {
      if (matchAllHeaders(c.matchers, get)) {
        bucket = c.bucket;
        break;
      }
    }
    if (!bucket || bucket.tryConsume()) {
      this.#ok.inc();
      return RpcFilterStatus.Continue;
    }
    this.#limited.inc();
    cb.streamInfo.responseFlags.add(ResponseFlag.RateLimited);
    cb.sendLocalReply(LocalReplyKind.OverLimit, 'local rate limit exceeded');
    return RpcFilterStatus.StopIteration;
  }
}
