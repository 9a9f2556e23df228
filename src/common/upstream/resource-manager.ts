/**
 * Circuit breaker accounting for one cluster on one worker.
 *
 * Envoy's limits are shared by all worker threads; Courier's workers are processes, so each
 * worker enforces its share: the configured limit divided by the worker count, rounded up.
 * With --concurrency 1 the limit is exact.
 */
import type { CircuitBreakerConfig } from '../../config/server-config.js';

export class ResourceLimit {
  readonly max: number;
  count = 0;
  constructor(max: number) {
    this.max = max;
  }
  canCreate(): boolean {
    return this.count < this.max;
  }
  inc(): void {
    this.count++;
  }
  dec(): void {
    if (this.count > 0) this.count--;
  }
}

export class ResourceManager {
  readonly connections: ResourceLimit;
  readonly pendingRequests: ResourceLimit;
  readonly requests: ResourceLimit;
  readonly retries: ResourceLimit;
  constructor(limits: CircuitBreakerConfig, workerCount: number) {
    const share = (n: number): number => (n === 0 ? 0 : Math.ceil(n / Math.max(1, workerCount)));
    this.connections = new ResourceLimit(share(limits.maxConnections));
    this.pendingRequests = new ResourceLimit(share(limits.maxPendingRequests));
    this.requests = new ResourceLimit(share(limits.maxRequests));
    this.retries = new ResourceLimit(share(limits.maxRetries));
  }
}
