/**
 * The `courier` command. Flags are Envoy's: -c/--config-path, --config-yaml, --concurrency,
 * --mode serve|validate, --drain-time-s, -l/--log-level, --help, --version.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { LOG_LEVELS, Logger, type LogLevel } from './common/logger.js';
import { ConfigError } from './config/config-error.js';
import { networkFilterRegistry } from './extensions/all.js';
import { Server, type ServerOptions } from './server/server.js';
import { installSignalHandlers } from './server/signals.js';
import { watchNpmLauncher } from './server/npm-launcher-watch.js';
import { keepServingOnUncaughtErrors } from './server/uncaught-errors.js';
import { checkXdsFiles } from './server/xds-file-check.js';
import { VERSION } from './version.js';

const HELP = `USAGE: courier [options]
       courier xds-server --dir DIR --port N [--host ADDR]   (an xDS management server; --help)

  -c, --config-path FILE     Envoy v3 bootstrap (YAML or JSON)
      --config-yaml YAML     bootstrap given inline; with --config-path, merged over
                             the file (scalars replace, lists append, as Envoy)
      --concurrency N        worker processes (default: number of cores, ${os.availableParallelism()})
      --mode serve|validate  validate checks the config and exits 0 (valid) or 1 (invalid)
      --admin-address-path F write the admin address (host:port) to F once listening
      --drain-time-s N       on SIGTERM or /quitquitquit, how long open connections may
                             finish before they are closed (default 600)
  -l, --log-level LEVEL      ${LOG_LEVELS.filter((l) => l !== 'warn').join('|')} (default info)
      --version              print the version and exit
  -h, --help                 print this help and exit
`;

interface Cli {
  configPath?: string;
  configYaml?: string;
  concurrency: number;
  mode: 'serve' | 'validate';
  drainTimeS: number;
  logLevel: LogLevel;
  adminAddressPath?: string;
}

class UsageError extends Error {}

function parseArgs(argv: string[]): Cli | 'help' | 'version' {
  const cli: Cli = { concurrency: os.availableParallelism(), mode: 'serve', drainTimeS: 600, logLevel: 'info' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (arg.startsWith('--') && eq > 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const integer = (min: number): number => {
      const v = value();
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < min) throw new UsageError(`${flag} must be an integer ≥ ${min}, got "${v}"`);
      return n;
    };
    switch (flag) {
      case '-h':
      case '--help':
        return 'help';
      case '--version':
        return 'version';
      case '-c':
      case '--config-path':
        cli.configPath = value();
        break;
      case '--config-yaml':
        cli.configYaml = value();
        break;
      case '--concurrency':
        cli.concurrency = integer(1);
        break;
      case '--mode': {
        const m = value();
        if (m !== 'serve' && m !== 'validate') throw new UsageError(`--mode must be serve or validate, got "${m}"`);
        cli.mode = m;
        break;
      }
      case '--admin-address-path':
        cli.adminAddressPath = value();
        break;
      case '--drain-time-s':
        cli.drainTimeS = integer(0);
        break;
      case '-l':
      case '--log-level': {
        const l = value();
        if (!(LOG_LEVELS as readonly string[]).includes(l)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
        cli.logLevel = l as LogLevel;
        break;
      }
      default:
        throw new UsageError(`unknown argument "${arg}" (see --help)`);
    }
  }
  if (!cli.configPath && cli.configYaml === undefined) throw new UsageError('no config given: use -c/--config-path FILE (see --help)');
  return cli;
}

export async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'xds-server') {
    const { xdsServerMain } = await import('./xds/server/cli.js');
    return xdsServerMain(argv.slice(1));
  }
  let cli: Cli | 'help' | 'version';
  try {
    cli = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`courier: ${e.message}\n`);
    process.exit(1);
  }
  if (cli === 'help') {
    process.stdout.write(HELP);
    return;
  }
  if (cli === 'version') {
    process.stdout.write(`courier version ${VERSION} (node ${process.version})\n`);
    return;
  }
  const opts: ServerOptions = {
    concurrency: cli.concurrency,
    drainTimeS: cli.drainTimeS,
    logLevel: cli.logLevel,
    commandLine: {
      config_path: cli.configPath ?? '',
      concurrency: cli.concurrency,
      mode: cli.mode === 'serve' ? 'Serve' : 'Validate',
      drain_time: `${cli.drainTimeS}s`,
      log_level: cli.logLevel,
    },
  };
  if (cli.adminAddressPath) {
    const addressPath = cli.adminAddressPath;
    // Written as soon as admin listens, before start-up waits for xDS (admin answers then).
    opts.onAdminListening = (host, port) => writeFileSync(addressPath, `${host.includes(':') ? `[${host}]` : host}:${port}\n`);
  }
  if (cli.configPath) {
    opts.configPath = cli.configPath;
    if (cli.configYaml !== undefined) opts.configOverlayYaml = cli.configYaml;
  } else {
    opts.configText = cli.configYaml!;
    opts.configName = '--config-yaml';
  }
  if (cli.mode === 'validate') {
    try {
      const bootstrap = Server.load({ ...opts, validateOnly: true });
      for (const w of bootstrap.warnings) process.stderr.write(`warning: ${w}\n`);
      await Server.prepare(bootstrap);
      // The xDS files it names (LDS, CDS, EDS, RDS by path) are checked too, when present.
      const files = checkXdsFiles(bootstrap.config, networkFilterRegistry());
      for (const w of files.warnings) process.stderr.write(`warning: ${w}\n`);
      if (files.problems.length > 0) {
        process.stderr.write(`${files.problems.join('\n')}\n`);
        process.exit(1);
      }
      process.stdout.write(`configuration '${cli.configPath ?? '--config-yaml'}' OK\n`);
      for (const f of files.checked) process.stdout.write(`xDS file '${f}' OK\n`);
      for (const f of files.missing) process.stdout.write(`xDS file '${f}' not found (not checked; read when it appears)\n`);
      process.exit(0);
    } catch (e) {
      process.stderr.write(`${e instanceof ConfigError ? e.message : String(e)}\n`);
      process.exit(1);
    }
  }
  let server: Server | undefined;
  // Under npm, the npm command's end is Courier's SIGTERM (see npm-launcher-watch.ts).
  watchNpmLauncher((parent) => {
    new Logger(cli.logLevel, 'main').warn(`the npm command that started Courier has exited (launched by process ${parent}): stopping as on SIGTERM`);
    if (server) void server.shutdown();
    else process.exit(1);
  });
  try {
    server = await Server.create(opts);
    // Before start-up waits for xDS: SIGTERM then drains what has started and exits.
    installSignalHandlers(server);
    // run() may never settle once a shutdown cut start-up short; stopped does. (A failure of
    // run() after that is moot: marked handled so that it cannot end the drain.)
    const running = server.run();
    running.catch(() => undefined);
    await Promise.race([running, server.stopped]);
  } catch (e) {
    process.stderr.write(`courier: ${e instanceof ConfigError ? `invalid configuration:\n${e.message}` : (e as Error).message}\n`);
    process.exit(1);
  }
  // From here on a bug that escapes on main is logged and counted, not fatal (start-up
  // failures above still exit 1).
  keepServingOnUncaughtErrors(server);
  await server.stopped;
  process.exit(0);
}
