#!/usr/bin/env node
// A Dubbo provider that does no work: every two-way request frame is answered with one
// pre-encoded OK response (body flag 4 RESPONSE_VALUE_WITH_ATTACHMENTS, a --size character
// java.lang.String, attachments {dubbo: "2.0.2", provider: "fast"}: the same shape and about
// the same size as the real provider's echo of a --size string) carrying the request's id.
// Request bodies are skipped, never decoded, so what a benchmark measures through a proxy is
// the proxy, not this provider.
//
//   node bench/dubbo/fast-provider.mjs --port P [--host 127.0.0.1] [--size 1024]
//
// Prints `READY <port>` once listening. Heartbeat requests (event flag) get a heartbeat
// response with the same id; one-way requests get nothing; bad magic closes the connection.
// SIGTERM/SIGINT: close everything and exit 0.
import net from 'node:net';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const hessian = require('hessian.js');

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    size: { type: 'string', default: '1024' },
  },
});

const HEADER = 16;
const MAX_PAYLOAD = 8 * 1024 * 1024;
const STATUS_OK = 20;

function frame(flags, status, body) {
  const h = Buffer.alloc(HEADER);
  h.writeUInt16BE(0xdabb, 0);
  h[2] = flags;
  h[3] = status;
  h.writeUInt32BE(body.length, 12);
  return Buffer.concat([h, body]);
}

const value = 'r'.repeat(Number(opts.size));
const enc = new hessian.EncoderV2();
enc.write(4); // RESPONSE_VALUE_WITH_ATTACHMENTS
enc.write(value);
enc.write({ dubbo: '2.0.2', provider: 'fast' });
const RESPONSE = frame(0x02, STATUS_OK, enc.get());
const HEARTBEAT_RESPONSE = frame(0x22, STATUS_OK, Buffer.from([0x4e]));

const sockets = new Set();

function onConnection(socket) {
  socket.setNoDelay(true);
  sockets.add(socket);
  socket.on('error', () => {});
  socket.on('close', () => sockets.delete(socket));

  // Parser state: a partial header (up to 16 bytes) and the body bytes still to skip.
  const header = Buffer.alloc(HEADER);
  let have = 0;
  let skip = 0;
  let pendingFlags = 0;
  // Ids of the frames completed in this chunk (8 bytes each) and their template.
  let ids = Buffer.alloc(8 * 256);
  let templates = [];

  socket.on('data', (chunk) => {
    let off = 0;
    let n = 0;
    const len = chunk.length;
    while (off < len) {
      if (skip > 0) {
        const k = Math.min(skip, len - off);
        skip -= k;
        off += k;
        if (skip > 0) break;
      } else {
        const k = Math.min(HEADER - have, len - off);
        chunk.copy(header, have, off, off + k);
        have += k;
        off += k;
        if (have < HEADER) break;
        have = 0;
        if (header[0] !== 0xda || header[1] !== 0xbb) {
          socket.destroy();
          return;
        }
        pendingFlags = header[2];
        skip = header.readUInt32BE(12);
        if (skip > MAX_PAYLOAD) {
          socket.destroy();
          return;
        }
      }
      if (skip === 0) {
        // A whole frame has arrived: answer two-way requests (and heartbeats) only.
        const isRequest = (pendingFlags & 0x80) !== 0;
        const twoWay = (pendingFlags & 0x40) !== 0;
        if (!isRequest || !twoWay) continue;
        if ((n + 1) * 8 > ids.length) {
          const bigger = Buffer.alloc(ids.length * 2);
          ids.copy(bigger);
          ids = bigger;
        }
        header.copy(ids, n * 8, 4, 12);
        templates[n] = (pendingFlags & 0x20) !== 0 ? HEARTBEAT_RESPONSE : RESPONSE;
        n++;
      }
    }
    if (n === 0) return;
    let total = 0;
    for (let i = 0; i < n; i++) total += templates[i].length;
    const out = Buffer.allocUnsafe(total);
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const t = templates[i];
      t.copy(out, pos);
      ids.copy(out, pos + 4, i * 8, i * 8 + 8);
      pos += t.length;
    }
    socket.write(out);
  });
}

const server = net.createServer(onConnection);
server.on('error', (err) => {
  process.stderr.write(`fast-provider: listen ${opts.host}:${opts.port} failed: ${err.message}\n`);
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
