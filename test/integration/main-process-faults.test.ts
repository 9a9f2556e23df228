/**
 * The main process survives what reaches it: request targets the admin cannot parse, and bugs
 * that escape on main (a user plug-in's uncaught exception or unhandled rejection). Run with
 * the real `courier` command and a worker process, because the failure being guarded against
 * is the main process exiting, and its workers with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ADMIN_YAML, listenerHeadYaml, metaProxyListenerYaml, staticClusterYaml, tcpProxyYaml } from '../support/configs.js';
import { REPO_ROOT, eventually, startCourier, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import { connect, echoServer, readAll } from '../support/peers.js';

/** Writes `request` as raw bytes (no client would send it) and returns the status line, or '' if none came in 3 s. */
function rawStatusLine(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(got.split('\r\n')[0] ?? '');
    };
    const timer = setTimeout(done, 3000);
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) done();
    });
    s.on('error', done);
    s.on('close', done);
    s.write(request);
  });
}

async function echoOnce(port: number, text: string): Promise<void> {
  const c = await connect(port);
  const all = readAll(c);
  c.end(text);
  assert.equal((await all).toString(), text);
}

/** Admin and the TCP listener both answer, and the process is still there. */
async function assertServing(courier: CourierHandle, tcpPort: number, text: string): Promise<void> {
  assert.equal(courier.child!.exitCode, null, `courier exited:\n${courier.output()}`);
  assert.equal((await courier.admin('/ready')).status, 200);
  await echoOnce(tcpPort, text);
}

test('admin: unparsable request targets get 400/404 and main keeps serving', async () => {
  const upstream = await echoServer();
  const courier = await startCourier(tcpProxyYaml({ ports: [upstream.port] }), { processes: 1 });
  try {
    const tcpPort = await courier.listenerPort('tcp');
    const answers = new Map<string, string>();
    for (const target of ['//', 'http://[/', '//a:99999/', '//stats', 'http://admin:99999/stats', '*']) {
      answers.set(target, await rawStatusLine(courier.adminPort, `GET ${target} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n`));
    }
    // Origin-form paths that are no admin command are 404 (Envoy's "invalid path"); a target
    // that does not parse at all is 400.
    assert.deepEqual(Object.fromEntries(answers), {
      '//': 'HTTP/1.1 404 Not Found',
      'http://[/': 'HTTP/1.1 400 Bad Request',
      '//a:99999/': 'HTTP/1.1 404 Not Found',
      '//stats': 'HTTP/1.1 404 Not Found',
      'http://admin:99999/stats': 'HTTP/1.1 400 Bad Request',
      '*': 'HTTP/1.1 400 Bad Request',
    });
    // Absolute-form that parses still reaches its handler.
    assert.equal(await rawStatusLine(courier.adminPort, 'GET http://admin/ready HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n'), 'HTTP/1.1 200 OK');
    await assertServing(courier, tcpPort, 'after bad targets');
    assert.equal(await courier.stat('server.uncaught_errors'), 0);
  } finally {
    await courier.stop();
    await upstream.close();
  }
});

test('an uncaught exception or unhandled rejection on main is logged with its stack, counted, and main keeps serving', async () => {
  // A user codec module with a bug that fires on main after start-up (on SIGUSR2: first a
  // throw in an event handler, then a rejected promise nobody awaits). It is a real plug-in
  // path: codec modules are imported on main to check them.
  const dir = tmpDir();
  const buggyCodec = path.join(dir, 'buggy-codec.mjs');
  writeFileSync(
    buggyCodec,
    `import cluster from 'node:cluster';
export { default } from ${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'examples', 'toy-codec', 'toy-codec.mjs')).href)};
if (cluster.isPrimary) {
  let n = 0;
  process.on('SIGUSR2', () => {
    if (n++ % 2 === 0) throw new Error('plug-in bug: thrown in a signal handler');
    Promise.reject(new Error('plug-in bug: rejected and never awaited'));
  });
}
`,
  );
  const upstream = await echoServer();
  const yaml = `${ADMIN_YAML}
static_resources:
  listeners:
${listenerHeadYaml('tcp')}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp_stats
          cluster: backend
${metaProxyListenerYaml('toy', 'toy', `{ name: toy, codec: { name: toy, module: ${JSON.stringify(buggyCodec)} } }`)}
          route_config:
            name: toy_routes
            routes:
            - route: { cluster: backend }
  clusters:
${staticClusterYaml('backend', [upstream.port])}
`;
  const courier = await startCourier(yaml, { processes: 1 });
  try {
    const tcpPort = await courier.listenerPort('tcp');
    assert.equal(await courier.stat('server.uncaught_errors'), 0);
    courier.child!.kill('SIGUSR2');
    await eventually(async () => (await courier.stat('server.uncaught_errors')) === 1, 'the exception counted');
    await assertServing(courier, tcpPort, 'after an exception');
    courier.child!.kill('SIGUSR2');
    await eventually(async () => (await courier.stat('server.uncaught_errors')) === 2, 'the rejection counted');
    await assertServing(courier, tcpPort, 'after a rejection');
    // Logged with the stack (the plug-in's file is named in it).
    assert.match(courier.output(), /uncaught exception on main[^\n]*plug-in bug: thrown in a signal handler\n\s+at .*buggy-codec\.mjs/);
    assert.match(courier.output(), /unhandled promise rejection on main[^\n]*plug-in bug: rejected and never awaited\n\s+at .*buggy-codec\.mjs/);
    // No worker restarted: the workers never noticed.
    assert.equal(await courier.stat('server.worker_restarts'), 0);
  } finally {
    await courier.stop();
    await upstream.close();
  }
});

test('start-up failures still exit 1: a listener that cannot bind', async () => {
  const taken = await echoServer();
  const yaml = tcpProxyYaml({ ports: [taken.port] }).replace(/port_value: 0 \}\n    filter_chains/, `port_value: ${taken.port} }\n    filter_chains`);
  assert.ok(yaml.includes(`port_value: ${taken.port} }\n    filter_chains`));
  try {
    await assert.rejects(startCourier(yaml, { processes: 1 }), /courier did not start:[\s\S]*listener '[^']+' cannot listen on/);
  } finally {
    await taken.close();
  }
});
