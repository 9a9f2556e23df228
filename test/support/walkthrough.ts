/**
 * Runs an examples/ walkthrough exactly as its README gives it. The README's ```sh blocks hold
 * the commands, one a line (a trailing `# comment` says what the user sees); the test lists the
 * same commands in order, with what marks a long-running one ready and what a short one must
 * print, and runWalkthrough() checks that the two lists are the same before running them from
 * the repository root through /bin/sh, as a user's shell would.
 */
import assert from 'node:assert/strict';
import { exec } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { eventually, REPO_ROOT } from './courier-harness.js';
import { portFree, spawnMarked, type MarkedCommand } from './process-tree.js';

const execAsync = promisify(exec);

export interface WalkthroughStep {
  cmd: string;
  /** A long-running command (a server, Courier): started, and ready once its output matches. */
  ready?: RegExp;
  /** A short command: must exit 0 with output (stdout, then stderr) matching this (retried for up to `retryMs`). */
  expect?: RegExp;
  /** After a config change, the first attempts may still see the old state. */
  retryMs?: number;
}

/** The command lines of the README's ```sh blocks, comments and blank lines dropped. */
export function readmeCommands(readmePath: string): string[] {
  const commands: string[] = [];
  let inBlock = false;
  for (const line of readFileSync(readmePath, 'utf8').split('\n')) {
    if (/^```sh\s*$/.test(line)) inBlock = true;
    else if (/^```\s*$/.test(line)) inBlock = false;
    else if (inBlock) {
      const cmd = line.replace(/\s+#.*$/, '').replace(/^#.*$/, '').trim();
      if (cmd) commands.push(cmd);
    }
  }
  return commands;
}

/**
 * Checks that `steps` are the README's commands, waits for `ports` to be free (the walkthroughs
 * use fixed ports, as a user's terminal does), runs the steps, then stops the long-running ones
 * with SIGTERM, last started first, and waits until every process they started has exited.
 */
export async function runWalkthrough(readmePath: string, steps: readonly WalkthroughStep[], ports: readonly number[]): Promise<void> {
  assert.deepEqual(steps.map((s) => s.cmd), readmeCommands(readmePath), `the test runs exactly the commands of ${readmePath}`);
  await eventually(() => ports.every(portFree), `ports ${ports.join(', ')} free (is an example still running?)`, 10_000);
  const running: MarkedCommand[] = [];
  try {
    for (const step of steps) {
      if (step.ready) {
        // exec: the shell becomes the command, so SIGTERM reaches it as it would from a terminal's job control.
        const server = spawnMarked('/bin/sh', ['-c', `exec ${step.cmd}`], { cwd: REPO_ROOT });
        running.push(server);
        await server.waitFor(step.ready, 60_000);
        continue;
      }
      let last = '';
      await eventually(
        async () => {
          const r = await execAsync(step.cmd, { cwd: REPO_ROOT, shell: '/bin/sh', timeout: 30_000 }).catch((e: { stdout?: string; stderr?: string; message: string }) => ({
            stdout: e.stdout ?? '',
            stderr: `${e.stderr ?? ''}\n(${e.message})`,
            failed: true,
          }));
          last = `${r.stdout}${r.stderr}`;
          return !('failed' in r) && (!step.expect || step.expect.test(last));
        },
        `\`${step.cmd}\` printed ${step.expect ?? 'nothing wrong'}`,
        step.retryMs ?? 0,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\nit printed:\n${last}\nlong-running commands so far:\n${running.map((r) => r.output()).join('\n---\n')}`);
      });
    }
    for (const server of running.reverse()) {
      server.child.kill('SIGTERM');
      await server.allGone(15_000);
    }
    for (const port of ports) assert.ok(portFree(port), `nothing listens on ${port} after the walkthrough`);
  } finally {
    for (const server of running) server.killAll();
  }
}
