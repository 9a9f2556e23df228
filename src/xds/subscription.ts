/**
 * xDS subscriptions: the interface every transport implements (gRPC SotW per type, ADS,
 * watched file), after Envoy's envoy/config/subscription.h. MAIN process only: every method
 * is called on main, and every callback runs on main, never re-entrantly from inside a
 * subscription method (deliveries are always asynchronous).
 *
 * Life: `start(names)` once → any number of `updateResourceNames(names)` → `stop()` once
 * (idempotent). After `stop()` no callback runs. A subscription owns its timers and, for a
 * per-type gRPC or file subscription, its stream or watcher; an ADS subscription shares its
 * stream with the other subscriptions of the same ADS mux.
 */
import type { DecodedResource } from './resource-decoder.js';

export type { DecodedResource } from './resource-decoder.js';

/** The caller's verdict on an update: keep it (ACK) or refuse it (NACK with `reject` as the message). */
export type UpdateVerdict = 'accept' | { readonly reject: string };

/**
 * Why an update did not arrive or did not apply:
 * - `connection`: the stream failed. The subscription retries by itself; this does not end
 *   the initial fetch (as in Envoy, only the initial_fetch_timeout does). Informational.
 * - `fetch_timeout`: initial_fetch_timeout passed without a first update. Called at most once;
 *   the subscription keeps waiting, an update may still come.
 * - `rejected`: an update was refused, either because it did not decode (every problem with
 *   its field path is in `error`) or because onConfigUpdate returned `{reject}`, or a watched
 *   file could not be read (Envoy's UpdateRejected). The last accepted state is still the
 *   current one.
 */
export type ConfigUpdateFailureReason = 'connection' | 'fetch_timeout' | 'rejected';

export interface SubscriptionCallbacks {
  /**
   * A decoded, checked update. SotW semantics: `resources` is the whole current state of the
   * subscribed names that the response carried (all of the response for a wildcard
   * subscription). A response that carries none of a named subscription's names is not
   * delivered; a file subscription delivers [] then (counted in update_empty).
   * `versionInfo` is the response's version_info. Each resource carries a stable `hash`:
   * equal to the previous one ⇒ identical content, skip the reload.
   *
   * Return 'accept' (the subscription ACKs) or {reject: message} (it NACKs with the previous
   * accepted version and `message` as error_detail, and calls onConfigUpdateFailed('rejected')).
   * Must not throw; a thrown error is treated as {reject: error.message}.
   */
  onConfigUpdate(resources: DecodedResource[], versionInfo: string): UpdateVerdict;
  /** See ConfigUpdateFailureReason. `error` explains `rejected` and `connection`. */
  onConfigUpdateFailed(reason: ConfigUpdateFailureReason, error?: string): void;
}

export interface XdsSubscription {
  /** Type URL this subscription watches. */
  readonly typeUrl: string;
  /**
   * Starts watching `resourceNames`. An empty list is a wildcard for types whose SotW
   * responses carry the full set (LDS, CDS) and "nothing yet" for the others. Once.
   */
  start(resourceNames: readonly string[]): void;
  /** Replaces the watched names; the server is told at once (same version, last nonce). */
  updateResourceNames(resourceNames: readonly string[]): void;
  /** Stops: no more callbacks, timers cleared, the stream or watcher released. Idempotent. */
  stop(): void;
}
