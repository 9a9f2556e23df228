/**
 * Proves the Thrift test peers (test/support/thrift-peers.ts) against each other, then puts the
 * Thrift codec between them in a tiny loopback relay that forwards only the frames the codec
 * cut, so its frameLength/decode meet the real bytes of npm thrift's wire, chunked as TCP
 * delivered them and re-split into pieces. The relay also does what the proxy will do:
 * rewrites request ids (and puts them back on responses), applies a mutation, and answers one
 * method itself with onError().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import type { MetaError, MetaMessage } from '../../src/api/meta-protocol-codec.js';
import { thriftCodecFactory, type ThriftCodec } from '../../src/extensions/codecs/thrift/meta-codec.js';
import {
  createThriftClient,
  startThriftServer,
  type EchoError,
  type TApplicationException,
  type ThriftPeerOptions,
} from '../support/thrift-peers.js';

const COMBOS: ThriftPeerOptions[] = [
  { transport: 'framed', protocol: 'binary' },
  { transport: 'unframed', protocol: 'binary' },
  { transport: 'framed', protocol: 'compact' },
  { transport: 'unframed', protocol: 'compact' },
  { transport: 'header', protocol: 'binary' },
  { transport: 'header', protocol: 'compact' },
];

const label = (o: ThriftPeerOptions): string => `${o.transport}+${o.protocol}`;

for (const opts of COMBOS) {
  test(`${label(opts)}: the npm client talks to the npm server directly`, async () => {
    const server = await startThriftServer({ ...opts, name: 's1' });
    const client = await createThriftClient(server.port, opts);
    try {
      if (opts.transport === 'header') client.setHeader('Tenant', 't1');
      assert.equal(await client.echo('hello ✓'), 'hello ✓');
      assert.equal(await client.whoami(), 's1');
      assert.equal(await client.add(2, -5), -3);
      const p = await client.bulk({ name: 'n', tags: ['a', 'b'], children: [{ name: 'kid', codes: [1, 2] }], blob: Buffer.from('xy') });
      assert.equal(p.server, 's1');
      assert.deepEqual(p.tags, ['a', 'b']);
      assert.equal(p.children![0]!.name, 'kid');
      await assert.rejects(client.fail('nope', 7), (e: EchoError) => e.code === 7 && e.message === 'nope' && e.server === 's1');
      await client.fire('f1');
      assert.deepEqual(await client.headers(), opts.transport === 'header' ? { Tenant: 't1' } : {});
      await client.ping();
      assert.deepEqual(server.fired, ['f1']);
      assert.equal(server.calls, 8);
      assert.equal(server.callsByMethod.get('echo'), 1);
      assert.equal(server.connections, 1);
    } finally {
      client.close();
      await server.stop();
    }
  });
}

interface Relay {
  port: number;
  /** Every frame the codecs decoded, by side. */
  downstream: MetaMessage[];
  upstream: MetaMessage[];
  /** Bytes left uncut in each direction when the last connection closed. */
  leftover: number;
  close(): Promise<void>;
}

interface RelayOptions {
  /** Give requests ids from 1000 upwards on the way up, and put the originals back. */
  rewriteIds: boolean;
  mutation: ReadonlyMap<string, string>;
  /** Answer this request locally with onError. */
  answer(m: MetaMessage): MetaError | undefined;
}

function codec(): ThriftCodec {
  return thriftCodecFactory.createCodec({}) as ThriftCodec;
}

async function startRelay(upstreamPort: number, options: RelayOptions): Promise<Relay> {
  const relay: Relay = { port: 0, downstream: [], upstream: [], leftover: 0, close: async () => {} };
  let nextId = 1000;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect(upstreamPort, '127.0.0.1');
    sockets.add(down).add(up);
    const downCodec = codec();
    const upCodec = codec();
    const original = new Map<number, number | bigint>();
    /** Cuts frames from each chunk, fed to the codec in pieces (1 byte, 3 bytes, two halves of the rest). */
    const cutter = (c: ThriftCodec, onFrame: (frame: Buffer) => void) => {
      let buffered = Buffer.alloc(0);
      return {
        push(chunk: Buffer) {
          const half = 4 + Math.ceil((chunk.length - 4) / 2);
          for (const [from, to] of [[0, 1], [1, 4], [4, half], [half, chunk.length]] as const) {
            if (from >= chunk.length) break;
            buffered = Buffer.concat([buffered, chunk.subarray(from, to)]);
            for (let n = c.frameLength(buffered); n > 0 && buffered.length >= n; n = c.frameLength(buffered)) {
              onFrame(Buffer.from(buffered.subarray(0, n)));
              buffered = buffered.subarray(n);
            }
          }
        },
        get left() {
          return buffered.length;
        },
      };
    };
    const fromDown = cutter(downCodec, (frame) => {
      const m = downCodec.decode(frame, 'downstream');
      relay.downstream.push(m);
      const error = options.answer(m);
      if (error !== undefined) {
        down.write(downCodec.onError(m, error));
        return;
      }
      let out = downCodec.encode(m, frame, options.mutation);
      if (options.rewriteIds && m.type === 'request') {
        const id = nextId++;
        original.set(id, m.requestId);
        out = downCodec.setRequestId(out, m, id);
      }
      up.write(out);
    });
    const fromUp = cutter(upCodec, (frame) => {
      const m = upCodec.decode(frame, 'upstream');
      relay.upstream.push(m);
      let out = frame;
      if (options.rewriteIds) {
        const id = original.get(Number(m.requestId));
        assert.ok(id !== undefined, `a response to unknown id ${m.requestId}`);
        original.delete(Number(m.requestId));
        out = upCodec.setRequestId(frame, m, id);
      }
      down.write(out);
    });
    down.on('data', (chunk) => fromDown.push(chunk));
    up.on('data', (chunk) => fromUp.push(chunk));
    const end = (): void => {
      relay.leftover += fromDown.left + fromUp.left;
      down.destroy();
      up.destroy();
    };
    down.on('close', end).on('error', () => {});
    up.on('close', end).on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  relay.port = (server.address() as net.AddressInfo).port;
  relay.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return relay;
}

for (const opts of COMBOS) {
  test(`${label(opts)}: through a codec relay: ids rewritten, mutation, local error replies`, async () => {
    const server = await startThriftServer({ ...opts, name: 'up1' });
    const relay = await startRelay(server.port, {
      rewriteIds: true,
      mutation: new Map([['x-courier', 'relay']]),
      answer: (m) =>
        m.metadata.get('method') === 'ping' ? { type: 'route_not_found', message: 'no route for method ping' } : undefined,
    });
    const client = await createThriftClient(relay.port, opts);
    try {
      if (opts.transport === 'header') client.setHeader('Tenant', 't1');
      // Concurrent calls, answered out of order (sleep), over one connection.
      const big = 'x'.repeat(70_000);
      const [slow, echo, sum, bulk, whoami] = await Promise.all([
        client.sleep(30),
        client.echo(big),
        client.add(40, 2),
        client.bulk({ name: 'n', series: { s: [0.5, 1.5] }, children: [{ name: 'kid', children: [{ name: 'deep' }] }] }),
        client.whoami(),
      ]);
      assert.equal(slow, 30);
      assert.equal(echo, big);
      assert.equal(sum, 42);
      assert.equal(bulk.children![0]!.children![0]!.name, 'deep');
      assert.equal(bulk.server, 'up1');
      assert.equal(whoami, 'up1');
      await assert.rejects(client.fail('declared', 3), (e: EchoError) => e.code === 3 && e.server === 'up1');
      await assert.rejects(
        client.ping(),
        (e: TApplicationException) => e.type === 1 && e.message === 'no route for method ping',
      );
      await client.fire('oneway through');
      const headers = await client.headers();
      if (opts.transport === 'header') assert.deepEqual(headers, { Tenant: 't1', 'x-courier': 'relay' });
      else assert.deepEqual(headers, {}, 'framed/unframed: the mutation has nowhere to go');
      assert.equal(await client.echo('after'), 'after');

      assert.deepEqual(server.fired, ['oneway through']);
      assert.equal(server.callsByMethod.get('ping'), undefined, 'ping was answered by the relay');
      const methods = relay.downstream.map((m) => `${m.type}:${m.metadata.get('method')}`);
      assert.deepEqual(methods, [
        'request:sleep',
        'request:echo',
        'request:add',
        'request:bulk',
        'request:whoami',
        'request:fail',
        'request:ping',
        'oneway:fire',
        'request:headers',
        'request:echo',
      ]);
      assert.deepEqual(
        relay.downstream.map((m) => m.requestId),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        "the client's seqids",
      );
      // Upstream saw the relay's ids; the declared exception is a business exception.
      assert.equal(relay.upstream.length, 8);
      assert.ok(relay.upstream.every((m) => m.type === 'response' && Number(m.requestId) >= 1000));
      const failed = relay.upstream.find((m) => m.metadata.get('method') === 'fail');
      assert.equal(failed?.businessException, true);
      assert.equal(relay.upstream.filter((m) => m.businessException).length, 1);
    } finally {
      client.close();
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(relay.leftover, 0, 'every byte was cut into frames');
      await relay.close();
      await server.stop();
    }
  });
}
