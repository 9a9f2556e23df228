/**
 * Keeps the main process serving through a bug. MAIN process, installed once the server is
 * LIVE.
 *
 * Node's default for an uncaught exception or an unhandled promise rejection is to exit; on
 * main that takes every worker (and so every connection) down with it. Envoy's answer to a bug
 * it detects in a release build is ENVOY_BUG: log it, count it (`server.envoy_bug_failures`),
 * keep serving. Courier does the same for anything that escapes on main: the error is logged
 * with its stack at `critical` and counted in `server.uncaught_errors`.
 *
 * Before the server is LIVE nothing is installed: a failure to load the config, prepare a
 * filter or bind a listener still ends start-up with exit code 1, as today (those are awaited
 * and reported by main.ts); so does a worker's own crash, which the WorkerPool answers by
 * restarting that worker (`server.worker_restarts`).
 */
import type { Logger } from '../common/logger.js';
import type { StatsStore } from '../common/stats/stats-store.js';

/** Counter of uncaught exceptions and unhandled rejections on main (Envoy-style name). */
export const UNCAUGHT_ERRORS_STAT = 'server.uncaught_errors';

export interface UncaughtErrorSink {
  readonly stats: StatsStore;
  readonly log: Logger;
}

/** Installs the process-wide handlers; returns a function that removes them. */
export function keepServingOnUncaughtErrors(sink: UncaughtErrorSink): () => void {
  const counter = sink.stats.counter(UNCAUGHT_ERRORS_STAT);
  const record = (kind: string, error: unknown): void => {
    counter.inc();
    const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : `non-error value: ${String(error)}`;
    sink.log.log('critical', `${kind} on main (counted in ${UNCAUGHT_ERRORS_STAT}; still serving): ${text}`);
  };
  const onException = (error: Error): void => record('uncaught exception', error);
  const onRejection = (reason: unknown): void => record('unhandled promise rejection', reason);
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.removeListener('uncaughtException', onException);
    process.removeListener('unhandledRejection', onRejection);
  };
}
