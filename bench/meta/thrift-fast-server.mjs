#!/usr/bin/env node
// A Thrift server that does no work (framed transport, strict binary protocol): every CALL is
// answered with one pre-encoded REPLY `echo` -> a --size character string (field 0, success:
// the same shape and size as the real server's echo of a --size string) carrying the
// request's seqid. Request bodies are skipped, never decoded, so what a benchmark measures
// through a proxy is the proxy, not this server.
//
//   node bench/meta/thrift-fast-server.mjs --port P [--host 127.0.0.1] [--size 1024]
//
// Prints `READY <port>` once listening. ONEWAY calls get nothing; REPLY/EXCEPTION frames from
// the peer are ignored; a frame that is not framed strict binary closes the connection.
// The replies of all the calls completed in one 'data' event go out in one write.
// SIGTERM/SIGINT: close everything and exit 0.
import net from 'node:net';
import { parseArgs } from 'node:util';
import { CALL, REPLY, encodeFrame, frameScanner, seqidOffset } from './thrift-wire.mjs';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    size: { type: 'string', default: '1024' },
  },
});

const METHOD = 'echo';
const REPLY_FRAME = encodeFrame(REPLY, METHOD, 0, 0, 'r'.repeat(Number(opts.size)));
const SEQID_AT = seqidOffset(METHOD);

const sockets = new Set();

function onConnection(socket) {
  socket.setNoDelay(true);
  sockets.add(socket);
  socket.on('error', () => {});
  socket.on('close', () => sockets.delete(socket));

  let seqids = new Int32Array(256);
  let n = 0;
  const feed = frameScanner((type, seqid) => {
    if (type !== CALL) return;
    if (n === seqids.length) {
      const bigger = new Int32Array(n * 2);
      bigger.set(seqids);
      seqids = bigger;
    }
    seqids[n++] = seqid;
  });

  socket.on('data', (chunk) => {
    n = 0;
    if (!feed(chunk)) {
      socket.destroy();
      return;
    }
    if (n === 0) return;
    const size = REPLY_FRAME.length;
    const out = Buffer.allocUnsafe(size * n);
    for (let i = 0; i < n; i++) {
      REPLY_FRAME.copy(out, i * size);
      out.writeInt32BE(seqids[i], i * size + SEQID_AT);
    }
    socket.write(out);
  });
}

const server = net.createServer(onConnection);
server.on('error', (err) => {
  process.stderr.write(`thrift-fast-server: listen ${opts.host}:${opts.port} failed: ${err.message}\n`);
  process.exit(1);
});
server.listen(Number(opts.port), opts.host, () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});

function shutdown() {
  for (const s of sockets) s.destroy();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
