/**
 * The connection-level timeouts of one downstream HTTP/1 connection, on one timer (Envoy's
 * HCM keeps one timer each; a Node timer costs an allocation and a heap entry, so here they
 * share one, re-armed lazily):
 *
 * - the request head: from the first bytes of a head that did not come whole in one read
 *   until the head is complete, bounded by request_headers_timeout and by stream_idle_timeout
 *   (Envoy's stream, and its idle timer, start at the head's first byte, and an HTTP/1 head
 *   makes no "activity" until it is complete);
 * - idle (common_http_protocol_options.idle_timeout): no stream and no head under way;
 * - max_connection_duration: from the connection's start.
 *
 * Deadlines are performance.now() times. A head that arrives whole in one read (the common
 * case) costs no clock read and no timer work: headStarted() is called only when a read left
 * a partial head behind. The timer is re-created only when a deadline comes before the time
 * it is armed for; otherwise it re-checks when it fires (never early: it re-arms for what is
 * left).
 *
 * Worker-only; owned by one HttpConnectionManager.
 */

/** What the head phase ran out of. */
export type HeadTimeoutKind = 'request_headers_timeout' | 'stream_idle_timeout';

export interface ConnectionTimerLimits {
  /** request_headers_timeout in ms; 0 = none. */
  readonly requestHeadersTimeoutMs: number;
  /** stream_idle_timeout in ms; 0 = none. */
  readonly streamIdleTimeoutMs: number;
  /** common_http_protocol_options.idle_timeout in ms; 0 = none. */
  readonly idleTimeoutMs: number;
  /** common_http_protocol_options.max_connection_duration in ms; 0 = none. */
  readonly maxConnectionDurationMs: number;
}

export interface ConnectionTimerCallbacks {
  onHeadTimeout(kind: HeadTimeoutKind): void;
  onIdleTimeout(): void;
  onMaxConnectionDuration(): void;
}

const NONE = Number.POSITIVE_INFINITY;

export class ConnectionTimers {
  readonly #limits: ConnectionTimerLimits;
  readonly #cb: ConnectionTimerCallbacks;
  #timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires. */
  #fireAt = NONE;
  /** The head under way must be complete by then; NONE = no head under way (or no limit). */
  #headDeadline = NONE;
  #headKind: HeadTimeoutKind = 'request_headers_timeout';
  /** Since when the connection has had no stream and no head under way; NONE = busy. */
  #idleSince = NONE;
  #maxDurationDeadline = NONE;
  #stopped = false;

  constructor(limits: ConnectionTimerLimits, cb: ConnectionTimerCallbacks) {
    this.#limits = limits;
    this.#cb = cb;
  }

  /** The connection is open and has no stream yet. */
  start(now: number): void {
    const l = this.#limits;
    if (l.maxConnectionDurationMs > 0) {
      this.#maxDurationDeadline = now + l.maxConnectionDurationMs;
      this.#arm(this.#maxDurationDeadline, now);
    }
    this.streamsDone(now);
  }

  /** True while a partial head is being timed. */
  get headUnderWay(): boolean {
    return this.#headDeadline !== NONE;
  }

  /** A read left the first bytes of a request head, and no stream exists. */
  headStarted(now: number): void {
    this.#idleSince = NONE;
    if (this.#headDeadline !== NONE || this.#stopped) return;
    const { requestHeadersTimeoutMs: headers, streamIdleTimeoutMs: idle } = this.#limits;
    if (headers <= 0 && idle <= 0) return;
    const byHeaders = headers > 0 && (idle <= 0 || headers <= idle);
    this.#headKind = byHeaders ? 'request_headers_timeout' : 'stream_idle_timeout';
    this.#headDeadline = now + (byHeaders ? headers : idle);
    this.#arm(this.#headDeadline, now);
  }

  /** A request head is complete: a stream exists now (no clock read). */
  streamStarted(): void {
    this.#headDeadline = NONE;
    this.#idleSince = NONE;
  }

  /** The connection has no stream any more, since `now` (a time the caller has already read). */
  streamsDone(now: number): void {
    this.#headDeadline = NONE;
    const idle = this.#limits.idleTimeoutMs;
    if (idle <= 0 || this.#stopped) return;
    this.#idleSince = now;
    this.#arm(now + idle, now);
  }

  /** The connection closed: nothing fires any more. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(deadline: number, now: number): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined) {
      if (this.#fireAt <= deadline) return;
      clearTimeout(this.#timer);
    }
    this.#fireAt = deadline;
    this.#timer = setTimeout(this.#onTimer, Math.max(1, Math.ceil(deadline - now)));
  }

  #onTimer = (): void => {
    this.#timer = undefined;
    this.#fireAt = NONE;
    if (this.#stopped) return;
    const now = performance.now();
    if (now >= this.#headDeadline) {
      this.#headDeadline = NONE;
      this.#cb.onHeadTimeout(this.#headKind);
      if (this.#stopped) return;
    }
    const idleDeadline = this.#idleSince + this.#limits.idleTimeoutMs;
    if (this.#idleSince !== NONE && now >= idleDeadline) {
      this.#idleSince = NONE;
      this.#cb.onIdleTimeout();
      if (this.#stopped) return;
    }
    if (now >= this.#maxDurationDeadline) {
      this.#maxDurationDeadline = NONE;
      this.#cb.onMaxConnectionDuration();
      if (this.#stopped) return;
    }
    const next = Math.min(this.#headDeadline, this.#idleSince === NONE ? NONE : this.#idleSince + this.#limits.idleTimeoutMs, this.#maxDurationDeadline);
    if (next !== NONE) this.#arm(next, now);
  };
}
