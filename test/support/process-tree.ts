/**
 * Every process a command started, found even after it was reparented: the command runs with a
 * unique marker in its environment, which all its descendants (npm, sh, Courier's main, its
 * workers, a backend) inherit, and /proc/<pid>/environ is searched for it. A process tree
 * walked from the command's pid would miss exactly the orphans these tests look for.
 */
import { spawn, execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { eventually } from './courier-harness.js';
import { isRunning } from './faults.js';

export const MARK_VARIABLE = 'COURIER_TEST_PROCESS_MARK';

export interface MarkedProcess {
  pid: number;
  /** The command line, for messages. */
  args: string;
}

/** Live processes carrying `mark` in their environment. */
export function markedProcesses(mark: string): MarkedProcess[] {
  const needle = `${MARK_VARIABLE}=${mark}\0`;
  const found: MarkedProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').includes(needle) || !isRunning(pid)) continue;
      found.push({ pid, args: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

export interface MarkedCommand {
  readonly child: ChildProcess;
  readonly mark: string;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with [exit code, signal]. */
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;
  /** Waits until the output matches `pattern` (rejects if the command exits first or after timeoutMs). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Its processes still alive. */
  processes(): MarkedProcess[];
  /** Resolves once none of its processes is alive; rejects naming them after `timeoutMs`. */
  allGone(timeoutMs?: number): Promise<void>;
  /** SIGKILLs whatever of it is still alive (test clean-up). */
  killAll(): void;
}

/** Spawns `command` with a fresh marker; stdio piped. */
export function spawnMarked(command: string, args: readonly string[], opts: SpawnOptions = {}): MarkedCommand {
  const mark = randomUUID();
  const child = spawn(command, args, { ...opts, env: { ...(opts.env ?? process.env), [MARK_VARIABLE]: mark }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
  const processes = (): MarkedProcess[] => markedProcesses(mark);
  return {
    child,
    mark,
    output: () => output,
    exited,
    processes,
    waitFor: async (pattern, timeoutMs = 60_000) => {
      await eventually(
        () => {
          if (pattern.test(output)) return true;
          if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${command} exited before printing ${pattern}:\n${output}`);
          return false;
        },
        `${command} ${args.join(' ')} printed ${pattern}`,
        timeoutMs,
      );
    },
    allGone: async (timeoutMs = 10_000) => {
      try {
        await eventually(() => processes().length === 0, 'every process of the command exited', timeoutMs);
      } catch {
        throw new Error(`still running after ${timeoutMs} ms:\n${processes().map((p) => `  ${p.pid} ${p.args}`).join('\n')}\noutput:\n${output}`);
      }
    },
    killAll: () => {
      for (const p of processes()) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // Exited meanwhile.
        }
      }
    },
  };
}

/** True when nothing listens on TCP `port` (read from the kernel's table: a connect to a free port can connect to itself). */
export function portFree(port: number): boolean {
  return execFileSync('ss', ['-Htln', `sport = :${port}`]).toString().trim() === '';
}
