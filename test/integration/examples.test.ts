/**
 * examples/ as a user runs it: every bundled config is valid (`courier --mode validate`), so
 * examples/ cannot rot; `npm start` serves, stops cleanly on SIGTERM and fails cleanly when a
 * port it needs is taken.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { COURIER_BIN, eventually, REPO_ROOT, tmpDir } from '../support/courier-harness.js';
import { portFree, spawnMarked } from '../support/process-tree.js';
import { runWalkthrough } from '../support/walkthrough.js';

/** Bootstraps: examples/*.yaml and examples/<walkthrough>/*.yaml (xDS resources sit one level deeper). */
const EXAMPLES_DIR = path.join(REPO_ROOT, 'examples');
const examples = readdirSync(EXAMPLES_DIR, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? readdirSync(path.join(EXAMPLES_DIR, e.name)).filter((f) => f.endsWith('.yaml')).map((f) => `${e.name}/${f}`) : e.name.endsWith('.yaml') ? [e.name] : [],
);

test('there is one example per implemented flow', () => {
  assert.ok(examples.includes('tcp-proxy.yaml'));
  assert.ok(examples.includes('dubbo-proxy.yaml'));
  assert.ok(examples.includes('http-proxy.yaml'));
  assert.ok(examples.includes('meta-protocol-toy.yaml'));
  assert.ok(examples.includes('xds-server/bootstrap.yaml'));
  assert.ok(examples.includes('thrift/thrift-proxy.yaml'));
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

// ---------------------------------------------------------------------------------------------
// contrib/systemd/courier.service, the unit the README shows.

test('contrib/systemd/courier.service stops Courier with SIGTERM, waits longer than it drains, restarts on failure, and passes systemd-analyze verify', (t) => {
  const unitPath = path.join(REPO_ROOT, 'contrib', 'systemd', 'courier.service');
  const unit = readFileSync(unitPath, 'utf8');
  const field = (key: string): string | undefined => new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1];
  assert.equal(field('Type'), 'exec');
  assert.equal(field('KillSignal'), 'SIGTERM');
  assert.equal(field('Restart'), 'on-failure');
  const execStart = field('ExecStart') ?? '';
  assert.match(execStart, /^\/usr\/bin\/node \S+\/bin\/courier\.js -c \S+/, 'node on bin/courier.js itself, not npx or npm');
  const drainS = Number(/--drain-time-s (\d+)/.exec(execStart)?.[1]);
  const stopS = Number(/^(\d+)s?$/.exec(field('TimeoutStopSec') ?? '')?.[1]);
  assert.ok(stopS > drainS, `TimeoutStopSec (${stopS}) is longer than --drain-time-s (${drainS})`);
  for (const line of ['Type=exec', `ExecStart=${execStart}`, 'KillSignal=SIGTERM', `TimeoutStopSec=${field('TimeoutStopSec')}`, 'Restart=on-failure']) {
    assert.ok(readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8').includes(`    ${line}\n`), `the README shows ${line}`);
  }

  if (spawnSync('systemd-analyze', ['--version']).error) {
    t.skip('systemd-analyze is not installed here (Debian: apt-get install systemd); the unit was not verified');
    return;
  }
  // Verified as installed, with this machine's node (verify checks that the command exists).
  const dir = tmpDir();
  try {
    const copy = path.join(dir, 'courier.service');
    writeFileSync(copy, unit.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `));
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    const complaints = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('courier.service'));
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.deepEqual(complaints, [], 'systemd-analyze verify has nothing to say about the unit');
  } finally {
    rmSync(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// The walkthroughs: each README's commands, run as they are written.

test('examples/xds-server: courier xds-server drives Courier; a route edited in its directory reroutes the next request', { timeout: 240_000 }, async () => {
  rmSync('/tmp/courier-xds', { recursive: true, force: true });
  try {
    await runWalkthrough(
      path.join(REPO_ROOT, 'examples', 'xds-server', 'README.md'),
      [
        { cmd: 'mkdir -p /tmp/courier-xds && cp examples/xds-server/resources/*.yaml /tmp/courier-xds/' },
        { cmd: 'npx courier xds-server --dir /tmp/courier-xds --port 18000', ready: /xds-server listening on 127\.0\.0\.1:18000/ },
        { cmd: 'node examples/xds-server/backend.mjs blue 10011', ready: /listening/ },
        { cmd: 'node examples/xds-server/backend.mjs green 10012', ready: /listening/ },
        { cmd: 'npx courier -c examples/xds-server/bootstrap.yaml', ready: /courier started: 1 listener/ },
        { cmd: 'curl -s http://127.0.0.1:10010/', expect: /^hello from blue$/m },
        { cmd: "sed -i 's/cluster: blue/cluster: green/' /tmp/courier-xds/routes.yaml" },
        { cmd: 'curl -s http://127.0.0.1:10010/', expect: /^hello from green$/m, retryMs: 15_000 },
        { cmd: 'curl -s http://127.0.0.1:9911/config_dump | grep -c walkthrough_routes', expect: /^[1-9]\d*$/m },
      ],
      [18000, 10010, 10011, 10012, 9911],
    );
  } finally {
    rmSync('/tmp/courier-xds', { recursive: true, force: true });
  }
});

test('examples/dubbo: real Dubbo providers and consumer (apache-dubbo-service, apache-dubbo-consumer) through Courier\'s Dubbo proxy', { timeout: 240_000 }, async () => {
  await runWalkthrough(
    path.join(REPO_ROOT, 'examples', 'dubbo', 'README.md'),
    [
      { cmd: 'node test/support/dubbo-provider-main.cjs --name greeter --port 20881', ready: /^READY 20881$/m },
      { cmd: 'node test/support/dubbo-provider-main.cjs --name demo --port 20882', ready: /^READY 20882$/m },
      { cmd: 'npx courier -c examples/dubbo-proxy.yaml', ready: /courier started/ },
      { cmd: 'node examples/dubbo/consumer.mjs 127.0.0.1:20880 sayHello world', expect: /^Hello world from greeter$/m },
      { cmd: 'node examples/dubbo/consumer.mjs 127.0.0.1:20880 whoami', expect: /^demo$/m },
      { cmd: 'node examples/dubbo/consumer.mjs 127.0.0.1:20880 fail oops || true', expect: /^org\.apache\.dubbo\.demo\.DemoService\.fail failed: oops$/m },
      { cmd: 'curl -s http://127.0.0.1:9901/stats | grep upstream_rq_total', expect: /^cluster\.demo\.upstream_rq_total: 2\ncluster\.greeter\.upstream_rq_total: 1$/m },
    ],
    [20880, 20881, 20882, 9901],
  );
});

test('examples/thrift: Apache Thrift\'s npm server and client through Courier\'s MetaProtocol proxy, routed by method', { timeout: 240_000 }, async () => {
  await runWalkthrough(
    path.join(REPO_ROOT, 'examples', 'thrift', 'README.md'),
    [
      { cmd: 'node examples/thrift/server.mjs blue 9201', ready: /thrift server blue listening on 127\.0\.0\.1:9201/ },
      { cmd: 'node examples/thrift/server.mjs green 9202', ready: /thrift server green listening on 127\.0\.0\.1:9202/ },
      { cmd: 'npx courier -c examples/thrift/thrift-proxy.yaml', ready: /courier started/ },
      { cmd: 'node examples/thrift/client.mjs 9200 echo hello', expect: /^hello$/m },
      { cmd: 'node examples/thrift/client.mjs 9200 add 2 3', expect: /^5$/m },
      { cmd: 'node examples/thrift/client.mjs 9200 whoami', expect: /^green$/m },
      { cmd: 'node examples/thrift/client.mjs 9200 fail oops 7 || true', expect: /^fail failed: EchoError code 7: oops$/m },
      { cmd: 'curl -s http://127.0.0.1:9921/stats | grep upstream_rq_total', expect: /^cluster\.blue\.upstream_rq_total: 3\ncluster\.green\.upstream_rq_total: 1$/m },
    ],
    [9200, 9201, 9202, 9921],
  );
});
