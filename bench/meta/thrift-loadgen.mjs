#!/usr/bin/env node
// Thrift load generator: a fixed number of calls in flight on raw sockets, framed transport,
// strict binary protocol. No npm thrift on this side: its client is too slow to load a proxy.
//
//   node bench/meta/thrift-loadgen.mjs --port P [--connections 4] [--depth 16] [--warmup 1]
//        [--duration 5] [--size 1024] [--frames 256] [--watch name:pid,...]
//
// Before the clock starts it encodes --frames distinct CALL frames `echo(1: string msg)`, msg
// a --size character ASCII string (a different one per frame), as the generated client
// writes them (TFramedTransport + TBinaryProtocol, strict). Then it opens --connections
// sockets and keeps --depth calls in flight on each (connections × depth in all). Each
// in-flight slot owns its own frames and, per send, only rewrites their seqid:
// seqid = n × slots + slot, n a per-slot sequence number (wrapping below 2^31). Replies are
// parsed by frame length (thrift-wire.mjs: only the message header and the struct's first
// field header are read, the rest is skipped): the seqid gives the slot, the message type must
// be REPLY and the result's field must be 0 (success). A reply immediately sends the slot's next
// call; the sends of one 'data' event go out in one writev (cork/uncork).
// The first reply on each connection is also checked further, once, outside the measurement:
// field 0 is a string of --size bytes.
//
// Output and CPU accounting are bench/dubbo/loadgen.mjs's (bench/dubbo/cpu.mjs, reused): calls
// completed during the first --warmup seconds are not counted; the latency (send to the
// arrival of the 'data' event holding the reply) of every call completed in the next --duration
// seconds goes into a preallocated Float64Array. Prints one JSON line:
//   {calls_per_s, p50_ms, p99_ms, errors, calls, ..., cpu_pct: {loadgen, <watched>, machine_busy, other, steal}}
// errors = EXCEPTION or non-success replies + unknown seqids + calls unanswered 2 s after the
// end + socket errors/closes.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { cpuWatcher } from '../dubbo/cpu.mjs';
import { CALL, EXCEPTION, REPLY, encodeFrame, frameScanner, seqidOffset } from './thrift-wire.mjs';

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
  console.error('usage: thrift-loadgen.mjs --port P [--connections C] [--depth D] [--warmup S] [--duration S] [--size N] [--frames N] [--watch name:pid,...]');
  process.exit(2);
}
const PORT = Number(opts.port);
const CONNECTIONS = Number(opts.connections);
const DEPTH = Number(opts.depth);
const WARMUP_MS = Number(opts.warmup) * 1000;
const DURATION_MS = Number(opts.duration) * 1000;
const SIZE = Number(opts.size);
const SLOTS = CONNECTIONS * DEPTH;
const FRAMES = Math.max(Number(opts.frames), SLOTS);
const WRAP = Math.floor(0x7fffffff / SLOTS); // n stays below this, so seqids stay positive i32
const UNANSWERED_GRACE_MS = 2000;
const METHOD = 'echo';
const SEQID_AT = seqidOffset(METHOD);
const T_STRING = 11;

// ---------------------------------------------------------------------------------------
// call frames, encoded once

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
function randomString(n) {
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[(Math.random() * ALPHABET.length) | 0];
  return s;
}
const frames = [];
for (let i = 0; i < FRAMES; i++) frames.push(encodeFrame(CALL, METHOD, 0, 1, randomString(SIZE)));
const requestBytes = frames[0].length;

// ---------------------------------------------------------------------------------------
// state

const latencies = new Float64Array(Math.max(1, Math.ceil((DURATION_MS / 1000) * 400_000)));
let recorded = 0;
let calls = 0;
let phase = 'warmup'; // warmup → measure → drain → done
const errors = { exception: 0, not_success: 0, unknown_seqid: 0, unanswered: 0, socket: 0 };
let sanity = null;
let windowStart = 0;
let windowEnd = 0;

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
  const n = (seq[slot] = (seq[slot] + 1) % WRAP);
  const f = own[n % own.length];
  f.writeInt32BE(n * SLOTS + slot, SEQID_AT);
  return f;
}

/** The result struct's first field: [type, id] (prefix from thrift-wire's scanner). */
function firstField(prefix, prefixLength) {
  const at = 12 + prefix.readInt32BE(8) + 4;
  if (prefixLength < at + 3) return null;
  return [prefix[at], prefix.readInt16BE(at + 1), at];
}

function checkFirst(type, prefix, prefixLength, frameLength) {
  if (type !== REPLY) return `first reply has message type ${type}`;
  const f = firstField(prefix, prefixLength);
  if (!f) return 'first reply too short to hold a result field';
  const [ftype, fid, at] = f;
  if (ftype !== T_STRING || fid !== 0) return `first reply's result field is type ${ftype} id ${fid}, not a string success`;
  if (prefixLength < at + 7) return 'first reply too short to hold the string length';
  const len = prefix.readInt32BE(at + 3);
  if (len !== SIZE) return `first reply's string has ${len} bytes, not ${SIZE}`;
  if (frameLength !== at + 7 + len + 1) return `first reply frame is ${frameLength} bytes, expected ${at + 7 + len + 1}`;
  return 'ok';
}

function startConnection(index) {
  const socket = net.connect({ port: PORT, host: opts.host });
  socket.setNoDelay(true);
  const first = index * DEPTH;
  let open = true;
  let checkedFirst = false;
  let now = 0;
  const toSend = [];

  const feed = frameScanner((type, seqid, prefix, prefixLength, frameLength) => {
    if (type === CALL || type === 4 /* ONEWAY */) return; // not a reply: not ours
    const slot = seqid % SLOTS;
    const n = (seqid - slot) / SLOTS;
    if (seqid < 0 || slot < first || slot >= first + DEPTH || seq[slot] !== n || Number.isNaN(sentAt[slot])) {
      errors.unknown_seqid++;
      return;
    }
    let ok = type === REPLY;
    if (!ok) {
      if (type === EXCEPTION) errors.exception++;
      else errors.not_success++;
    } else {
      const f = firstField(prefix, prefixLength);
      if (!f || f[1] !== 0) {
        ok = false;
        errors.not_success++;
      }
    }
    if (!checkedFirst) {
      checkedFirst = true;
      const verdict = checkFirst(type, prefix, prefixLength, frameLength);
      if (sanity === null || sanity === 'ok') sanity = verdict;
    }
    const t0 = sentAt[slot];
    sentAt[slot] = NaN;
    outstanding--;
    if (phase === 'measure' && ok) {
      calls++;
      if (recorded < latencies.length) latencies[recorded++] = now - t0;
    }
    if (phase !== 'drain' && phase !== 'done' && open) toSend.push(slot);
  });

  socket.on('connect', () => {
    socket.cork();
    for (let s = first; s < first + DEPTH; s++) {
      socket.write(nextFrame(s));
      sentAt[s] = performance.now();
      outstanding++;
    }
    socket.uncork();
  });

  socket.on('data', (chunk) => {
    now = performance.now();
    if (!feed(chunk)) {
      errors.socket++;
      socket.destroy();
      return;
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

function finish(cpuPct) {
  errors.unanswered = outstanding;
  phase = 'done';
  for (const s of sockets) s.destroy();
  const lat = latencies.subarray(0, recorded).sort();
  const pct = (p) => (recorded === 0 ? null : round(lat[Math.min(recorded - 1, Math.floor((p / 100) * recorded))], 3));
  const secs = (windowEnd - windowStart) / 1000;
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
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
    cpu_pct: cpuPct,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}
