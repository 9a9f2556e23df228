/**
 * Processes of a running `courier` command, for tests that signal them by PID (Linux `ps`).
 */
import { execFileSync } from 'node:child_process';

/** The worker processes (node:cluster children) of Courier's main process. */
export function workerPids(mainPid: number): number[] {
  const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(mainPid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
}
