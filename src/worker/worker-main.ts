/**
 * Entry of a worker process (node:cluster). Talks to main over the IPC channel.
 */
import { networkFilterRegistry } from '../extensions/all.js';
import type { Channel, MainToWorker, WorkerToMain } from '../server/worker-protocol.js';
import { Worker } from './worker.js';

const channel: Channel<MainToWorker, WorkerToMain> = {
  send: (m) => {
    if (process.connected) process.send!(m);
  },
  onMessage: (h) => process.on('message', (m) => h(m as MainToWorker)),
};

// SIGTERM/SIGINT go to the whole process group; main decides how workers stop.
process.on('SIGTERM', () => {});
process.on('SIGINT', () => {});
// Main gone: nobody will drain us.
process.on('disconnect', () => process.exit(0));

new Worker(channel, networkFilterRegistry(), () => {
  // Let the 'stopped' message reach main before exiting.
  setImmediate(() => process.disconnect());
});
