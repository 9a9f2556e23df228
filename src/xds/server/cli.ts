/**
 * `courier xds-server --dir DIR --port N [--host 127.0.0.1]`: a management server for users
 * and tests. Serves every resource in DIR's YAML/JSON files over ADS and the per-type SotW
 * services, pushes changes when files change, and logs each request, ACK, NACK (with its
 * error_detail) and response to stderr, one line each. Once listening it prints
 * `xds-server listening on HOST:PORT` on stdout (so `--port 0` can be used). SIGTERM/SIGINT stop it.
 */
import { formatAddress } from '../../config/address.js';
import { watchNpmLauncher } from '../../server/npm-launcher-watch.js';
import { startXdsServer } from './xds-server.js';

const HELP = `USAGE: courier xds-server --dir DIR --port N [--host ADDR]

  --dir DIR     directory of YAML/JSON files; each holds a list of resources with "@type",
                {resources: [...]} (a DiscoveryResponse), or one resource with "@type"
  --port N      port to listen on (0: any free port; the chosen one is printed)
  --host ADDR   address to listen on (default 127.0.0.1)
  -h, --help    print this help
`;

export async function xdsServerMain(argv: readonly string[]): Promise<void> {
  let dir: string | undefined;
  let port: number | undefined;
  let host = '127.0.0.1';
  const fail = (message: string, usage = true): never => {
    process.stderr.write(`courier xds-server: ${message}${usage ? ' (see --help)' : ''}\n`);
    process.exit(1);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (arg.startsWith('--') && eq > 0) return arg.slice(eq + 1);
      const v = argv[++i];
      return v === undefined ? fail(`${flag} needs a value`) : v;
    };
    switch (flag) {
      case '-h':
      case '--help':
        process.stdout.write(HELP);
        return;
      case '--dir':
        dir = value();
        break;
      case '--port': {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) > 65535) fail(`--port must be an integer 0..65535, got "${v}"`);
        port = Number(v);
        break;
      }
      case '--host':
        host = value();
        break;
      default:
        fail(`unknown argument "${arg}"`);
    }
  }
  if (dir === undefined) fail('--dir is required');
  if (port === undefined) fail('--port is required');
  const log = (line: string): void => {
    process.stderr.write(`[${new Date().toISOString()}][xds-server] ${line}\n`);
  };
  let server;
  try {
    server = await startXdsServer({ dir, port: port!, host, log });
  } catch (e) {
    fail((e as Error).message, false);
    return;
  }
  process.stdout.write(`xds-server listening on ${formatAddress(server.host, server.port)}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      void server.stop().then(resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    // Under npx, npm's SIGTERM stops at the shell between it and us (see npm-launcher-watch.ts).
    watchNpmLauncher(stop);
  });
  process.exit(0);
}
