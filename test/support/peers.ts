/**
 * Real TCP peers for tests: echo, server-first, slow reader, and a black hole whose accept
 * queue is full so connects to it hang (the only way to get a hanging connect on loopback;
 * it is a python3 socket that listens with backlog 0 and never accepts).
 */
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';

export interface Peer {
  port: number;
  sockets: Set<net.Socket>;
  close(): Promise<void>;
}

export function listen(handler: (s: net.Socket) => void): Promise<Peer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    handler(s);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        sockets,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    ),
  );
}

export const echoServer = (): Promise<Peer> => listen((s) => s.pipe(s));

/** A port nothing listens on (bound then released). */
export async function closedPort(): Promise<number> {
  const p = await listen(() => {});
  await p.close();
  return p.port;
}

export interface BlackHole {
  port: number;
  stop(): void;
}

/** A listener whose accept queue is full: new connects hang (SYNs dropped). */
export async function blackHole(): Promise<BlackHole> {
  const script = `
import socket, sys, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)
port = s.getsockname()[1]
fill = []
for i in range(8):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(('127.0.0.1', port))
    except BlockingIOError: pass
    fill.append(c)
time.sleep(0.2)
print(port, flush=True)
time.sleep(60)
`;
  const child: ChildProcess = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('error', reject);
  });
  return { port, stop: () => child.kill('SIGKILL') };
}

/** Connects and collects everything received until the peer closes. */
export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

export function readAll(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.on('error', () => {});
  });
}

/**
 * Resolves when the socket is closed. Like an ordinary client, it closes its side once the
 * peer has closed (the test sockets allow half-open connections).
 */
export function closed(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) resolve();
    s.resume(); // read (and drop) what comes, or 'end' is never seen
    s.on('end', () => s.end());
    s.on('close', () => resolve());
    s.on('error', () => {});
  });
}
