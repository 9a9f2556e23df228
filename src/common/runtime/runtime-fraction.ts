/**
 * envoy.config.core.v3.RuntimeFractionalPercent (`default_value` + `runtime_key`), read where
 * Envoy reads it: HTTP RouteMatch.runtime_fraction, MetaProtocol mirror policies. Parsed on
 * MAIN into plain data; evaluated on WORKERS against the current runtime snapshot.
 *
 * Evaluation is Envoy's featureEnabled(key, default, random): the key's value when it is a
 * FractionalPercent (`{numerator: 5, denominator: TEN_THOUSAND}`) or an integer percentage
 * ("42" is 42/100; above 100 always matches); otherwise default_value. It matches when
 * `random % denominator < numerator`.
 */
import type { ProblemSink } from '../../api/network-filter.js';
import type { FractionalPercent, RuntimeSnapshot } from '../../api/runtime.js';
import { num, obj, rejectUnsupported, str, type Obj } from '../../config/plain-reader.js';

export interface RuntimeFractionConfig {
  readonly defaultValue: FractionalPercent;
  /** '' = no key: the default always applies. */
  readonly runtimeKey: string;
}

const DENOMINATORS: Record<string, FractionalPercent['denominator']> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

/** envoy.type.v3.FractionalPercent (numerator, denominator: HUNDRED when unset). */
export function parseFractionalPercent(p: Obj, problems: ProblemSink): FractionalPercent | undefined {
  rejectUnsupported(p, ['numerator', 'denominator'], 'FractionalPercent', problems);
  const denominator = DENOMINATORS[str(p, 'denominator', 'HUNDRED')];
  if (denominator === undefined) {
    problems.add('denominator', `denominator must be one of ${Object.keys(DENOMINATORS).join(', ')}`);
    return undefined;
  }
  return { numerator: num(p, 'numerator', 0), denominator };
}

/** A RuntimeFractionalPercent; default_value is required, as Envoy validates it. */
export function parseRuntimeFraction(proto: Obj, problems: ProblemSink): RuntimeFractionConfig | undefined {
  rejectUnsupported(proto, ['default_value', 'runtime_key'], 'RuntimeFractionalPercent', problems);
  const dv = obj(proto['default_value']);
  if (!dv) {
    problems.add('default_value', 'default_value is required');
    return undefined;
  }
  const defaultValue = parseFractionalPercent(dv, problems.at('default_value'));
  return defaultValue && { defaultValue, runtimeKey: str(proto, 'runtime_key') };
}

/** True when this request falls in the fraction; `random` is a non-negative integer. */
export function runtimeFractionMatches(f: RuntimeFractionConfig, snapshot: RuntimeSnapshot, random: number): boolean {
  return snapshot.fractionEnabled(f.runtimeKey, f.defaultValue, random);
}
