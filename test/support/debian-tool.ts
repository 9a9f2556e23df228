/**
 * A command from a Debian package, for tests that check Courier's output with the real tool
 * (promtool from `prometheus`). CI runs on a clean clone, so a missing tool is fetched once:
 * `apt-get download` of the package (with `apt-get update` first when the package lists are
 * empty and we are root), then `dpkg-deb -x` into a cache directory. The package is never
 * installed: installing `prometheus` would also enable and start a Prometheus server on the
 * machine. Every step is bounded by a timeout. Returns the command's path, or why the test
 * must be skipped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CACHE = path.join(os.tmpdir(), 'courier-test-debian-tools');

function run(command: string, args: string[], cwd: string, timeoutS: number): { ok: boolean; output: string } {
  const r = spawnSync('timeout', [String(timeoutS), command, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

function onPath(command: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const found = new Map<string, { path: string } | { skip: string }>();

/** `usr/bin/<command>` of Debian package `pkg`: on PATH, in the cache, or fetched now. */
export function debianTool(command: string, pkg: string): { path: string } | { skip: string } {
  const key = `${pkg}/${command}`;
  let result = found.get(key);
  if (result === undefined) {
    result = locate(command, pkg);
    found.set(key, result);
  }
  return result;
}

function locate(command: string, pkg: string): { path: string } | { skip: string } {
  const installed = onPath(command);
  if (installed) return { path: installed };
  const dir = path.join(CACHE, pkg);
  const cached = path.join(dir, 'root', 'usr', 'bin', command);
  if (existsSync(cached)) return { path: cached };
  if (!onPath('apt-get') || !onPath('dpkg-deb')) return { skip: `${command} is missing and this is not a Debian system (apt-get install ${pkg})` };
  mkdirSync(dir, { recursive: true });
  let download = run('apt-get', ['download', pkg], dir, 300);
  if (!download.ok && process.getuid?.() === 0) {
    const update = run('apt-get', ['update', '-qq'], dir, 300);
    if (!update.ok) return { skip: `${command} is missing and apt-get update failed: ${update.output.slice(-300)}` };
    download = run('apt-get', ['download', pkg], dir, 300);
  }
  const deb = readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!download.ok || deb === undefined) return { skip: `${command} is missing and apt-get download ${pkg} failed: ${download.output.slice(-300)}` };
  const extract = run('dpkg-deb', ['-x', deb, 'root'], dir, 120);
  if (!extract.ok || !existsSync(cached)) return { skip: `dpkg-deb -x ${deb} failed: ${extract.output.slice(-300)}` };
  return { path: cached };
}
