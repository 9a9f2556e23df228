/**
 * Trigger arithmetic of Envoy's overload manager, as pure functions (MAIN). An action's state
 * is the largest value of its triggers:
 * - threshold: 1 when pressure ≥ value, else 0;
 * - scaled: 0 below scaling_threshold, 1 at or above saturation_threshold, and
 *   (pressure − scaling) / (saturation − scaling) between.
 */
import type { OverloadTrigger } from '../../config/overload-config.js';

export function triggerValue(trigger: OverloadTrigger, pressure: number): number {
  if (trigger.kind === 'threshold') return pressure >= trigger.value ? 1 : 0;
  if (pressure < trigger.scalingThreshold) return 0;
  if (pressure >= trigger.saturationThreshold) return 1;
  return (pressure - trigger.scalingThreshold) / (trigger.saturationThreshold - trigger.scalingThreshold);
}

/** The action's state from its triggers and the latest pressure of each monitor (a monitor without a reading counts as 0). */
export function actionValue(triggers: readonly OverloadTrigger[], pressures: ReadonlyMap<string, number>): number {
  return triggers.reduce((max, t) => Math.max(max, triggerValue(t, pressures.get(t.monitor) ?? 0)), 0);
}
