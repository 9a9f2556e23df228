/**
 * Runtime: the plug-in surface (Envoy's envoy/runtime/runtime.h, reduced to what Courier
 * reads). Values come from the bootstrap's layered_runtime (static, disk, admin and RTDS
 * layers; src/common/runtime/). Main builds one immutable snapshot per change and posts it to
 * every worker; `snapshot()` returns the one current when it is called, so a filter that reads
 * it once per request sees one consistent set of values for that request.
 */

/** envoy.type.v3.FractionalPercent, with the denominator as its number (100, 10000, 1000000). */
export interface FractionalPercent {
  readonly numerator: number;
  readonly denominator: 100 | 10_000 | 1_000_000;
}

export interface RuntimeSnapshot {
  /**
   * The key's value as a non-negative integer (a number value, floored), or `defaultValue`
   * when the key is absent or not a non-negative number.
   */
  getInteger(key: string, defaultValue: number): number;
  /** The key's value as a double, or `defaultValue`. */
  getDouble(key: string, defaultValue: number): number;
  /** The key's value as a boolean (true/false, or an integer: 0 is false), or `defaultValue`. */
  getBoolean(key: string, defaultValue: boolean): boolean;
  /** The key's raw string, or undefined when absent. */
  get(key: string): string | undefined;
  /**
   * Envoy's featureEnabled(key, FractionalPercent, random): the key's fraction (a
   * FractionalPercent value, or an integer read as a percentage; above 100 always true), or
   * `defaultValue` when the key is absent or '' ; true when `randomValue % denominator <
   * numerator`. `randomValue` is a non-negative integer.
   */
  fractionEnabled(key: string, defaultValue: FractionalPercent, randomValue: number): boolean;
  /**
   * Envoy's featureEnabled(key, default, random, buckets): `randomValue % buckets <
   * min(getInteger(key, defaultValue), buckets)`.
   */
  featureEnabled(key: string, defaultValue: number, randomValue: number, buckets?: number): boolean;
}

/** The current snapshot of a process (WORKER: the last one main posted). */
export interface RuntimeLoader {
  snapshot(): RuntimeSnapshot;
}

/** A uniformly random non-negative integer below 2^32, for fractionEnabled/featureEnabled. */
export function randomRuntimeValue(): number {
  return Math.floor(Math.random() * 0x1_0000_0000);
}
