/**
 * Proves the Dubbo test peers against each other, with no proxy in between: the
 * apache-dubbo-service provider process, the apache-dubbo-consumer client and the raw-frame client.
 * Courier's Dubbo proxy tests put Courier between these same peers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createConsumer, startProvider, DEMO_SERVICE, OTHER_SERVICE, java, type DubboProvider, type DubboClient } from '../support/dubbo-peers.js';
import {
  DubboRawClient,
  BodyFlag,
  ResponseStatus,
  FLAGS_HEARTBEAT_RESPONSE,
  FLAGS_HEARTBEAT_REQUEST,
  encodeFrame,
  encodeRequest,
  hessianEncode,
  type RequestSpec,
} from '../support/dubbo-raw-client.js';

let provider: DubboProvider;
let consumer: DubboClient;

before(async () => {
  provider = await startProvider({ name: 'p1' });
  consumer = createConsumer(provider.address, { timeoutMs: 2000 });
});

after(async () => {
  consumer?.close();
  await provider?.stop();
});

const hello = (name: string): RequestSpec => ({ service: DEMO_SERVICE, method: 'sayHello', args: [java.String(name)] });

test('sayHello and whoami on both services', async () => {
  assert.ok(provider.port > 0);
  assert.deepEqual(await consumer.sayHello('world'), { res: 'Hello world from p1', err: null });
  assert.deepEqual(await consumer.whoami(), { res: 'p1', err: null });
  assert.deepEqual(await consumer.whoami(OTHER_SERVICE), { res: 'p1', err: null });
});

test('echo round-trips every value kind', async () => {
  const big = 'x'.repeat(1 << 20);
  const cases: Array<[string, ReturnType<typeof java.String>, unknown]> = [
    ['string', java.String('hello'), 'hello'],
    ['empty string', java.String(''), ''],
    ['unicode string', java.String('héllo wörld ✓ 𝄞'), 'héllo wörld ✓ 𝄞'],
    ['long', java.long(42), 42],
    ['negative long', java.long(-7), -7],
    ['long over 2^32', java.long(1234567890123), 1234567890123],
    ['long over 2^53 (hessian.js gives a string)', java.long('9007199254740993'), '9007199254740993'],
    ['int 0', java.int(0), 0],
    ['double', java.double(3.25), 3.25],
    ['whole double', java.double(2), 2],
    ['boolean false', java.Boolean(false), false],
    ['boolean true', java.Boolean(true), true],
    ['map', java.Map({ a: java.long(1), b: 'two', c: java.List([1, 2]) }), { a: 1, b: 'two', c: [1, 2] }],
    ['list', java.List([java.int(1), 'two', java.double(3.5), null]), [1, 'two', 3.5, null]],
    ['string array', java.array('java.lang.String', ['a', 'b']), ['a', 'b']],
    [
      'nested java objects',
      java.combine('org.apache.dubbo.demo.User', {
        id: java.long(42),
        name: java.String('bob'),
        score: java.double(9.5),
        tags: java.List(['a', 'b']),
        address: java.combine('org.apache.dubbo.demo.Address', { city: 'Paris', zip: java.int(75001) }),
        friends: java.List([java.combine('org.apache.dubbo.demo.User', { id: java.long(7), name: 'amy' })]),
      }),
      // hessian2 defines a class once per stream (fields of its first instance), so the second User
      // carries every User field, the missing ones as null.
      {
        id: 42,
        name: 'bob',
        score: 9.5,
        tags: ['a', 'b'],
        address: { city: 'Paris', zip: 75001 },
        friends: [{ id: 7, name: 'amy', score: null, tags: null, address: null, friends: null }],
      },
    ],
    ['null String', java.String(null), null],
    ['null Object', java.combine('java.lang.Object', null), null],
    ['1 MB string', java.String(big), big],
  ];
  const results = await Promise.all(cases.map(([, v]) => consumer.echo(v)));
  cases.forEach(([label, , expected], i) => {
    assert.equal(results[i]!.err, null, label);
    assert.deepEqual(results[i]!.res, expected, label);
  });
});

test('echo returns the argument byte for byte', async () => {
  const raw = await DubboRawClient.connect(provider.port);
  try {
    const arg = java.combine('org.apache.dubbo.demo.User', { id: java.long(1), tags: java.List(['x']), m: java.Map({ k: java.long(5) }) });
    const argBytes = hessianEncode(arg);
    const r = await raw.request({ service: DEMO_SERVICE, method: 'echo', args: [arg] });
    assert.equal(r.status, ResponseStatus.OK);
    assert.equal(r.bodyFlag, BodyFlag.RESPONSE_VALUE_WITH_ATTACHMENTS);
    assert.equal(r.frame.body[0], 0x94); // int 4
    assert.ok(r.frame.body.subarray(1, 1 + argBytes.length).equals(argBytes));
  } finally {
    await raw.close();
  }
});

test('business exception sets err; unknown method, version or group is SERVICE_NOT_FOUND', async () => {
  const failed = await consumer.fail('boom');
  assert.equal(failed.res, null);
  assert.ok(failed.err instanceof Error);
  assert.equal(failed.err.message, 'boom');
  assert.equal(failed.err.name, 'java.lang.RuntimeException');

  const noMethod = await consumer.call(DEMO_SERVICE, 'nope');
  assert.match(String(noMethod.err?.message), /SERVICE_NOT_FOUND/);
  const badVersion = await consumer.whoami(DEMO_SERVICE, { version: '9.9.9' });
  assert.match(String(badVersion.err?.message), /SERVICE_NOT_FOUND/);
  const badGroup = await consumer.whoami(DEMO_SERVICE, { group: 'other' });
  assert.match(String(badGroup.err?.message), /SERVICE_NOT_FOUND/);

  // The raw view: status 20 + exception flag, and status 60 with a message string.
  const raw = await DubboRawClient.connect(provider.port);
  try {
    const [ex, nf] = await raw.pipeline([
      { service: DEMO_SERVICE, method: 'fail', args: [java.String('bad')] },
      { service: 'no.such.Service', method: 'x' },
    ]);
    assert.equal(ex!.status, ResponseStatus.OK);
    assert.equal(ex!.bodyFlag, BodyFlag.RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS);
    assert.equal((ex!.exception as Error).message, 'bad');
    assert.equal(nf!.status, ResponseStatus.SERVICE_NOT_FOUND);
    assert.match(nf!.errorMessage!, /^SERVICE_NOT_FOUND#Service not found with no.such.Service/);
  } finally {
    await raw.close();
  }
});

test('attachments reach the provider and come back in the response', async () => {
  const one = await consumer.getAttachment('x-trace-id', { attachments: { 'x-trace-id': 'abc-123' } });
  assert.deepEqual(one, { res: 'abc-123', err: null });
  const all = await consumer.getAttachments({ attachments: { tenant: 't1' }, timeoutMs: 1500 });
  assert.equal(all.err, null);
  assert.deepEqual(all.res, {
    path: DEMO_SERVICE,
    interface: DEMO_SERVICE,
    version: '1.0.0',
    timeout: 1500,
    application: 'dubbo-js',
    tenant: 't1',
  });

  const raw = await DubboRawClient.connect(provider.port);
  try {
    const r = await raw.request({ service: DEMO_SERVICE, method: 'whoami', attachments: { 'x-trace-id': 'raw-1' } });
    assert.equal(r.value, 'p1');
    assert.deepEqual(r.attachments, { dubbo: '2.0.2', provider: 'p1', 'x-trace-id': 'raw-1' });
  } finally {
    await raw.close();
  }
});

test('group and version select the service', async () => {
  const grouped = await startProvider({ name: 'p-g', group: 'g1', version: '2.0.0' });
  const c = createConsumer(grouped.address, { timeoutMs: 1000 });
  try {
    assert.deepEqual(await c.whoami(DEMO_SERVICE, { group: 'g1', version: '2.0.0' }), { res: 'p-g', err: null });
    assert.deepEqual(await c.whoami(OTHER_SERVICE, { group: 'g1', version: '2.0.0' }), { res: 'p-g', err: null });
    const got = await c.getAttachment('group', { group: 'g1', version: '2.0.0' });
    assert.equal(got.res, 'g1');
    assert.match(String((await c.whoami(DEMO_SERVICE, { version: '2.0.0' })).err?.message), /SERVICE_NOT_FOUND/);
    assert.match(String((await c.whoami(DEMO_SERVICE, { group: 'g1' })).err?.message), /SERVICE_NOT_FOUND/);
  } finally {
    c.close();
    await grouped.stop();
  }
});

test('consumer timeout: sleep longer than the timeout gives err', async () => {
  const t0 = Date.now();
  const slow = await consumer.sleep(400, { timeoutMs: 100 });
  assert.ok(slow.err);
  assert.equal(slow.err.constructor.name, 'DubboInvokeTimeout'); // its .name is plain 'Error'
  assert.match(slow.err.message, /^invoke org\.apache\.dubbo\.demo\.DemoService#sleep/);
  assert.ok(Date.now() - t0 < 350);
  assert.deepEqual(await consumer.sleep(20), { res: 20, err: null });
});

test('raw client: 64 pipelined requests in one write, answered out of order, matched by id', async () => {
  const raw = await DubboRawClient.connect(provider.port);
  try {
    const specs: RequestSpec[] = [];
    for (let i = 0; i < 64; i++) {
      // Later requests sleep less, so responses come back in a different order than sent.
      specs.push(i % 2 === 0 ? { service: DEMO_SERVICE, method: 'sleep', args: [java.long((63 - i) * 2)] } : hello(`n${i}`));
    }
    const responses = await raw.pipeline(specs);
    responses.forEach((r, i) => {
      assert.equal(r.status, ResponseStatus.OK);
      assert.equal(r.id, BigInt(i + 1));
      assert.equal(r.value, i % 2 === 0 ? (63 - i) * 2 : `Hello n${i} from p1`);
    });
    const order = raw.frames.map((f) => Number(f.id));
    assert.equal(order.length, 64);
    assert.notDeepEqual(order, [...order].sort((a, b) => a - b));
  } finally {
    await raw.close();
  }
});

test('raw client: heartbeat answered with the same id, flags 0x22, status 20', async () => {
  const raw = await DubboRawClient.connect(provider.port);
  try {
    const hb = await raw.heartbeat({ id: 77n });
    assert.equal(hb.heartbeat, true);
    assert.equal(hb.id, 77n);
    assert.equal(hb.frame.flags, FLAGS_HEARTBEAT_RESPONSE);
    assert.equal(hb.status, ResponseStatus.OK);
    assert.equal(hb.value, null);
    // The connection still serves calls.
    assert.equal((await raw.request(hello('after-hb'))).value, 'Hello after-hb from p1');
  } finally {
    await raw.close();
  }
});

test('raw client: one-way request reaches the provider and gets no response', async () => {
  const raw = await DubboRawClient.connect(provider.port);
  try {
    const before = (await consumer.stats()).res!;
    const id = raw.oneway(hello('one-way'));
    const r = await raw.request(hello('two-way'));
    assert.equal(r.value, 'Hello two-way from p1');
    assert.equal(raw.frames.length, 1);
    assert.ok(!raw.frames.some((f) => f.id === id));
    const afterStats = (await consumer.stats()).res!;
    assert.equal(afterStats.oneway! - before.oneway!, 1);
  } finally {
    await raw.close();
  }
});

test('raw client: 64-bit ids are echoed exactly', async () => {
  const raw = await DubboRawClient.connect(provider.port);
  try {
    for (const id of [0n, 0xffffffffffffffffn, 0x8000000000000001n, 2n ** 53n + 1n]) {
      const r = await raw.request(hello('id'), { id });
      assert.equal(r.id, id);
    }
  } finally {
    await raw.close();
  }
});

test('raw client: malformed frames', async () => {
  const raw = await DubboRawClient.connect(provider.port);
  try {
    // A body that is not hessian: status 40, and the connection stays usable.
    raw.write(encodeFrame({ flags: 0xc2, id: 5n }, Buffer.from([0xff, 0xff, 0xff])));
    const bad = await raw.expect(5n);
    assert.equal(bad.status, ResponseStatus.BAD_REQUEST);
    assert.match(bad.errorMessage!, /^BAD_REQUEST#/);
    // Unsupported serialization id (4 = java): status 40.
    raw.write(encodeRequest(6n, hello('x'), { flags: 0xc4 }));
    assert.equal((await raw.expect(6n)).status, ResponseStatus.BAD_REQUEST);
    // A bad parameter descriptor: status 40.
    raw.write(encodeRequest(7n, { ...hello('x'), parameterTypes: 'Q' }));
    assert.equal((await raw.expect(7n)).status, ResponseStatus.BAD_REQUEST);
    assert.equal((await raw.request(hello('still-ok'))).value, 'Hello still-ok from p1');
    // Bad magic: the provider closes the connection.
    raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await raw.closed();
  } finally {
    await raw.close();
  }
  const s = (await consumer.stats()).res!;
  assert.ok(s.badRequests! >= 3);
  assert.ok(s.badFrames! >= 1);
});

test('provider-initiated heartbeats (--heartbeat-ms) are answered by the raw client', async () => {
  const p = await startProvider({ name: 'p-hb', heartbeatMs: 50 });
  const raw = await DubboRawClient.connect(p.port);
  try {
    const hb = await raw.waitForFrame((f) => f.isRequest && f.isEvent, 1000);
    assert.equal(hb.flags, FLAGS_HEARTBEAT_REQUEST);
    const stats = await raw.request({ service: DEMO_SERVICE, method: 'stats' });
    // At least the first heartbeat's reply reached the provider before the stats call.
    assert.ok((stats.value as Record<string, number>).heartbeatResponses! >= 1);
  } finally {
    await raw.close();
    await p.stop();
  }
});

test('fixed port, connectionInfo, kill() and the consumer seeing the provider gone', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const p = await startProvider({ name: 'p-fixed', port });
  assert.equal(p.port, port);
  const c = createConsumer(p.address, { timeoutMs: 500 });
  try {
    const info = await c.connectionInfo();
    assert.equal(info.err, null);
    assert.equal(info.res!.connectionId, 1);
    assert.equal(info.res!.requestsOnConnection, 1);
    p.kill();
    assert.equal(await p.exited, null); // killed by a signal
    const gone = await c.whoami();
    assert.ok(gone.err);
  } finally {
    c.close();
    await p.stop();
  }
});
