#!/usr/bin/env node
// The package's executable: runs the compiled CLI (npm run build writes dist/).
// First of all, before the CLI loads: without a SIGUSR1 handler, Node opens its inspector on
// SIGUSR1 (a debugger port any local user could run code through). Envoy reopens its logs on
// SIGUSR1; Courier's handlers (src/server/signals.ts) do that once the server runs. SIGHUP is
// ignored meanwhile, as it is later.
process.on('SIGUSR1', () => {});
process.on('SIGHUP', () => {});
import('../dist/src/main.js').then(
  (m) => m.main(process.argv.slice(2)),
  (err) => {
    // A clean clone or an interrupted build: say what to run rather than print a stack.
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('/dist/src/main.js')) {
      process.stderr.write('courier: the compiled code (dist/) is missing: run `npm run build` in the Courier directory first\n');
      process.exit(1);
    }
    throw err;
  },
);
