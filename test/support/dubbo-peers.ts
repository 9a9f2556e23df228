/**
 * Real Dubbo peers for tests, from the npm packages of apache/dubbo-js (branch dubbo2):
 *  - startProvider(): a provider process (apache-dubbo-service, test/support/dubbo-provider-main.cjs)
 *    serving org.apache.dubbo.demo.DemoService and org.apache.dubbo.demo.OtherService on loopback;
 *  - createConsumer(): apache-dubbo-consumer's DubboDirectlyInvoker (no registry), with typed helpers.
 * For byte-level control (ids, flags, pipelining, heartbeats, malformed frames) use
 * DubboRawClient from ./dubbo-raw-client.js.
 *
 * DemoService methods (all registered under the provider's version/group):
 *   echo(x)            -> x, byte for byte (any hessian value: string, long, double, map, list, object, null)
 *   sayHello(name)     -> "Hello <name> from <NAME>"
 *   whoami()           -> NAME                      sleep(ms) -> ms after ms milliseconds
 *   fail(msg)          -> business exception (java.lang.RuntimeException, message msg)
 *   getAttachment(key) -> that request attachment or null
 *   getAttachments()   -> every request attachment (map)
 *   connectionInfo()   -> {connectionId, remotePort, requestsOnConnection} of the connection the call came on
 *   stats()            -> provider counters {connectionsAccepted, connectionsOpen, requests, oneway,
 *                         heartbeats, heartbeatResponses, badRequests, badFrames}
 * OtherService: whoami() -> NAME.
 * Every OK response carries attachments {dubbo: "2.0.2", provider: NAME, ...every non-standard request
 * attachment echoed back} (visible with the raw client; apache-dubbo-consumer drops them).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { REPO_ROOT } from './courier-harness.js';
import { DEFAULT_DUBBO_VERSION, DEFAULT_SERVICE_VERSION, java, type JavaValue } from './dubbo-raw-client.js';

export { java, type JavaValue } from './dubbo-raw-client.js';

const require = createRequire(import.meta.url);

export const DUBBO_PROVIDER_MAIN = path.join(REPO_ROOT, 'test', 'support', 'dubbo-provider-main.cjs');
export const DEMO_SERVICE = 'org.apache.dubbo.demo.DemoService';
export const OTHER_SERVICE = 'org.apache.dubbo.demo.OtherService';

// ---------------------------------------------------------------------------------------------
// provider

export interface ProviderOptions {
  name: string;
  /** Service version of both services; default "1.0.0". */
  version?: string;
  /** Service group of both services; default "" (none). */
  group?: string;
  /** Default 0: a free port, reported back. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Also send heartbeat requests on every connection each N ms (default: never). */
  heartbeatMs?: number;
  /** How long to wait for READY (default 5000 ms). */
  startTimeoutMs?: number;
}

export interface DubboProvider {
  readonly port: number;
  readonly name: string;
  readonly version: string;
  readonly group: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** "127.0.0.1:port". */
  readonly address: string;
  /** SIGTERM, then wait for exit (SIGKILL after 2 s). */
  stop(): Promise<void>;
  /** SIGKILL, now (a crashed provider). */
  kill(): void;
  /** Resolves with the exit code (or null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** stderr so far. */
  output(): string;
}

const liveProviders = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of liveProviders) if (c.pid !== undefined && c.exitCode === null) c.kill('SIGKILL');
});

export function startProvider(opts: ProviderOptions): Promise<DubboProvider> {
  const version = opts.version ?? DEFAULT_SERVICE_VERSION;
  const group = opts.group ?? '';
  const args = [DUBBO_PROVIDER_MAIN, '--port', String(opts.port ?? 0), '--name', opts.name, '--version', version, '--watch-stdin'];
  if (group) args.push('--group', group);
  if (opts.host) args.push('--host', opts.host);
  if (opts.heartbeatMs) args.push('--heartbeat-ms', String(opts.heartbeatMs));
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  liveProviders.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      liveProviders.delete(child);
      resolve(code);
    }),
  );

  return new Promise<DubboProvider>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`dubbo provider ${opts.name} not READY in ${opts.startTimeoutMs ?? 5000} ms; stderr: ${stderr}`));
    }, opts.startTimeoutMs ?? 5000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`dubbo provider ${opts.name} exited (${code ?? signal}) before READY; stderr: ${stderr}`));
    });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      stdout += d;
      const m = /^READY (\d+)$/m.exec(stdout);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.removeAllListeners('data');
      child.stdout!.resume();
      const port = Number(m[1]);
      const pid = child.pid!;
      resolve({
        port,
        name: opts.name,
        version,
        group,
        pid,
        child,
        address: `127.0.0.1:${port}`,
        exited,
        output: () => stderr,
        kill: () => {
          if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
        },
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          process.kill(pid, 'SIGTERM');
          const t = setTimeout(() => {
            if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
          }, 2000);
          await exited;
          clearTimeout(t);
        },
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// consumer (apache-dubbo-consumer's DubboDirectlyInvoker)

export interface DubboResult<T = unknown> {
  res: T | null;
  err: Error | null;
}

export interface CallOptions {
  /** Service version; default the client's (which defaults to "1.0.0"). */
  version?: string;
  /** Service group (sent as the `group` attachment); default the client's (""). */
  group?: string;
  /** Custom attachments for this call (strings recommended; Dubbo attachments are Map<String,String>). */
  attachments?: Record<string, string | number | boolean>;
  /** Timeout for this call; also sent as the `timeout` attachment. */
  timeoutMs?: number;
}

export interface ConsumerOptions {
  /** Invoke timeout (default 3000 ms); sent as the `timeout` attachment too. */
  timeoutMs?: number;
  version?: string;
  group?: string;
  /** Delay between reconnect attempts after the connection drops (library default 3000 ms). */
  reconnectDelayMs?: number;
}

export interface DubboClient {
  readonly address: string;
  call<T = unknown>(service: string, method: string, args?: JavaValue[], opts?: CallOptions): Promise<DubboResult<T>>;
  sayHello(name: string, opts?: CallOptions): Promise<DubboResult<string>>;
  whoami(service?: string, opts?: CallOptions): Promise<DubboResult<string>>;
  echo<T = unknown>(value: JavaValue, opts?: CallOptions): Promise<DubboResult<T>>;
  sleep(ms: number, opts?: CallOptions): Promise<DubboResult<number>>;
  fail(message: string, opts?: CallOptions): Promise<DubboResult<never>>;
  getAttachment(key: string, opts?: CallOptions): Promise<DubboResult<string>>;
  getAttachments(opts?: CallOptions): Promise<DubboResult<Record<string, unknown>>>;
  connectionInfo(opts?: CallOptions): Promise<DubboResult<{ connectionId: number; remotePort: number; requestsOnConnection: number }>>;
  stats(opts?: CallOptions): Promise<DubboResult<Record<string, number>>>;
  /** Close the socket, stop reconnecting, fail calls still waiting. */
  close(): void;
}

// The parts of the library's objects this wrapper touches.
interface InvokerCtx {
  reject(e: Error): void;
  cleanTimeout(): void;
}
interface Retry {
  retryNum: number;
  retry(): void;
  end(): void;
  start(): void;
  reset(): void;
}
interface Transport {
  retry: Retry;
  init(): void;
}
interface Invoker {
  props: { dubboHost: string; dubboVersion: string; dubboInvokeTimeout: number };
  queue: Map<number, InvokerCtx>;
  transport: Transport;
  proxyService(p: {
    dubboInterface: string;
    version: string;
    group: string;
    attachments: Record<string, unknown>;
    methods: Record<string, () => JavaValue[]>;
  }): Record<string, () => Promise<DubboResult>>;
  close(): void;
}
interface InvokerClass {
  from(props: { dubboHost: string; dubboVersion: string; dubboInvokeTimeout: number }): Invoker;
}
// Deep require: the package index also loads apache-dubbo-registry (zookeeper, nacos), not needed here.
const DubboDirectlyInvoker = (require('apache-dubbo-consumer/lib/dubbo-directly-invoker') as { default: InvokerClass }).default;

/** A consumer connected straight to host:port (a provider, or Courier's Dubbo listener). */
export function createConsumer(address: string, opts: ConsumerOptions = {}): DubboClient {
  const defaultTimeout = opts.timeoutMs ?? 3000;
  const invoker = DubboDirectlyInvoker.from({ dubboHost: address, dubboVersion: DEFAULT_DUBBO_VERSION, dubboInvokeTimeout: defaultTimeout });
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  // The library's Retry keeps an untracked 3 s timer running after close(); replace it with one we can cancel.
  const retry = invoker.transport.retry;
  retry.start = () => {
    if (closed) return;
    if (retry.retryNum === 0) {
      retry.end();
      return;
    }
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      if (closed) return;
      retry.retry();
      retry.retryNum--;
    }, opts.reconnectDelayMs ?? 3000);
  };

  const call = <T = unknown>(service: string, method: string, args: JavaValue[] = [], o: CallOptions = {}): Promise<DubboResult<T>> => {
    if (closed) return Promise.resolve({ res: null, err: new Error('consumer closed') });
    const proxy = invoker.proxyService({
      dubboInterface: service,
      version: o.version ?? opts.version ?? DEFAULT_SERVICE_VERSION,
      group: o.group ?? opts.group ?? '',
      attachments: { ...(o.attachments ?? {}) },
      methods: { [method]: () => args },
    });
    // The library reads the invoke timeout from the invoker's props while the call is set up (synchronously).
    invoker.props.dubboInvokeTimeout = o.timeoutMs ?? defaultTimeout;
    try {
      return proxy[method]!() as Promise<DubboResult<T>>;
    } finally {
      invoker.props.dubboInvokeTimeout = defaultTimeout;
    }
  };

  return {
    address,
    call,
    sayHello: (name, o) => call<string>(DEMO_SERVICE, 'sayHello', [java.String(name)], o),
    whoami: (service = DEMO_SERVICE, o) => call<string>(service, 'whoami', [], o),
    echo: <T = unknown>(value: JavaValue, o?: CallOptions) => call<T>(DEMO_SERVICE, 'echo', [value], o),
    sleep: (ms, o) => call<number>(DEMO_SERVICE, 'sleep', [java.long(ms)], o),
    fail: (message, o) => call<never>(DEMO_SERVICE, 'fail', [java.String(message)], o),
    getAttachment: (key, o) => call<string>(DEMO_SERVICE, 'getAttachment', [java.String(key)], o),
    getAttachments: (o) => call<Record<string, unknown>>(DEMO_SERVICE, 'getAttachments', [], o),
    connectionInfo: (o) => call(DEMO_SERVICE, 'connectionInfo', [], o),
    stats: (o) => call<Record<string, number>>(DEMO_SERVICE, 'stats', [], o),
    close: () => {
      if (closed) return;
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      invoker.transport.init = () => {};
      for (const ctx of invoker.queue.values()) {
        ctx.cleanTimeout();
        ctx.reject(new Error('consumer closed'));
      }
      invoker.queue.clear();
      invoker.close();
    },
  };
}
