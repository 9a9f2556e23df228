/**
 * What data-plane code sees of the overload manager (Envoy's ThreadLocalOverloadState): the
 * state of each overload action on this worker, posted by main. WORKER only; reads are cheap.
 */
export interface OverloadView {
  /** The action's state in [0, 1]: 0 inactive, 1 saturated, between: scaled. 0 when not configured. */
  value(action: string): number;
  /** True with probability value(action) (Envoy sheds a scaled share of the load this way). */
  shouldShed(action: string): boolean;
}

/** The view of a server without overload_manager: nothing is ever shed. */
export const NO_OVERLOAD: OverloadView = { value: () => 0, shouldShed: () => false };
