/**
 * Entry of a worker process (node:cluster). Talks to main over the IPC channel.
 *
 * Signal handlers are installed before anything else is loaded (the modules below are
 * imported afterwards, on purpose): until a process has a SIGUSR1 handler, Node answers
 * SIGUSR1 by opening its inspector, which lets any local user run code in the proxy.
 */
import type { Channel, MainToWorker, WorkerToMain } from '../server/worker-protocol.js';
import type { Worker as WorkerType } from './worker.js';

let worker: WorkerType | undefined;
// SIGUSR1 (log rotation, Envoy's): this worker's access logs reopen their files. Main
// forwards its own SIGUSR1 to every worker; this covers a signal sent to a worker's pid.
process.on('SIGUSR1', () => worker?.reopenAccessLogs());
// SIGHUP is ignored, as Envoy does (main logs it); without a handler it would kill the worker.
process.on('SIGHUP', () => {});
// SIGTERM/SIGINT go to the whole process group; main decides how workers stop.
process.on('SIGTERM', () => {});
process.on('SIGINT', () => {});
// Main gone: nobody will drain us.
process.on('disconnect', () => process.exit(0));

const { networkFilterRegistry } = await import('../extensions/all.js');
const { setProcessRole } = await import('../common/log-registry.js');
const { Worker } = await import('./worker.js');

setProcessRole(`worker ${process.env['COURIER_WORKER_ID'] ?? '?'}`);

const channel: Channel<MainToWorker, WorkerToMain> = {
  send: (m) => {
    if (process.connected) process.send!(m);
  },
  onMessage: (h) => process.on('message', (m) => h(m as MainToWorker)),
};

worker = new Worker(channel, networkFilterRegistry(), () => {
  // Let the 'stopped' message reach main before exiting.
  setImmediate(() => process.disconnect());
});
