/**
 * The main process's signals, as Envoy handles them:
 *
 *   SIGTERM, SIGINT  drain and stop (Server.shutdown; --drain-time-s)
 *   SIGHUP           ignored, with a log line (Courier, as Envoy, does not reload on SIGHUP)
 *   SIGUSR1          reopen every access log file, on every worker (log rotation)
 *
 * Any SIGUSR1 handler also keeps Node from opening its inspector on SIGUSR1 (a debugger port
 * through which any local user could run code in the proxy). bin/courier.js installs a
 * placeholder before anything loads, and worker-main.ts its own, so there is no window.
 */
import { logger } from '../common/log-registry.js';

export interface SignalTarget {
  shutdown(): Promise<void>;
  reopenAccessLogs(): void;
}

export function installSignalHandlers(server: SignalTarget): void {
  const log = logger('main');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      log.info(`caught ${signal}: draining`);
      void server.shutdown();
    });
  }
  process.on('SIGHUP', () => log.info('caught and eating SIGHUP: Courier does not reload its configuration on SIGHUP (use xDS; see docs/operations.md)'));
  process.on('SIGUSR1', () => {
    log.info('caught SIGUSR1: reopening access logs');
    server.reopenAccessLogs();
  });
}
