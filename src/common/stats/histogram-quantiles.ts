/**
 * Quantile estimation from bucket counts, for the admin's histogram summaries.
 *
 * Envoy computes quantiles from its fine-grained log-linear histograms; we only keep counts per
 * DEFAULT_HISTOGRAM_BUCKETS bucket, so the estimate interpolates linearly inside the bucket
 * holding the target rank: bucket i spans (bounds[i-1], bounds[i]] with bounds[-1] = 0.
 *   - P0 is the lower edge of the first non-empty bucket, P100 the upper edge of the last one.
 *   - The +Inf bucket has no upper edge: values there are reported as the last finite bound.
 *   - Estimates stay within the smallest and largest value recorded (kept exactly beside the
 *     buckets): P0 is the minimum, P100 the maximum, and a histogram of one sample reports that
 *     sample for every quantile instead of a spread invented across its bucket. (Envoy's own
 *     histograms have 2-significant-digit bins, so one sample of 12 prints 12 .. 13 there.)
 *     Snapshots without min/max fall back to capping at `sum` (values are never negative).
 *   - Estimates print without binary floating-point noise (0.30000000000000004 is 0.3).
 * An empty histogram yields NaN for every quantile.
 */

import { DEFAULT_HISTOGRAM_BUCKETS, type HistogramSnapshot } from '../../api/stats.js';
import { withoutFloatNoise } from './stats-select.js';

/** Quantiles the admin reports, as fractions (Envoy's supported_quantiles / 100). */
export const SUPPORTED_QUANTILES: readonly number[] = [
  0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1,
];

/** The same quantiles as percents, as printed: P0 P25 ... P99.5 P99.9 P100. */
export const SUPPORTED_QUANTILE_PERCENTS: readonly number[] = [
  0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100,
];

type BucketData = Pick<HistogramSnapshot, 'buckets' | 'sum' | 'min' | 'max'>;

/** Estimated value at quantile `q` (0..1); NaN when no value was recorded. */
export function histogramQuantile(
  h: BucketData,
  q: number,
  bounds: readonly number[] = DEFAULT_HISTOGRAM_BUCKETS,
): number {
  const counts = h.buckets;
  let total = 0;
  for (const c of counts) total += c;
  if (!(total > 0)) return NaN;
  const qq = q < 0 ? 0 : q > 1 ? 1 : q;
  const target = qq * total;
  const last = bounds.length > 0 ? bounds[bounds.length - 1]! : 0;

  let before = 0;
  let estimate = NaN;
  let lastUpper = NaN;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c <= 0) continue;
    const lower = i === 0 ? 0 : (bounds[i - 1] ?? last);
    const upper = i < bounds.length ? bounds[i]! : lower;
    lastUpper = upper;
    if (before + c >= target) {
      estimate = lower + ((target - before) / c) * (upper - lower);
      break;
    }
    before += c;
  }
  // Floating-point rounding can leave the target just above the total: take the top edge.
  if (Number.isNaN(estimate)) estimate = lastUpper;
  if (h.min !== undefined && estimate < h.min) estimate = h.min;
  if (h.max !== undefined && estimate > h.max) estimate = h.max;
  if (Number.isFinite(h.sum) && h.sum >= 0 && estimate > h.sum) estimate = h.sum;
  return withoutFloatNoise(estimate);
}

/** Estimates for each of `quantiles` (default: SUPPORTED_QUANTILES). */
export function computeQuantiles(
  h: BucketData,
  quantiles: readonly number[] = SUPPORTED_QUANTILES,
  bounds: readonly number[] = DEFAULT_HISTOGRAM_BUCKETS,
): number[] {
  return quantiles.map((q) => histogramQuantile(h, q, bounds));
}
