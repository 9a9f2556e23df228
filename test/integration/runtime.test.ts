/**
 * The layered runtime end to end, in a real `courier` with two worker processes: values from
 * a static layer, a disk layer (swapped by symlink as Envoy's docs say), an RTDS layer read
 * from a watched file, and the admin layer (POST /runtime_modify). What a user checks: GET
 * /runtime, the runtime.* stats, and that a route's runtime_fraction follows the values on
 * every worker without a restart. Backends are node:http servers that answer with their name;
 * every request opens a new connection, so both workers serve them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { eventually, startCourier, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import { ADMIN_YAML, listenerHeadYaml, staticClusterYaml } from '../support/configs.js';
import { atomicWrite, discoveryFile } from '../support/xds-resources.js';

interface NamedHttp {
  port: number;
  close(): Promise<void>;
}

function namedHttp(name: string): Promise<NamedHttp> {
  const server = http.createServer((_req, res) => res.end(name));
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as { port: number }).port,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      }),
    ),
  );
}

/** One GET on a new connection: the answering backend's name. */
function get(port: number, p = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

/** Which backends `n` requests reached, by name. */
async function spread(port: number, n: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const name = await get(port);
    out.set(name, (out.get(name) ?? 0) + 1);
  }
  return out;
}

const RTDS_RESOURCE = 'type.googleapis.com/envoy.service.runtime.v3.Runtime';

let dir: string;
let stable: NamedHttp;
let canary: NamedHttp;
let courier: CourierHandle;
let port: number;
let rtdsFile: string;

/** Writes a disk-layer tree `name` holding `values` and swaps `current` onto it. */
function swapDiskLayer(name: string, values: Record<string, string>): void {
  for (const [key, value] of Object.entries(values)) {
    const parts = key.split('.');
    const d = path.join(dir, 'runtime', name, 'envoy', ...parts.slice(0, -1));
    mkdirSync(d, { recursive: true });
    writeFileSync(path.join(d, parts.at(-1)!), `# written by the test\n${value}\n`);
  }
  const tmpLink = path.join(dir, 'runtime', `new-${name}`);
  symlinkSync(path.join(dir, 'runtime', name), tmpLink);
  renameSync(tmpLink, path.join(dir, 'runtime', 'current')); // mv -Tf new current
}

before(async () => {
  dir = tmpDir();
  stable = await namedHttp('stable');
  canary = await namedHttp('canary');
  mkdirSync(path.join(dir, 'runtime'), { recursive: true });
  swapDiskLayer('v1', { 'disk.only': '7', 'shared.key': 'from-disk' });
  rtdsFile = path.join(dir, 'rtds.json');
  atomicWrite(rtdsFile, discoveryFile('1', [{ '@type': RTDS_RESOURCE, name: 'rtds0', layer: { rtds: { key: 'one' } } }]));
  const yaml = `${ADMIN_YAML}
layered_runtime:
  layers:
  - name: base
    static_layer:
      shared.key: from-static
      nested: { a: { b: 5 } }
      fraction_key: { numerator: 20, denominator: TEN_THOUSAND }
  - name: disk
    disk_layer: { symlink_root: ${path.join(dir, 'runtime', 'current')}, subdirectory: envoy }
  - name: rtds
    rtds_layer: { name: rtds0, rtds_config: { resource_api_version: V3, path_config_source: { path: ${rtdsFile} } } }
  - name: admin
    admin_layer: {}
static_resources:
  listeners:
${listenerHeadYaml('http')}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match:
                  prefix: /
                  runtime_fraction:
                    default_value: { numerator: 0, denominator: HUNDRED }
                    runtime_key: routing.traffic_shift.canary
                route: { cluster: canary }
              - match: { prefix: / }
                route: { cluster: stable }
  clusters:
${staticClusterYaml('stable', [stable.port])}
${staticClusterYaml('canary', [canary.port])}
`;
  courier = await startCourier(yaml, { processes: 2 });
  port = await courier.listenerPort('http');
});

after(async () => {
  await courier?.stop();
  await stable?.close();
  await canary?.close();
});

test('GET /runtime lists the layers in order and each key per layer, later layers winning', async () => {
  const { status, body } = await courier.admin('/runtime');
  assert.equal(status, 200);
  const rt = JSON.parse(body) as { layers: string[]; entries: Record<string, { final_value: string; layer_values: string[] }> };
  assert.deepEqual(rt.layers, ['base', 'disk', 'rtds', 'admin']);
  assert.deepEqual(rt.entries['shared.key'], { final_value: 'from-disk', layer_values: ['from-static', 'from-disk', '', ''] });
  assert.equal(rt.entries['nested.a.b']?.final_value, '5', 'nested static keys are joined with dots');
  assert.equal(rt.entries['disk.only']?.final_value, '7', 'file values lose their comment lines and trailing newline');
  assert.equal(rt.entries['rtds.key']?.final_value, 'one');
  assert.ok(rt.entries['fraction_key'], 'a numerator/denominator struct is one value');
  assert.equal(await courier.stat('runtime.num_layers'), 4);
  assert.equal(await courier.stat('runtime.admin_overrides_active'), 0);
  assert.ok((await courier.stat('runtime.load_success')) >= 1);
  assert.equal(await courier.stat('runtime.load_error'), 0);
});

test('runtime_fraction at 0% sends nothing to its route; /runtime_modify to 100 sends everything, on both workers, without a restart', async () => {
  assert.deepEqual([...(await spread(port, 16))], [['stable', 16]]);
  const modified = await courier.admin('/runtime_modify?routing.traffic_shift.canary=100', 'POST');
  assert.deepEqual(modified, { status: 200, body: 'OK\n' });
  // The POST answers once both workers have applied the new snapshot: no waiting needed.
  assert.deepEqual([...(await spread(port, 16))], [['canary', 16]]);
  assert.equal(await courier.stat('runtime.admin_overrides_active'), 1);
  const rt = JSON.parse((await courier.admin('/runtime')).body) as { entries: Record<string, { final_value: string }> };
  assert.equal(rt.entries['routing.traffic_shift.canary']?.final_value, '100');
  // An empty value removes the override: back to the default 0%.
  assert.equal((await courier.admin('/runtime_modify?routing.traffic_shift.canary=', 'POST')).status, 200);
  assert.deepEqual([...(await spread(port, 16))], [['stable', 16]]);
  assert.equal(await courier.stat('runtime.admin_overrides_active'), 0);
});

test('a disk layer is reloaded when its symlink root is swapped (ln -s v2 new && mv -Tf new current)', async () => {
  swapDiskLayer('v2', { 'routing.traffic_shift.canary': '100', 'shared.key': 'from-disk-v2' });
  await eventually(async () => (await get(port)) === 'canary', 'canary after the swap');
  assert.deepEqual([...(await spread(port, 8))], [['canary', 8]]);
  const rt = JSON.parse((await courier.admin('/runtime')).body) as { entries: Record<string, { final_value: string }> };
  assert.equal(rt.entries['shared.key']?.final_value, 'from-disk-v2');
  assert.equal(rt.entries['disk.only'], undefined, 'v2 does not have it');
  // The admin layer overrides the disk layer.
  await courier.admin('/runtime_modify?routing.traffic_shift.canary=0', 'POST');
  await eventually(async () => (await get(port)) === 'stable', 'stable under the admin override');
  await courier.admin('/runtime_modify?routing.traffic_shift.canary=', 'POST');
  swapDiskLayer('v3', { 'shared.key': 'v3' });
  await eventually(async () => (await get(port)) === 'stable' && (await get(port)) === 'stable', 'stable after v3');
});

test('an RTDS layer follows its resource; a resource of another name is refused and the last one stays', async () => {
  atomicWrite(rtdsFile, discoveryFile('2', [{ '@type': RTDS_RESOURCE, name: 'rtds0', layer: { routing: { traffic_shift: { canary: 100 } } } }]));
  await eventually(async () => (await get(port)) === 'canary', 'canary from RTDS');
  atomicWrite(rtdsFile, discoveryFile('3', [{ '@type': RTDS_RESOURCE, name: 'other', layer: { routing: { traffic_shift: { canary: 0 } } } }]));
  await eventually(async () => (await courier.stat('runtime.update_rejected')) >= 1, 'the refusal');
  assert.deepEqual([...(await spread(port, 8))], [['canary', 8]]);
  atomicWrite(rtdsFile, discoveryFile('4', [{ '@type': RTDS_RESOURCE, name: 'rtds0', layer: {} }]));
  await eventually(async () => (await get(port)) === 'stable', 'stable once RTDS drops the key');
});

/** POST with a form-encoded body, as `curl -d key=value` sends it. */
function postForm(adminPort: number, p: string, form: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: adminPort, path: p, method: 'POST', agent: false, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(form);
  });
}

test('/runtime_modify takes form values too; refuses GET (405); answers 400 with the usage when given nothing', async () => {
  assert.deepEqual(await postForm(courier.adminPort, '/runtime_modify', 'form.key=from+form'), { status: 200, body: 'OK\n' });
  const rt = JSON.parse((await courier.admin('/runtime')).body) as { entries: Record<string, { final_value: string }> };
  assert.equal(rt.entries['form.key']?.final_value, 'from form');
  assert.equal((await courier.admin('/runtime_modify?a=b')).status, 405);
  const empty = await courier.admin('/runtime_modify', 'POST');
  assert.equal(empty.status, 400);
  assert.match(empty.body, /usage: \/runtime_modify\?key1=value1/);
});

test('without an admin layer /runtime_modify answers 503; without layered_runtime /runtime is empty', async () => {
  const bare = await startCourier(ADMIN_YAML);
  try {
    assert.deepEqual(JSON.parse((await bare.admin('/runtime')).body), { entries: {}, layers: [] });
    const r = await bare.admin('/runtime_modify?a=b', 'POST');
    assert.equal(r.status, 503);
    assert.match(r.body, /No admin layer specified/);
  } finally {
    await bare.stop();
  }
  // layered_runtime with no layers gets one admin layer, as in Envoy.
  const withEmpty = await startCourier(`${ADMIN_YAML}\nlayered_runtime: {}\n`);
  try {
    assert.equal((await withEmpty.admin('/runtime_modify?a=b', 'POST')).status, 200);
    assert.deepEqual(JSON.parse((await withEmpty.admin('/runtime')).body), { entries: { a: { final_value: 'b', layer_values: ['b'] } }, layers: [''] });
  } finally {
    await withEmpty.stop();
  }
});
