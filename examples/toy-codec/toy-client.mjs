// A toy-protocol client for the example: `node toy-client.mjs PORT method=echo [body]` sends
// one request and prints the reply. Also used by the tests.
import net from 'node:net';
import { decodeToyFrame, encodeToyFrame } from './toy-codec.mjs';

export class ToyClient {
  #socket;
  #pending = Buffer.alloc(0);
  #waiting = new Map();
  #streams = new Map();
  #nextId = 1;

  static connect(port, host = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host, () => resolve(new ToyClient(socket)));
      socket.once('error', reject);
    });
  }

  constructor(socket) {
    this.#socket = socket;
    this.closed = new Promise((r) => socket.once('close', r));
    socket.on('data', (chunk) => {
      this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
      while (this.#pending.length >= 4 && this.#pending.length >= 4 + this.#pending.readUInt32BE(0)) {
        const size = 4 + this.#pending.readUInt32BE(0);
        const frame = decodeToyFrame(this.#pending.subarray(0, size));
        this.#pending = this.#pending.subarray(size);
        const reply = { type: frame.type, meta: frame.meta, body: frame.body.toString() };
        const stream = this.#streams.get(frame.id);
        if (stream && frame.type !== 'error') {
          stream.push(reply);
          continue;
        }
        const w = this.#waiting.get(frame.id);
        this.#waiting.delete(frame.id);
        if (w) w.resolve(reply);
        else stream?.push(reply);
      }
    });
    socket.on('close', () => {
      for (const w of this.#waiting.values()) w.reject(new Error('connection closed'));
      this.#waiting.clear();
    });
    socket.on('error', () => {});
  }

  /** Sends a request (or heartbeat) and resolves with the reply { type, meta, body }. */
  call(meta, body = '', type = 'request') {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#socket.write(encodeToyFrame(type, id, new Map(Object.entries(meta)), body));
    });
  }

  /**
   * Opens a stream: returns { send(body), halfClose(), close(), next() }, where next() resolves
   * with the next frame the server sent on the stream ({ type, meta, body }).
   */
  stream(meta) {
    const id = this.#nextId++;
    const frames = [];
    const waiters = [];
    this.#streams.set(id, {
      push: (f) => {
        const w = waiters.shift();
        if (w) w(f);
        else frames.push(f);
      },
    });
    const send = (type, body = '') => this.#socket.write(encodeToyFrame(type, id, new Map(), body));
    this.#socket.write(encodeToyFrame('stream_init', id, new Map(Object.entries(meta)), ''));
    return {
      send: (body) => send('stream_data', body),
      halfClose: () => send('stream_close_one_way'),
      close: () => send('stream_close_two_way'),
      next: () => (frames.length > 0 ? Promise.resolve(frames.shift()) : new Promise((r) => waiters.push(r))),
    };
  }

  /** Sends raw bytes (for malformed-input tests). */
  writeRaw(bytes) {
    this.#socket.write(bytes);
  }

  close() {
    this.#socket.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [port = '9000', ...rest] = process.argv.slice(2);
  const meta = Object.fromEntries(rest.filter((a) => a.includes('=')).map((a) => a.split('=', 2)));
  const body = rest.find((a) => !a.includes('=')) ?? 'hello';
  const client = await ToyClient.connect(Number(port));
  const reply = await client.call(meta, body);
  process.stdout.write(`${reply.type}: ${reply.body}\n`);
  client.close();
}
