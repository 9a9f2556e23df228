/**
 * The reason a listener or the admin cannot bind, from the errors Node gives: real sockets
 * where the machine allows (a taken port, an address no interface has), a constructed error for
 * EACCES (these tests run as root, who may bind any port).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { bindFailureReason } from '../../src/common/network/bind-failure.js';

function listenError(port: number, host: string): Promise<Error> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', resolve);
    server.listen(port, host, () => server.close(() => reject(new Error(`${host}:${port} was free`))));
  });
}

test('a taken port: in use, how to find the holder, what to change', async () => {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  const port = (holder.address() as net.AddressInfo).port;
  try {
    const reason = bindFailureReason(await listenError(port, '127.0.0.1'), '127.0.0.1', port);
    assert.equal(
      reason,
      `the port is already in use by another process (or another Courier); find it with \`ss -ltnp 'sport = :${port}'\` and stop it, or change the port in the config (EADDRINUSE)`,
    );
  } finally {
    holder.close();
  }
});

test('an address no interface has (TEST-NET-1): names the address', async () => {
  const reason = bindFailureReason(await listenError(0, '192.0.2.1'), '192.0.2.1', 10000);
  assert.equal(reason, 'no network interface of this machine has the address 192.0.2.1; use one it has, or 0.0.0.0 (EADDRNOTAVAIL)');
});

test('permission denied below 1024 names the capability; above, just the denial', () => {
  const eacces = Object.assign(new Error('listen EACCES: permission denied 0.0.0.0:80'), { code: 'EACCES' });
  assert.match(bindFailureReason(eacces, '0.0.0.0', 80), /^permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE .*\(EACCES\)$/);
  assert.equal(bindFailureReason(eacces, '0.0.0.0', 8080), 'permission denied (EACCES)');
});

test('an error Courier has no advice for keeps its own message', () => {
  assert.equal(bindFailureReason(Object.assign(new Error('listen EMFILE: too many open files'), { code: 'EMFILE' }), '127.0.0.1', 1), 'listen EMFILE: too many open files');
  assert.equal(bindFailureReason(new Error('something else'), '127.0.0.1', 1), 'something else');
});
