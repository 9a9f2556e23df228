/**
 * Helpers of the fault suite (test/integration/faults-*.test.ts): the processes of a running
 * Courier read from /proc, upstreams that misbehave on a raw socket (no real server misbehaves
 * so on purpose: each is marked as such where used), steady well-behaved load that records
 * every failure, and "back to baseline" checks for gauges and file descriptors.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { eventually, sleep, type CourierHandle } from './courier-harness.js';
import { listen, type Peer } from './peers.js';

/** Children of `pid` (the worker processes of a `courier` main). */
export function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)]).toString().trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when there is none
  }
}

/** True while `pid` exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return false;
  try {
    const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return state !== undefined && state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Open file descriptors of `pid` (/proc/<pid>/fd). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The workers of a Courier started as a command, once all `n` are up. */
export async function workerPids(courier: CourierHandle, n: number): Promise<number[]> {
  return (await eventually(() => {
    const pids = childPids(courier.child!.pid!);
    return pids.length === n ? pids : undefined;
  }, `${n} worker processes`, 8000))!;
}

/** An upstream that accepts, reads everything and never answers. */
export const silentUpstream = (): Promise<Peer> => listen((s) => s.resume());

/** An upstream that answers the first bytes it reads with `bytes`, then closes. */
export const garbageUpstream = (bytes: string | Buffer): Promise<Peer> => listen((s) => s.once('data', () => s.end(bytes)));

/**
 * An upstream that answers the first bytes it reads with `prefix` (the start of a valid
 * answer), then resets the connection (RST) once that is written.
 */
export const resettingUpstream = (prefix: (request: Buffer) => Buffer): Promise<Peer> =>
  listen((s) => s.once('data', (d: Buffer) => s.write(prefix(d), () => s.resetAndDestroy())));

/** Repeats `call` on `loops` concurrent loops until stopped; counts successes, keeps failures. */
export class SteadyLoad {
  ok = 0;
  readonly failures: string[] = [];
  #stopped = false;
  readonly #loops: Array<Promise<void>>;

  constructor(loops: number, call: (loop: number) => Promise<void>) {
    this.#loops = Array.from({ length: loops }, async (_, i) => {
      while (!this.#stopped) {
        try {
          await call(i);
          this.ok++;
        } catch (e) {
          this.failures.push(String(e));
        }
      }
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
  }
}

/** Gauges by name from a stats map (absent = 0). */
export function pick(stats: Map<string, number>, names: readonly string[]): Record<string, number> {
  return Object.fromEntries(names.map((n) => [n, stats.get(n) ?? 0]));
}

export interface Baseline {
  gauges: Record<string, number>;
  /** Open fds per process (main and workers). */
  fds: Record<number, number>;
}

/** Gauges and fds once they hold still (two reads 100 ms apart agree: warm-up connections closed). */
export async function baseline(courier: CourierHandle, gauges: readonly string[], pids: readonly number[]): Promise<Baseline> {
  const read = async (): Promise<Baseline> => ({ gauges: pick(await courier.stats(), gauges), fds: Object.fromEntries(pids.map((p) => [p, fdCount(p)])) });
  let last = await read();
  return (await eventually(async () => {
    await sleep(100);
    const now = await read();
    const still = JSON.stringify(now) === JSON.stringify(last);
    last = now;
    return still ? now : undefined;
  }, 'gauges and fds to hold still'))!;
}

/**
 * Waits until every gauge is back at its baseline and every process holds as many fds as
 * then, less what pooled upstream connections of `pooled` clusters explain (a well-behaved
 * load may leave one more idle keep-alive connection in its own pool: that is not a leak,
 * and its fd shows in that cluster's upstream_cx_active).
 */
export async function backToBaseline(courier: CourierHandle, base: Baseline, pooled: readonly string[] = []): Promise<void> {
  let last = '';
  try {
    await eventually(
      async () => {
        const stats = await courier.stats();
        const now = pick(stats, Object.keys(base.gauges));
        const pooledDelta = pooled.reduce((sum, c) => sum + (stats.get(`cluster.${c}.upstream_cx_active`) ?? 0), 0) - pooled.reduce((sum, c) => sum + (base.gauges[`cluster.${c}.upstream_cx_active`] ?? 0), 0);
        const fds = Object.fromEntries(Object.keys(base.fds).map((p) => [p, fdCount(Number(p))]));
        const fdDelta = Object.keys(base.fds).reduce((sum, p) => sum + fds[p]! - base.fds[Number(p)]!, 0);
        const pooledNames = new Set(pooled.map((c) => `cluster.${c}.upstream_cx_active`));
        const gaugesOff = Object.keys(now).filter((n) => !pooledNames.has(n) && now[n] !== base.gauges[n]);
        last = `gauges ${JSON.stringify(now)} (baseline ${JSON.stringify(base.gauges)}); fds ${JSON.stringify(fds)} (baseline ${JSON.stringify(base.fds)}, pooled delta ${pooledDelta})`;
        return gaugesOff.length === 0 && fdDelta === pooledDelta && pooledDelta >= 0;
      },
      'gauges and fds back to baseline',
      5000,
    );
  } catch {
    throw new Error(`not back to baseline: ${last}`);
  }
}

/**
 * Runs `faulty` `times` at once while two loops call `good` without pause; then checks that no
 * good call failed and that gauges and fds are back where they were before.
 */
export async function beside(
  courier: CourierHandle,
  opts: { gauges: string[]; pooled: string[]; good: () => Promise<void>; faulty: () => Promise<void>; times?: number },
): Promise<void> {
  const pids = [courier.child!.pid!, ...(await workerPids(courier, 1))];
  // Warm the good route at the concurrency it will see, so its pool is at its size.
  await Promise.all([opts.good(), opts.good()]);
  const gauges = [...new Set([...opts.gauges, ...opts.pooled.map((c) => `cluster.${c}.upstream_cx_active`)])];
  const base = await baseline(courier, gauges, pids);
  const load = new SteadyLoad(2, () => opts.good());
  try {
    await Promise.all(Array.from({ length: opts.times ?? 4 }, () => opts.faulty()));
  } finally {
    await load.stop();
  }
  assert.deepEqual(load.failures, [], 'every well-behaved call succeeded');
  assert.ok(load.ok > 0, 'the good route was exercised');
  await backToBaseline(courier, base, opts.pooled);
}
