#!/usr/bin/env node
// Dubbo load generator: a fixed number of two-way calls in flight on raw sockets.
//
//   node bench/dubbo/loadgen.mjs --port P [--connections 4] [--depth 16] [--warmup 1] [--duration 5]
//        [--size 1024] [--frames 256] [--watch name:pid,...]
//
// Before the clock starts it encodes --frames distinct request frames with hessian.js, as
// apache-dubbo-consumer does: org.apache.dubbo.demo.DemoService version 1.0.0, method echo,
// one java.lang.String argument of --size ASCII characters (a different one per frame), and
// the consumer's attachments (path, interface, version, timeout, application).
// Then it opens --connections sockets and keeps --depth requests in flight on each
// (connections × depth in all). Each in-flight slot owns its own frames and, per send, only
// rewrites their 8-byte request id (high 32 bits a per-slot sequence number, low 32 bits
// the slot). Responses are parsed header only (16 bytes, then the body is skipped): the id
// gives the slot, the status must be 20 (OK). A response immediately sends the slot's next
// request; the sends of one 'data' event go out in one writev (cork/uncork).
// The first response on each connection is also decoded in full with hessian.js, once, as a
// sanity check (OK, a value, a string of --size characters), outside the measurement.
//
// Calls completed during the first --warmup seconds are not counted; latency (send to the
// arrival of the 'data' event holding the response) of every call completed in the next
// --duration seconds goes into a preallocated Float64Array. Prints one JSON line:
//   {calls_per_s, p50_ms, p99_ms, errors, calls, ...details}
// errors = non-OK responses + unknown ids + requests unanswered 2 s after the end + socket
// errors/closes. --watch name:pid,... also reports each process's CPU use (% of one core,
// from /proc/<pid>/stat utime+stime) over the measured window, the load generator's own as
// "loadgen", and from /proc/stat the whole machine's: machine_busy, other (busy minus the
// processes above: anything else running, or kernel work not charged to them) and steal.
import net from 'node:net';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { cpuWatcher } from './cpu.mjs';

const require = createRequire(import.meta.url);
const hessian = require('hessian.js');

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    connections: { type: 'string', default: '4' },
    depth: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '1' },
    duration: { type: 'string', default: '5' },
    size: { type: 'string', default: '1024' },
    frames: { type: 'string', default: '256' },
    watch: { type: 'string', default: '' },
  },
});
if (!opts.port) {
  console.error('usage: loadgen.mjs --port P [--connections C] [--depth D] [--warmup S] [--duration S] [--size N] [--frames N] [--watch name:pid,...]');
  process.exit(2);
}
const PORT = Number(opts.port);
const CONNECTIONS = Number(opts.connections);
const DEPTH = Number(opts.depth);
const WARMUP_MS = Number(opts.warmup) * 1000;
const DURATION_MS = Number(opts.duration) * 1000;
const SIZE = Number(opts.size);
const SLOTS = CONNECTIONS * DEPTH;
// At least one frame per slot; every slot owns the frames i ≡ slot (mod SLOTS).
const FRAMES = Math.max(Number(opts.frames), SLOTS);
const HEADER = 16;
const STATUS_OK = 20;
const UNANSWERED_GRACE_MS = 2000;

// ---------------------------------------------------------------------------------------
// request frames, encoded once

const SERVICE = 'org.apache.dubbo.demo.DemoService';
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomString(n) {
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[(Math.random() * ALPHABET.length) | 0];
  return s;
}

function encodeRequestFrame(arg) {
  const enc = new hessian.EncoderV2();
  enc.write('2.0.2');
  enc.write(SERVICE);
  enc.write('1.0.0');
  enc.write('echo');
  enc.write('Ljava/lang/String;');
  enc.write(arg);
  // The attachments apache-dubbo-consumer's DubboRequestEncoder writes.
  enc.write({
    $class: 'java.util.HashMap',
    $: { path: SERVICE, interface: SERVICE, version: '1.0.0', timeout: 3000, application: 'courier-bench' },
  });
  const body = enc.get();
  const f = Buffer.alloc(HEADER + body.length);
  f.writeUInt16BE(0xdabb, 0);
  f[2] = 0xc2; // request, two-way, hessian2
  f.writeUInt32BE(body.length, 12);
  body.copy(f, HEADER);
  return f;
}

const frames = [];
for (let i = 0; i < FRAMES; i++) frames.push(encodeRequestFrame(randomString(SIZE)));
const requestBytes = frames[0].length;

// ---------------------------------------------------------------------------------------
// state

const latencies = new Float64Array(Math.max(1, Math.ceil((DURATION_MS / 1000) * 400_000)));
let recorded = 0;
let calls = 0; // OK responses in the measured window
let phase = 'warmup'; // warmup → measure → drain
const errors = { bad_status: 0, unknown_id: 0, unanswered: 0, socket: 0 };
let sanity = null;
let windowStart = 0;
let windowEnd = 0;

// Per slot: the time its request was sent (NaN when free), its sequence number, its frames.
const sentAt = new Float64Array(SLOTS).fill(NaN);
const seq = new Uint32Array(SLOTS);
const slotFrames = [];
for (let s = 0; s < SLOTS; s++) {
  const own = [];
  for (let i = s; i < FRAMES; i += SLOTS) own.push(frames[i]);
  slotFrames.push(own);
}
let outstanding = 0;

function nextFrame(slot) {
  const own = slotFrames[slot];
  const n = ++seq[slot];
  const f = own[n % own.length];
  f.writeUInt32BE(n, 4);
  f.writeUInt32BE(slot, 8);
  return f;
}

function decodeSanity(bytes) {
  try {
    const d = new hessian.DecoderV2(bytes.subarray(HEADER));
    const flag = d.read();
    const value = d.read();
    const ok = bytes[3] === STATUS_OK && (flag === 1 || flag === 4) && typeof value === 'string' && value.length === SIZE;
    return ok ? 'ok' : `unexpected response: status ${bytes[3]}, body flag ${flag}, value ${typeof value} of length ${value?.length}`;
  } catch (e) {
    return `undecodable response: ${e.message}`;
  }
}

function startConnection(index) {
  const socket = net.connect({ port: PORT, host: opts.host });
  socket.setNoDelay(true);
  const first = index * DEPTH;
  let open = true;

  // Parser state: a partial header and the body bytes still to skip.
  const header = Buffer.alloc(HEADER);
  let have = 0;
  let skip = 0;
  let pendingSlot = -1;
  let pendingOk = false;
  let checkFirst = true;
  let firstBytes = null;

  const toSend = [];

  socket.on('connect', () => {
    socket.cork();
    for (let s = first; s < first + DEPTH; s++) {
      socket.write(nextFrame(s));
      sentAt[s] = performance.now();
      outstanding++;
    }
    socket.uncork();
  });

  const complete = (now) => {
    const slot = pendingSlot;
    pendingSlot = -1;
    if (slot < 0) return;
    const t0 = sentAt[slot];
    sentAt[slot] = NaN;
    outstanding--;
    if (phase === 'measure' && pendingOk) {
      calls++;
      if (recorded < latencies.length) latencies[recorded++] = now - t0;
    }
    if (phase !== 'drain' && open) toSend.push(slot);
  };

  socket.on('data', (chunk) => {
    const now = performance.now();
    let off = 0;
    const len = chunk.length;
    while (off < len) {
      if (skip > 0) {
        const k = Math.min(skip, len - off);
        if (firstBytes) firstBytes.push(chunk.subarray(off, off + k));
        skip -= k;
        off += k;
        if (skip > 0) break;
        if (firstBytes) {
          sanity ??= decodeSanity(Buffer.concat(firstBytes));
          firstBytes = null;
        }
        complete(now);
        continue;
      }
      const k = Math.min(HEADER - have, len - off);
      chunk.copy(header, have, off, off + k);
      have += k;
      off += k;
      if (have < HEADER) break;
      have = 0;
      if (header[0] !== 0xda || header[1] !== 0xbb) {
        errors.socket++;
        socket.destroy();
        return;
      }
      skip = header.readUInt32BE(12);
      const n = header.readUInt32BE(4);
      const slot = header.readUInt32BE(8);
      if ((header[2] & 0x80) !== 0 || (header[2] & 0x20) !== 0) {
        pendingSlot = -1; // a request or an event from the peer: not ours, skip it
      } else if (slot < first || slot >= first + DEPTH || seq[slot] !== n || Number.isNaN(sentAt[slot])) {
        errors.unknown_id++;
        pendingSlot = -1;
      } else {
        pendingOk = header[3] === STATUS_OK;
        if (!pendingOk) errors.bad_status++;
        pendingSlot = slot;
        if (checkFirst) {
          checkFirst = false;
          firstBytes = [Buffer.from(header)];
        }
      }
      if (skip === 0) complete(now);
    }
    if (toSend.length === 0) return;
    const t = performance.now();
    if (toSend.length === 1) {
      const s = toSend.pop();
      socket.write(nextFrame(s));
      sentAt[s] = t;
      outstanding++;
      return;
    }
    socket.cork();
    for (const s of toSend) {
      socket.write(nextFrame(s));
      sentAt[s] = t;
      outstanding++;
    }
    toSend.length = 0;
    socket.uncork();
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    open = false;
    if (phase !== 'done') errors.socket++;
  });
  return socket;
}

// ---------------------------------------------------------------------------------------
// run

const sockets = [];
for (let i = 0; i < CONNECTIONS; i++) sockets.push(startConnection(i));

const cpu = cpuWatcher(opts.watch);
let cpuA;
setTimeout(() => {
  phase = 'measure';
  windowStart = performance.now();
  cpuA = cpu.snapshot();
  setTimeout(() => {
    windowEnd = performance.now();
    const cpuB = cpu.snapshot();
    phase = 'drain';
    const deadline = performance.now() + UNANSWERED_GRACE_MS;
    const wait = setInterval(() => {
      if (outstanding > 0 && performance.now() < deadline) return;
      clearInterval(wait);
      finish(cpu.report(cpuA, cpuB));
    }, 10);
  }, DURATION_MS);
}, WARMUP_MS);

function round(v, digits) {
  const m = 10 ** digits;
  return Math.round(v * m) / m;
}

function finish(cpu) {
  errors.unanswered = outstanding;
  phase = 'done';
  for (const s of sockets) s.destroy();
  const lat = latencies.subarray(0, recorded).sort();
  const pct = (p) => (recorded === 0 ? null : round(lat[Math.min(recorded - 1, Math.floor((p / 100) * recorded))], 3));
  const secs = (windowEnd - windowStart) / 1000;
  const errorCount = errors.bad_status + errors.unknown_id + errors.unanswered + errors.socket;
  const out = {
    calls_per_s: round(calls / secs, 0),
    p50_ms: pct(50),
    p99_ms: pct(99),
    errors: errorCount,
    calls,
    window_s: round(secs, 3),
    in_flight: SLOTS,
    connections: CONNECTIONS,
    depth: DEPTH,
    request_bytes: requestBytes,
    latencies_recorded: recorded,
    max_ms: recorded ? round(lat[recorded - 1], 3) : null,
    error_detail: errors,
    first_response: sanity ?? 'none received',
    cpu_pct: cpu,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}
