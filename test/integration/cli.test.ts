/**
 * The `courier` command as a user runs it: Envoy's flags, exit codes, and messages that say
 * what is wrong and where.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { COURIER_BIN, eventually, httpRequest, REPO_ROOT, tmpDir } from '../support/courier-harness.js';
import { portFree, spawnMarked } from '../support/process-tree.js';
import { tcpProxyYaml } from '../support/configs.js';
import { VERSION } from '../../src/version.js';

function courier(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [COURIER_BIN, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 15000 });
  assert.equal(r.signal, null, `courier ${args.join(' ')} was killed (${r.signal}): ${r.stderr}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--version prints the version and exits 0', () => {
  const r = courier(['--version']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^courier version ${VERSION.replace(/\./g, '\\.')} `));
});

test('--help lists Envoy\'s flags and exits 0', () => {
  const r = courier(['--help']);
  assert.equal(r.status, 0, r.stderr);
  for (const flag of ['-c, --config-path', '--config-yaml', '--concurrency', '--mode serve|validate', '--drain-time-s', '--version']) {
    assert.ok(r.stdout.includes(flag), `--help mentions ${flag}:\n${r.stdout}`);
  }
});

test('an unknown flag exits 1 naming the flag', () => {
  const r = courier(['--frobnicate', '-c', 'examples/tcp-proxy.yaml']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /unknown argument "--frobnicate"/);
  assert.match(r.stderr, /--help/);
  assert.equal(r.stdout, '');
});

test('without dist/ (not built yet) courier says to run npm run build, exit 1, no stack trace', () => {
  const dir = tmpDir();
  try {
    mkdirSync(path.join(dir, 'bin'));
    copyFileSync(COURIER_BIN, path.join(dir, 'bin', 'courier.js'));
    copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(dir, 'package.json'));
    const r = spawnSync(process.execPath, [path.join(dir, 'bin', 'courier.js'), '-c', 'examples/tcp-proxy.yaml'], { encoding: 'utf8', timeout: 15000 });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, 'courier: the compiled code (dist/) is missing: run `npm run build` in the Courier directory first\n');
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('--mode validate on the bundled example exits 0 without serving', () => {
  const r = courier(['--mode', 'validate', '-c', 'examples/tcp-proxy.yaml']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /configuration 'examples\/tcp-proxy\.yaml' OK/);
});

test('--mode validate on a broken file exits 1 listing each problem with path and line', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'broken.yaml');
  const yaml = tcpProxyYaml({ ports: [9000], clusterExtra: '    lb_policy: CLUSTER_PROVIDED' }).replace('type: STATIC', 'type: ORIGINAL_DST');
  writeFileSync(file, yaml);
  const lineOf = (needle: string): number => yaml.split('\n').findIndex((l) => l.includes(needle)) + 1;
  const r = courier(['--mode', 'validate', '-c', file]);
  rmSync(dir, { recursive: true });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.ok(
    r.stderr.includes(`${file}: static_resources.clusters[0].lb_policy (line ${lineOf('CLUSTER_PROVIDED')}): lb_policy CLUSTER_PROVIDED is not supported`),
    r.stderr,
  );
  assert.ok(
    r.stderr.includes(`${file}: static_resources.clusters[0].type (line ${lineOf('type: ORIGINAL_DST')}): cluster type ORIGINAL_DST is not supported`),
    r.stderr,
  );
});

test('--config-yaml gives the bootstrap inline', () => {
  const r = courier(['--mode', 'validate', '--config-yaml', tcpProxyYaml({ ports: [9000] })]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /configuration '--config-yaml' OK/);
});

/** A real socket holding a loopback port, as another program would. */
async function squat(): Promise<{ port: number; close(): Promise<void> }> {
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  return { port: (squatter.address() as net.AddressInfo).port, close: () => new Promise<void>((resolve) => squatter.close(() => resolve())) };
}

/** Runs `courier` with a process marker; resolves once it exited and every process it started is gone. */
async function courierFailing(args: string[]): Promise<{ code: number | null; output: string }> {
  const run = spawnMarked(process.execPath, [COURIER_BIN, ...args], { cwd: REPO_ROOT });
  try {
    const [code] = await run.exited;
    await run.allGone(5000);
    return { code, output: run.output() };
  } finally {
    run.killAll();
  }
}

/** The message of a port that is taken: which address, whose, why and what to do; no stack trace. */
function assertPortTakenMessage(output: string, owner: RegExp, port: number): void {
  assert.match(output, new RegExp(`^courier: ${owner.source} cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use .*\\(EADDRINUSE\\)$`, 'm'));
  assert.ok(output.includes(`ss -ltnp 'sport = :${port}'`), output);
  assert.doesNotMatch(output, /^\s+at /m, 'no stack trace');
}

test('serving a listener whose port is taken exits 1 naming the listener, its address and what to do; no worker is left', async () => {
  const taken = await squat();
  try {
    const yaml = tcpProxyYaml({ ports: [9000] })
      .replace('- name: tcp\n', '- name: busy_listener\n')
      .replace(/(busy_listener\n\s+address:\n\s+socket_address: \{ address: 127\.0\.0\.1, port_value: )0/, `$1${taken.port}`);
    assert.ok(yaml.includes(`port_value: ${taken.port}`), yaml);
    const r = await courierFailing(['--config-yaml', yaml, '--concurrency', '2', '-l', 'error']);
    assert.equal(r.code, 1, r.output);
    assertPortTakenMessage(r.output, /listener 'busy_listener'/, taken.port);
  } finally {
    await taken.close();
  }
});

test('serving with the admin port taken exits 1 naming admin.address and what to do; no worker is left', async () => {
  const taken = await squat();
  try {
    const yaml = tcpProxyYaml({ ports: [9000] }).replace('socket_address: { address: 127.0.0.1, port_value: 0 }', `socket_address: { address: 127.0.0.1, port_value: ${taken.port} }`);
    assert.ok(yaml.indexOf(`port_value: ${taken.port}`) < yaml.indexOf('static_resources'), yaml);
    const r = await courierFailing(['--config-yaml', yaml, '--concurrency', '2', '-l', 'error']);
    assert.equal(r.code, 1, r.output);
    assertPortTakenMessage(r.output, /admin\.address/, taken.port);
  } finally {
    await taken.close();
  }
});

/** The admin port from --admin-address-path's file, once Courier has written it. */
function adminPortFrom(file: string): Promise<number> {
  return eventually(() => (existsSync(file) ? Number(readFileSync(file, 'utf8').trim().split(':').pop()) : 0), `the admin address in ${file}`, 30_000);
}

// The process a user or a supervisor started, signalled: `node bin/courier.js` directly, and
// `npx courier`, where npm runs Courier through `sh -c` and forwards SIGTERM to that shell only
// (src/server/npm-launcher-watch.ts). SIGKILL to Courier's main: its workers notice the IPC
// channel close and exit. SIGKILL to npm: Courier notices npm is gone and drains.
for (const [launcher, command, args, signal, stopped] of [
  ['node bin/courier.js', process.execPath, [COURIER_BIN], 'SIGTERM', true],
  ['node bin/courier.js', process.execPath, [COURIER_BIN], 'SIGKILL', false],
  ['npx courier', 'npx', ['courier'], 'SIGTERM', true],
  ['npx courier', 'npx', ['courier'], 'SIGKILL', true],
] as const) {
  test(`${launcher}, sent ${signal}: every process it started exits and the ports are free`, { timeout: 90_000 }, async () => {
    const dir = tmpDir();
    const config = path.join(dir, 'courier.yaml');
    const adminAddress = path.join(dir, 'admin-address');
    writeFileSync(config, tcpProxyYaml({ ports: [9000] }));
    const run = spawnMarked(command, [...args, '-c', config, '--concurrency', '2', '--admin-address-path', adminAddress], { cwd: REPO_ROOT });
    try {
      await run.waitFor(/courier started/);
      const adminPort = await adminPortFrom(adminAddress);
      const listeners = JSON.parse((await httpRequest(adminPort, '/listeners?format=json')).body) as {
        listener_statuses: Array<{ local_address: { socket_address: { port_value: number } } }>;
      };
      const listenerPort = listeners.listener_statuses[0]!.local_address.socket_address.port_value;
      // main and its 2 workers (plus npm and sh under npx).
      assert.ok(run.processes().length >= 3, run.processes().map((p) => `${p.pid} ${p.args}`).join('\n'));
      run.child.kill(signal);
      await run.allGone(15_000);
      assert.ok(portFree(listenerPort), `nothing listens on the listener's port ${listenerPort}`);
      assert.ok(portFree(adminPort), `nothing listens on the admin port ${adminPort}`);
      if (stopped) assert.match(run.output(), /\]\[main\]\[info\] stopped/, 'Courier drained and stopped');
    } finally {
      run.killAll();
      rmSync(dir, { recursive: true });
    }
  });
}

test('outside npm, Courier outlives the shell that started it in the background (nohup courier &)', { timeout: 60_000 }, async () => {
  const dir = tmpDir();
  const config = path.join(dir, 'courier.yaml');
  const adminAddress = path.join(dir, 'admin-address');
  writeFileSync(config, tcpProxyYaml({ ports: [9000] }));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
  const line = `"${process.execPath}" "${COURIER_BIN}" -c "${config}" --concurrency 1 --admin-address-path "${adminAddress}" >/dev/null 2>&1 &`;
  const run = spawnMarked('/bin/sh', ['-c', line], { cwd: REPO_ROOT, env });
  try {
    assert.deepEqual(await run.exited, [0, null], 'the shell exits at once');
    const adminPort = await adminPortFrom(adminAddress);
    // Several polls of the launcher watch later, Courier (reparented) still serves.
    await new Promise((r) => setTimeout(r, 4 * 500));
    assert.equal((await httpRequest(adminPort, '/ready')).status, 200);
    const main = run.processes().find((p) => p.args.includes('bin/courier.js'));
    assert.ok(main, run.processes().map((p) => `${p.pid} ${p.args}`).join('\n'));
    process.kill(main.pid, 'SIGTERM');
    await run.allGone(15_000);
  } finally {
    run.killAll();
    rmSync(dir, { recursive: true });
  }
});

/** Copies of ../shared/reference's example configs, kept in the repo so a clean clone has them. */
const REFERENCE = path.join(REPO_ROOT, 'test', 'fixtures', 'reference');

test('--mode validate loads the reference bootstrap (EDS, CDS and LDS, ADS) and names the xDS files it could not read', () => {
  const r = courier(['--mode', 'validate', '-c', `${REFERENCE}/bootstrap-example.yaml`]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.includes(`configuration '${REFERENCE}/bootstrap-example.yaml' OK`), r.stdout);
  assert.match(r.stdout, /xDS file '\/etc\/proxy\/lds\.yaml' not found/);
});

test('--mode validate checks the xDS files a bootstrap names: the reference rds-file-example passes, broken RDS and LDS files fail with file, path and line', () => {
  const dir = tmpDir();
  const rds = path.join(dir, 'rds.yaml');
  const lds = path.join(dir, 'lds.yaml');
  const boot = path.join(dir, 'bootstrap.yaml');
  const rdsText = readFileSync(`${REFERENCE}/rds-file-example.yaml`, 'utf8');
  writeFileSync(rds, rdsText);
  const ldsText = `version_info: "1"
resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: from_lds
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
  filter_chains:
  - filters:
    - name: envoy.filters.network.tcp_proxy
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
        stat_prefix: from_lds
        cluster: backend_tcp
`;
  writeFileSync(lds, ldsText);
  writeFileSync(
    boot,
    readFileSync(`${REFERENCE}/bootstrap-example.yaml`, 'utf8').replace('/etc/proxy/rds.yaml', rds).replace('/etc/proxy/lds.yaml', lds),
  );
  try {
    const ok = courier(['--mode', 'validate', '-c', boot]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.ok(ok.stdout.includes(`xDS file '${rds}' OK`), ok.stdout);
    assert.ok(ok.stdout.includes(`xDS file '${lds}' OK`), ok.stdout);

    const badRds = rdsText.replace('domains: ["*"]', 'domains: []');
    writeFileSync(rds, badRds);
    const ldsBad = ldsText.replace('  filter_chains:', '  enable_reuse_port: true\n  filter_chains:');
    writeFileSync(lds, ldsBad);
    const bad = courier(['--mode', 'validate', '-c', boot]);
    assert.equal(bad.status, 1);
    const line = (text: string, needle: string): number => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
    assert.ok(bad.stderr.includes(`${rds}: RDS resource "local_route": resources[0].virtual_hosts[0].domains (line ${line(badRds, 'domains: []')}): `), bad.stderr);
    assert.ok(bad.stderr.includes(`${lds}: LDS resource "from_lds": resources[0].enable_reuse_port (line ${line(ldsBad, 'enable_reuse_port')}): Listener.enable_reuse_port is not supported`), bad.stderr);
  } finally {
    rmSync(dir, { recursive: true });
  }
});
