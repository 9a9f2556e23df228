/**
 * Started by npm (`npx courier`, `npm start`, an npm script), Courier stops with the npm
 * command that started it.
 *
 * Why: npm runs a command through `sh -c`, and on SIGTERM it forwards the signal to that shell
 * only. dash (Debian's and Ubuntu's /bin/sh) dies of it without passing it on, so Courier,
 * orphaned, kept serving and holding its ports: `kill <npx pid>`, or `docker stop` of a
 * container whose command is `npx courier`, left it running. Once npm is gone nothing will ever
 * stop it, so a parent that goes away (Courier is reparented) is taken as SIGTERM: drain, exit.
 *
 * Only under npm (npm_execpath in the environment, which npm sets for everything it runs):
 * elsewhere a parent exiting means nothing, and `nohup courier … &` must outlive its shell.
 * Node has no parent-death signal (prctl PR_SET_PDEATHSIG), hence the poll; process.ppid is
 * read from the system on each access.
 */

export const NPM_LAUNCHER_POLL_MS = 500;

/** Calls `onGone` once when the parent process goes away; returns a function that stops watching. */
export function watchNpmLauncher(onGone: (parentPid: number) => void, env: NodeJS.ProcessEnv = process.env): () => void {
  if (!env['npm_execpath']) return () => {};
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone(parent);
  }, NPM_LAUNCHER_POLL_MS);
  // The watch alone must not keep Courier alive.
  timer.unref();
  return () => clearInterval(timer);
}
