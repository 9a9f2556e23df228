/**
 * Helpers for the LDS/CDS/EDS tests: xDS resources as a control plane writes them (proto3
 * JSON with "@type"), TCP backends that answer their own name, the `courier xds-server`
 * command as a child process, and atomic file replacement (how xDS files must be written).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { CLUSTER, CLUSTER_LOAD_ASSIGNMENT, LISTENER } from '../../src/xds/resource-type.js';
import { COURIER_BIN, REPO_ROOT } from './courier-harness.js';
import { listen, type Peer } from './peers.js';

export const CDS = CLUSTER.typeUrl;
export const EDS = CLUSTER_LOAD_ASSIGNMENT.typeUrl;
export const LDS = LISTENER.typeUrl;
const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

/** A Cluster of type EDS whose assignment comes over ADS. */
export function edsCluster(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    '@type': CDS,
    name,
    type: 'EDS',
    connect_timeout: '1s',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3', initial_fetch_timeout: '2s' } },
    ...extra,
  };
}

/** A STATIC Cluster on 127.0.0.1 ports. */
export function staticCluster(name: string, ports: readonly number[]): Record<string, unknown> {
  return {
    '@type': CDS,
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: ports.map((p) => lbEndpoint({ port: p })) }] },
  };
}

export interface EndpointSpec {
  port: number;
  health?: string;
  weight?: number;
  address?: string;
}

function lbEndpoint(e: EndpointSpec): Record<string, unknown> {
  return {
    endpoint: { address: { socket_address: { address: e.address ?? '127.0.0.1', port_value: e.port } } },
    ...(e.health ? { health_status: e.health } : {}),
    ...(e.weight ? { load_balancing_weight: e.weight } : {}),
  };
}

/** A ClusterLoadAssignment; `priorities[i]` are the endpoints of priority i. */
export function cla(name: string, ...priorities: EndpointSpec[][]): Record<string, unknown> {
  return {
    '@type': EDS,
    cluster_name: name,
    endpoints: priorities.map((eps, priority) => ({ ...(priority ? { priority } : {}), lb_endpoints: eps.map(lbEndpoint) })),
  };
}

/** A Listener on 127.0.0.1 (port 0 unless given) with one tcp_proxy to `cluster`. */
export function tcpListener(name: string, cluster: string, port = 0, statPrefix = name): Record<string, unknown> {
  return {
    '@type': LDS,
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_PROXY, stat_prefix: statPrefix, cluster } }] }],
  };
}

/** A DiscoveryResponse file as Envoy's path_config_source reads it. */
export function discoveryFile(version: string, resources: readonly unknown[]): string {
  return `${JSON.stringify({ version_info: version, resources }, null, 2)}\n`;
}

/** Writes `text` to `file` by atomic rename, as xDS file writers must. */
export function atomicWrite(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** A TCP backend that answers every chunk with its name. */
export function namedBackend(name: string): Promise<Peer> {
  return listen((s) => s.on('data', () => s.write(name)));
}

/** Connects, sends one chunk, resolves with the first answer ('' when the proxy closes first). */
export function ask(port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer on port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (v: string): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    s.on('connect', () => s.write('hi'));
    s.on('data', (d: Buffer) => done(d.toString()));
    s.on('close', () => done(''));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** An open proxied connection: `ask()` again on it; `closed` resolves when the proxy closes it. */
export interface HeldConnection {
  ask(): Promise<string>;
  readonly closed: Promise<void>;
  destroy(): void;
}

export function hold(port: number): Promise<HeldConnection> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    s.on('error', () => {});
    s.once('error', reject);
    s.on('connect', () =>
      resolve({
        ask: () =>
          new Promise((res, rej) => {
            s.once('data', (d: Buffer) => res(d.toString()));
            s.write('hi', (e) => e && rej(e));
          }),
        closed,
        destroy: () => s.destroy(),
      }),
    );
  });
}

export interface XdsServerProcess {
  readonly port: number;
  readonly child: ChildProcess;
  /** stderr so far: one line per request, ACK, NACK (with error_detail) and response. */
  log(): string;
  stop(): Promise<void>;
}

/** Runs `courier xds-server --dir DIR --port PORT` (default 0: any) and waits until it says where it listens. */
export async function startXdsServerProcess(dir: string, port = 0): Promise<XdsServerProcess> {
  const child = spawn(process.execPath, [COURIER_BIN, 'xds-server', '--dir', dir, '--port', String(port)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const boundPort = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`xds-server did not say where it listens; stderr:\n${stderr}`)), 10_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^xds-server listening on 127\.0\.0\.1:(\d+)$/.exec(line);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`xds-server exited (${code}):\n${stderr}`)));
  });
  return {
    port: boundPort,
    child,
    log: () => stderr,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
