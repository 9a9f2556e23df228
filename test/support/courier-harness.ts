/**
 * Starts Courier for a test: in this process (Server with an in-process worker: the same code
 * paths, easy to debug) or as the real `courier` command with worker processes. Either way
 * the test talks to it over real loopback sockets and reads its admin endpoints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server } from '../../src/server/server.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const COURIER_BIN = path.join(REPO_ROOT, 'bin', 'courier.js');

export interface CourierHandle {
  readonly adminPort: number;
  /** Port of a listener by name (bound port when configured with 0). */
  listenerPort(name: string): Promise<number>;
  admin(pathAndQuery: string, method?: string): Promise<{ status: number; body: string }>;
  /** Counters and gauges by full name, from /stats?format=json. */
  stats(): Promise<Map<string, number>>;
  stat(name: string): Promise<number>;
  stop(): Promise<void>;
  /** The child process, when started as a command. */
  readonly child?: ChildProcess;
  /** stderr collected so far (command mode). */
  output(): string;
}

export interface StartOptions {
  /** Run the real command with N worker processes; default: in-process. */
  processes?: number;
  drainTimeS?: number;
  /** Command mode: start it under `ulimit -n` of this many file descriptors. */
  fdLimit?: number;
  /** Command mode: options for node itself, before the script (e.g. --inspect-port=N). */
  nodeArgs?: string[];
  /** Command mode: -l (default warning). */
  logLevel?: string;
  /**
   * Command mode: wait until /ready says LIVE (default). false: return as soon as admin
   * answers (it does from the start, while start-up waits for xDS).
   */
  waitLive?: boolean;
}

export function tmpDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'courier-test-'));
}

export function httpRequest(port: number, pathAndQuery: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathAndQuery, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function handleFor(adminPort: number, stop: () => Promise<void>, output: () => string, child?: ChildProcess): CourierHandle {
  const admin = (p: string, method = 'GET') => httpRequest(adminPort, p, method);
  const stats = async (): Promise<Map<string, number>> => {
    const { body } = await admin('/stats?format=json');
    const parsed = JSON.parse(body) as { stats: Array<{ name?: string; value?: number }> };
    const out = new Map<string, number>();
    for (const s of parsed.stats) if (s.name !== undefined && typeof s.value === 'number') out.set(s.name, s.value);
    return out;
  };
  return {
    adminPort,
    child,
    output,
    admin,
    stats,
    stat: async (name) => (await stats()).get(name) ?? 0,
    listenerPort: async (name) => {
      const { body } = await admin('/listeners?format=json');
      const parsed = JSON.parse(body) as { listener_statuses: Array<{ name: string; local_address: { socket_address: { port_value: number } } }> };
      const entry = parsed.listener_statuses.find((l) => l.name === name);
      if (!entry) throw new Error(`no listener ${name}`);
      return entry.local_address.socket_address.port_value;
    },
    stop,
  };
}

export async function startCourier(yaml: string, opts: StartOptions = {}): Promise<CourierHandle> {
  if (!opts.processes) {
    const server = await Server.start({
      configText: yaml,
      configName: 'test.yaml',
      concurrency: 1,
      inProcess: true,
      drainTimeS: opts.drainTimeS ?? 1,
      logLevel: 'error',
    });
    if (server.adminPort === undefined) throw new Error('test configs need an admin address');
    return handleFor(server.adminPort, () => server.shutdown(), () => '');
  }
  const dir = tmpDir();
  const configPath = path.join(dir, 'courier.yaml');
  const addressPath = path.join(dir, 'admin-address');
  writeFileSync(configPath, yaml);
  const args = [...(opts.nodeArgs ?? []), COURIER_BIN, '-c', configPath, '--concurrency', String(opts.processes), '--drain-time-s', String(opts.drainTimeS ?? 1), '--admin-address-path', addressPath, '-l', opts.logLevel ?? 'warning'];
  const child =
    opts.fdLimit === undefined
      ? spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      : // The shell sets the limit, then becomes node (exec), so the child's pid is Courier's main.
        spawn('sh', ['-c', `ulimit -n ${opts.fdLimit} && exec "$0" "$@"`, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  // 'close' (every line written has been read), or 2 s after 'exit' should a process that
  // shares the pipes (a worker) outlive main.
  const exited = new Promise<number | null>((resolve) => {
    child.on('close', (code) => resolve(code));
    child.on('exit', (code) => setTimeout(() => resolve(code), 2000).unref());
  });
  const deadline = Date.now() + 15000;
  while (!existsSync(addressPath) || readFileSync(addressPath, 'utf8').trim() === '') {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`courier did not start:\n${output}`);
    await sleep(25);
  }
  const adminPort = Number(readFileSync(addressPath, 'utf8').trim().split(':').pop());
  // Admin listens before start-up waits for xDS; listeners are bound once it is LIVE.
  while (opts.waitLive !== false && (await httpRequest(adminPort, '/ready').catch(() => ({ status: 0 }))).status !== 200) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`courier did not start: admin answered, never LIVE:\n${output}`);
    await sleep(25);
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`courier exited with ${code}:\n${output}`);
  };
  return handleFor(adminPort, stop, () => output, child);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a truthy value or the time runs out (then throws with `what`). */
export async function eventually<T>(check: () => Promise<T> | T, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
    await sleep(20);
  }
}
