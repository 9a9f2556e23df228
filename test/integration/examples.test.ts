/**
 * examples/ as a user runs it: every bundled config is valid (`courier --mode validate`), so
 * examples/ cannot rot; `npm start` serves, stops cleanly on SIGTERM and fails cleanly when a
 * port it needs is taken.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { COURIER_BIN, eventually, REPO_ROOT } from '../support/courier-harness.js';
import { portFree, spawnMarked } from '../support/process-tree.js';

const examples = readdirSync(path.join(REPO_ROOT, 'examples')).filter((f) => f.endsWith('.yaml'));

test('there is one example per implemented flow', () => {
  assert.ok(examples.includes('tcp-proxy.yaml'));
  assert.ok(examples.includes('dubbo-proxy.yaml'));
  assert.ok(examples.includes('http-proxy.yaml'));
  assert.ok(examples.includes('meta-protocol-toy.yaml'));
});

for (const file of examples) {
  test(`examples/${file} passes --mode validate`, () => {
    const r = spawnSync(process.execPath, [COURIER_BIN, '--mode', 'validate', '-c', path.join(REPO_ROOT, 'examples', file)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /OK/);
  });
}

// ---------------------------------------------------------------------------------------------
// `npm start` (the README's first set-up command): examples/run.mjs on examples/tcp-proxy.yaml,
// with the example's fixed ports.

const NPM_START_PORTS = { admin: 9901, listener: 10000, backend: 10001 } as const;

async function examplePortsFree(ports: readonly number[]): Promise<void> {
  await eventually(() => ports.every(portFree), `ports ${ports.join(', ')} free (the examples use them; is another Courier running?)`, 10_000);
}

test('npm start serves the example; SIGTERM to npm leaves no process and frees the ports', { timeout: 180_000 }, async () => {
  const ports = Object.values(NPM_START_PORTS);
  await examplePortsFree(ports);
  const run = spawnMarked('npm', ['start'], { cwd: REPO_ROOT });
  try {
    await run.waitFor(/Courier is serving/, 150_000);
    assert.match(run.output(), /the backend echoed back: "hello through Courier\\n"/);
    // npm, sh, run.mjs, Courier's main and its 2 workers.
    assert.ok(run.processes().length >= 5, run.processes().map((p) => `${p.pid} ${p.args}`).join('\n'));
    run.child.kill('SIGTERM');
    await run.allGone(15_000);
    for (const port of ports) assert.ok(portFree(port), `nothing listens on ${port}`);
  } finally {
    run.killAll();
  }
});

// What npm start runs is `npm run build && node examples/run.mjs`: the listener case runs
// npm start itself, the other two run.mjs (the build is the same each time).
for (const [owner, port, command, message] of [
  ['the listener', NPM_START_PORTS.listener, ['npm', 'start'], /^courier: listener 'tcp_listener' cannot listen on 127\.0\.0\.1:10000: the port is already in use/m],
  ['the admin', NPM_START_PORTS.admin, [process.execPath, 'examples/run.mjs'], /^courier: admin\.address cannot listen on 127\.0\.0\.1:9901: the port is already in use/m],
  ['the echo backend', NPM_START_PORTS.backend, [process.execPath, 'examples/run.mjs'], /^npm start: the example's echo backend cannot listen on 127\.0\.0\.1:10001: the port is already in use/m],
] as const) {
  test(`${command.at(-1) === 'start' ? 'npm start' : 'examples/run.mjs'} with ${owner}'s port ${port} taken: exit 1, a line saying which port and what to do, no process left`, { timeout: 180_000 }, async () => {
    await examplePortsFree(Object.values(NPM_START_PORTS));
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    const run = spawnMarked(command[0], command.slice(1), { cwd: REPO_ROOT });
    try {
      const [code] = await run.exited;
      await run.allGone(10_000);
      const output = run.output();
      assert.notEqual(code, 0, output);
      assert.match(output, message);
      assert.ok(output.includes(`ss -ltnp 'sport = :${port}'`), output);
      assert.doesNotMatch(output, /^\s+at /m, 'no stack trace');
      for (const other of Object.values(NPM_START_PORTS)) if (other !== port) assert.ok(portFree(other), `nothing listens on ${other}`);
    } finally {
      run.killAll();
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });
}
