// A toy-protocol server for the example: answers every request with "<name>: <body>" and its
// metadata echoed back, heartbeats with heartbeats, and echoes streams frame by frame.
// `node toy-server.mjs NAME PORT`.
import net from 'node:net';
import { decodeToyFrame, encodeToyFrame } from './toy-codec.mjs';

export function startToyServer({ name, port = 0, host = '127.0.0.1' }) {
  const seen = [];
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
        const size = 4 + pending.readUInt32BE(0);
        const frame = decodeToyFrame(pending.subarray(0, size));
        pending = pending.subarray(size);
        seen.push(frame);
        if (frame.type === 'heartbeat') socket.write(encodeToyFrame('heartbeat', frame.id, new Map(), ''));
        // Streams: greet on open, echo each data frame, close when the client half-closes.
        if (frame.type === 'stream_init') socket.write(encodeToyFrame('stream_data', frame.id, new Map([['server', name]]), `${name}: stream open`));
        if (frame.type === 'stream_data') socket.write(encodeToyFrame('stream_data', frame.id, new Map(), `${name}: ${frame.body.toString()}`));
        if (frame.type === 'stream_close_one_way') socket.write(encodeToyFrame('stream_close_two_way', frame.id, new Map(), ''));
        if (frame.type !== 'request') continue;
        const reply = () => socket.write(encodeToyFrame('response', frame.id, new Map([['server', name], ...frame.meta]), `${name}: ${frame.body.toString()}`));
        const delay = Number(frame.meta.get('delay-ms') ?? 0);
        if (delay > 0) setTimeout(reply, delay);
        else reply();
      }
    });
    socket.on('error', () => {});
  });
  return new Promise((resolve) => {
    server.listen(port, host, () => {
      const close = () =>
        new Promise((r) => {
          server.close(() => r());
          for (const s of sockets) s.destroy();
        });
      resolve({ port: server.address().port, seen, close, server });
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [name = 'toy', port = '9100'] = process.argv.slice(2);
  const s = await startToyServer({ name, port: Number(port) });
  process.stdout.write(`toy server ${name} on 127.0.0.1:${s.port}\n`);
}
