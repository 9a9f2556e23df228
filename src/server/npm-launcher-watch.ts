/**
 * Started by npm (`npx courier`, `npm start`, an npm script), Courier stops with the npm
 * command that started it.
 *
 * Why: npm runs a command through `sh -c`, and on SIGTERM it forwards the signal to that shell
 * only. dash (Debian's and Ubuntu's /bin/sh) dies of it without passing it on, so Courier,
 * orphaned, kept serving and holding its ports: `kill <npx pid>`, or `docker stop` of a
 * container whose command is `npx courier`, left it running. Once npm is gone nothing will ever
 * stop it, so the launcher going away is taken as SIGTERM: drain, exit.
 *
 * "The launcher" is the chain of processes from Courier's parent up to npm itself: the
 * ancestors whose environment has npm_execpath (npm sets it for everything it runs; sh,
 * examples/run.mjs) and the first one without it (npm). The chain is gone when Courier is
 * reparented, or (on Linux, read from /proc) when one of those processes exits or is
 * reparented: npm killed with SIGKILL leaves its shell alive, but reparented.
 *
 * Only under npm (npm_execpath in Courier's own environment): elsewhere a parent exiting means
 * nothing, and `nohup courier … &` must outlive its shell. Node has no parent-death signal
 * (prctl PR_SET_PDEATHSIG), hence the poll; process.ppid is read from the system on each access.
 */
import { readFileSync } from 'node:fs';

export const NPM_LAUNCHER_POLL_MS = 500;
/** npm inside npm inside npm is plenty; the walk stops there whatever it finds. */
const MAX_CHAIN = 16;

/** A process's parent from /proc/<pid>/stat; undefined when it is gone (or a zombie) or /proc is not there. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return state === 'Z' || state === 'X' ? undefined : Number(ppid);
  } catch {
    return undefined;
  }
}

function runByNpm(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').some((v) => v.startsWith('npm_execpath='));
  } catch {
    return false;
  }
}

/** [pid, its parent] from Courier's parent up to and including npm; empty without /proc. */
function launcherChain(): Array<[number, number]> {
  const chain: Array<[number, number]> = [];
  let pid = process.ppid;
  while (chain.length < MAX_CHAIN && pid > 1) {
    const ppid = parentOf(pid);
    if (ppid === undefined) break;
    chain.push([pid, ppid]);
    if (!runByNpm(pid)) break; // npm itself
    pid = ppid;
  }
  return chain;
}

/** Calls `onGone` once when the npm launcher goes away; returns a function that stops watching. */
export function watchNpmLauncher(onGone: (parentPid: number) => void, env: NodeJS.ProcessEnv = process.env): () => void {
  if (!env['npm_execpath']) return () => {};
  const parent = process.ppid;
  const chain = launcherChain();
  const timer = setInterval(() => {
    if (process.ppid === parent && chain.every(([pid, ppid]) => parentOf(pid) === ppid)) return;
    clearInterval(timer);
    onGone(parent);
  }, NPM_LAUNCHER_POLL_MS);
  // The watch alone must not keep Courier alive.
  timer.unref();
  return () => clearInterval(timer);
}
