/**
 * Wires an OverloadManager to the worker pool (MAIN): the `overload` slot out, heap reports
 * and connection-limit requests in. Kept apart so server.ts only calls it.
 */
import type { StatsScope } from '../../api/stats.js';
import type { OverloadConfig } from '../../config/overload-config.js';
import type { WorkerToMain } from '../worker-protocol.js';
import type { WorkerPool } from '../worker-pool.js';
import { OverloadManager } from './overload-manager.js';

/** Starts the overload manager of `config` (before the workers start, so they get its slot first). */
export function attachOverloadManager(
  config: OverloadConfig,
  stats: StatsScope,
  workers: WorkerPool,
  workerCount: number,
  log: (level: 'info' | 'debug', message: string) => void,
): OverloadManager {
  const manager = new OverloadManager({ config, stats, workerCount, log, publish: (slot) => workers.publish('overload', slot) });
  workers.on('overload', (workerId: number, m: WorkerToMain) => {
    switch (m.t) {
      case 'overload_heap':
        manager.onWorkerHeap(workerId, m.bytes);
        return;
      case 'cx_acquire':
        workers.sendTo(workerId, { t: 'cx_grant', seq: m.seq, ok: manager.connections?.tryAcquire(workerId) ?? true });
        return;
      case 'cx_release':
        manager.connections?.release(workerId, m.count);
        return;
    }
  });
  workers.on('worker-exit', (workerId: number) => manager.workerExited(workerId));
  manager.start();
  return manager;
}
