#!/usr/bin/env node
'use strict';
/*
 * A real Dubbo (hessian2) provider for Courier's tests, built on the npm package
 * `apache-dubbo-service` (apache/dubbo-js, branch dubbo2).
 *
 *   node test/support/dubbo-provider-main.cjs --port P --name NAME [--version 1.0.0] [--group g]
 *        [--host 127.0.0.1] [--heartbeat-ms N] [--watch-stdin]
 *
 *  --heartbeat-ms N  also send a heartbeat request (flags 0xe2, ids from 0x40000000_00000001) on every
 *                    connection each N ms, as a Java provider does after 60 s idle.
 *  --watch-stdin     exit when stdin reaches EOF (the harness spawns with a pipe it never writes).
 *
 * Prints exactly one line on stdout, `READY <port>`, once listening (port 0 = pick a free one).
 * SIGTERM/SIGINT: close the listener and every connection, then exit 0.
 *
 * What comes from the library: service routing by path/version/group (DubboService#matchService),
 * the per-call Context, the koa-style middleware chain, the response header encoder.
 * What this file replaces, and why (each is a bug or gap of apache-dubbo-service@0.0.1):
 *  - listen: the library calls server.listen(randomPort in 20888-30000) on all interfaces; here we bind
 *    --host (127.0.0.1) on --port, 0 allowed.
 *  - socket handling: the library answers a heartbeat with request id 0 and status 0, answers
 *    one-way requests, and its async frame handler turns a hessian decode error into an unhandled
 *    rejection (which kills the process on Node 20). Here: heartbeat replies carry the request's id,
 *    status 20 and flags 0x22 (as Java Dubbo's HeaderExchangeHandler); one-way requests get no reply;
 *    undecodable two-way requests get status 40 (BAD_REQUEST); a frame with bad magic or a body over
 *    8 MiB closes the connection.
 *  - request decoding: the library splits the parameter descriptor on ';' (so "JJ" is one argument)
 *    and loses the request id above 2^53. Here the descriptor is parsed properly, the raw hessian
 *    bytes of each argument are kept (echo returns them byte for byte) and the raw id is echoed.
 *  - response body: the library writes a falsy result (0, false, '') as a null value and an exception
 *    as a bare string. Here only null/undefined are "null value", and an exception is a
 *    java.lang.RuntimeException object (hessian.js decodes it to an Error with the message).
 */

const net = require('net');
const hessian = require('hessian.js');
const java = require('js-to-java');
const { DubboService, dubboSetting } = require('apache-dubbo-service');
const serialization = require('apache-dubbo-serialization');
const decodeModule = require('apache-dubbo-serialization/lib/decode-hessian2');
const { util: dubboUtil } = require('apache-dubbo-common');

const { DubboResponseEncoder, DUBBO_RESPONSE_STATUS, Request } = serialization;

// ------------------------------------------------------------------------------------------------
// arguments

function parseArgs(argv) {
  const out = { port: 0, name: '', version: '1.0.0', group: '', host: '127.0.0.1', heartbeatMs: 0, watchStdin: false };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const val = argv[i + 1];
    switch (key) {
      case '--port': out.port = Number(val); i++; break;
      case '--name': out.name = String(val); i++; break;
      case '--version': out.version = String(val); i++; break;
      case '--group': out.group = String(val); i++; break;
      case '--host': out.host = String(val); i++; break;
      case '--heartbeat-ms': out.heartbeatMs = Number(val); i++; break;
      case '--watch-stdin': out.watchStdin = true; break;
      default:
        process.stderr.write(`dubbo-provider: unknown argument ${key}\n`);
        process.exit(2);
    }
  }
  if (!out.name) {
    process.stderr.write('usage: dubbo-provider-main.cjs --name NAME [--port P] [--version V] [--group G] [--host H] [--heartbeat-ms N] [--watch-stdin]\n');
    process.exit(2);
  }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) {
    process.stderr.write(`dubbo-provider: bad --port\n`);
    process.exit(2);
  }
  return out;
}

const opts = parseArgs(process.argv.slice(2));
const NAME = opts.name;
const MAX_PAYLOAD = 8 * 1024 * 1024;
const HEADER = 16;
const STANDARD_ATTACHMENTS = new Set(['path', 'interface', 'version', 'group', 'timeout', 'application', 'dubbo', 'input', 'side', 'remote.application']);

const stats = {
  connectionsAccepted: 0,
  connectionsOpen: 0,
  requests: 0,
  oneway: 0,
  heartbeats: 0,
  heartbeatResponses: 0,
  badRequests: 0,
  badFrames: 0,
};

function log(...args) {
  if (process.env.DUBBO_PROVIDER_VERBOSE) process.stderr.write(`[dubbo-provider ${NAME}] ${args.join(' ')}\n`);
}

// ------------------------------------------------------------------------------------------------
// request decoding (replaces apache-dubbo-serialization's decodeDubboRequest)

/** Splits a JVM method descriptor body ("Ljava/lang/String;J[I") into one entry per parameter. */
function splitDescriptor(desc) {
  const out = [];
  let i = 0;
  while (i < desc.length) {
    const start = i;
    while (desc[i] === '[') i++;
    if (desc[i] === 'L') {
      const end = desc.indexOf(';', i);
      if (end < 0) throw new Error(`bad parameter descriptor ${JSON.stringify(desc)}`);
      i = end + 1;
    } else if ('ZBCDFIJSV'.includes(desc[i])) {
      i++;
    } else {
      throw new Error(`bad parameter descriptor ${JSON.stringify(desc)}`);
    }
    out.push(desc.slice(start, i));
  }
  return out;
}

/** Raw hessian bytes of one argument: echo writes these back unchanged. */
class RawHessian {
  constructor(bytes) {
    this.bytes = bytes;
  }
}

// Frame -> connection info, so a decoded request knows which connection it came on.
const frameInfo = new WeakMap();

function decodeRequest(frame) {
  const info = frameInfo.get(frame) || {};
  const requestId = frame.readUInt32BE(4) * 4294967296 + frame.readUInt32BE(8);
  const req = new Request(requestId);
  req.rawId = frame.subarray(4, 12);
  req.connection = info;
  const body = frame.subarray(HEADER);
  const d = new hessian.DecoderV2(body);
  const dubboVersion = d.read();
  req.version = dubboVersion;
  req.attachment.dubbo = dubboVersion;
  req.attachment.path = d.read();
  req.attachment.version = d.read();
  req.methodName = d.read();
  const desc = d.read();
  if (typeof desc !== 'string') throw new Error('parameter descriptor is not a string');
  req.parameterTypeDesc = desc;
  req.parameterTypes = splitDescriptor(desc);
  req.args = [];
  req.rawArgs = [];
  for (let i = 0; i < req.parameterTypes.length; i++) {
    const start = d.byteBuffer.position();
    req.args.push(d.read());
    req.rawArgs.push(new RawHessian(body.subarray(start, d.byteBuffer.position())));
  }
  req.requestAttachments = {};
  if (d.byteBuffer.position() < body.length) {
    const attachments = d.read();
    if (attachments !== null && typeof attachments === 'object') {
      for (const k of Object.keys(attachments)) {
        req.attachment[k] = attachments[k];
        req.requestAttachments[k] = attachments[k];
      }
    }
  }
  return req;
}
// dubbo-service.js calls `apache_dubbo_serialization_1.decodeDubboRequest(data)`, and the package's
// index re-exports it through a getter reading this module's exports: patch it here.
decodeModule.decodeDubboRequest = decodeRequest;
if (serialization.decodeDubboRequest !== decodeRequest) throw new Error('could not patch decodeDubboRequest');

// ------------------------------------------------------------------------------------------------
// response body (replaces DubboResponseEncoder#encodeBody)

function toJavaException(err) {
  const message = err && err.message !== undefined ? String(err.message) : String(err);
  return {
    $class: 'java.lang.RuntimeException',
    $: {
      detailMessage: java.String(message),
      stackTrace: java.array('java.lang.StackTraceElement', []),
      cause: { $class: 'java.lang.Throwable', $: null },
    },
  };
}

DubboResponseEncoder.prototype.encodeBody = function encodeBody() {
  const ctx = this.ctx;
  const withAttachments = dubboUtil.Version.isSupportResponseAttachment(ctx.request.version);
  const build = (writeResult) => {
    const enc = new hessian.EncoderV2();
    writeResult(enc);
    if (withAttachments && ctx.status === DUBBO_RESPONSE_STATUS.OK) {
      enc.write(Object.assign({}, ctx.attachments, { dubbo: '2.0.2' }));
    }
    return enc.byteBuffer._bytes.slice(0, enc.byteBuffer._offset);
  };
  const writeException = (err) => (enc) => {
    enc.write(withAttachments ? 3 : 0); // RESPONSE_WITH_EXCEPTION[_WITH_ATTACHMENTS]
    enc.write(toJavaException(err));
  };
  let body;
  if (ctx.status !== DUBBO_RESPONSE_STATUS.OK) {
    const msg = ctx.body.err ? ctx.body.err.message : 'error';
    const enc = new hessian.EncoderV2();
    enc.write(`${DUBBO_RESPONSE_STATUS[ctx.status]}#${msg}`);
    body = enc.byteBuffer._bytes.slice(0, enc.byteBuffer._offset);
  } else if (ctx.body.err) {
    body = build(writeException(ctx.body.err));
  } else {
    const res = ctx.body.res;
    body = build((enc) => {
      if (res === null || res === undefined) {
        enc.write(withAttachments ? 5 : 2); // RESPONSE_NULL_VALUE[_WITH_ATTACHMENTS]
      } else {
        enc.write(withAttachments ? 4 : 1); // RESPONSE_VALUE[_WITH_ATTACHMENTS]
        if (res instanceof RawHessian) enc.byteBuffer.put(res.bytes);
        else enc.write(res);
      }
    });
  }
  if (body.length > MAX_PAYLOAD) {
    body = build(writeException(new Error(`Data length too large: ${body.length}, max payload: ${MAX_PAYLOAD}`)));
  }
  return body;
};

// ------------------------------------------------------------------------------------------------
// services

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The library calls a method with (...decodedArgs, ctx). */
function lastCtx(args) {
  return args[args.length - 1];
}

const DEMO = 'org.apache.dubbo.demo.DemoService';
const OTHER = 'org.apache.dubbo.demo.OtherService';

const services = {
  DemoService: {
    dubboInterface: DEMO,
    methods: {
      /** Returns its first argument, byte for byte (so every hessian type round-trips). */
      echo(...args) {
        const ctx = lastCtx(args);
        const raw = ctx.request.rawArgs || [];
        return raw.length > 0 ? raw[0] : null;
      },
      sayHello(name) {
        return `Hello ${name} from ${NAME}`;
      },
      whoami() {
        return NAME;
      },
      async sleep(ms) {
        await sleep(Number(ms) || 0);
        return java.long(Number(ms) || 0);
      },
      fail(msg) {
        throw new Error(typeof msg === 'string' ? msg : String(msg));
      },
      /** The value of one request attachment (null when absent). */
      getAttachment(key, ...rest) {
        const ctx = lastCtx(rest);
        const v = ctx.request.requestAttachments[key];
        return v === undefined ? null : v;
      },
      /** Every attachment the request carried, as a java.util.HashMap. */
      getAttachments(...args) {
        const ctx = lastCtx(args);
        return { $class: 'java.util.HashMap', $: Object.assign({}, ctx.request.requestAttachments) };
      },
      /** Which connection this call came on: {connectionId, remotePort, requestsOnConnection}. */
      connectionInfo(...args) {
        const c = lastCtx(args).request.connection;
        return {
          $class: 'java.util.HashMap',
          $: {
            connectionId: java.int(c.id || 0),
            remotePort: java.int(c.remotePort || 0),
            requestsOnConnection: java.int(c.requests || 0),
          },
        };
      },
      /** Provider-wide counters (connections, requests, oneway, heartbeats, badRequests, badFrames). */
      stats() {
        const out = {};
        for (const [k, v] of Object.entries(stats)) out[k] = java.int(v);
        return { $class: 'java.util.HashMap', $: out };
      },
    },
  },
  OtherService: {
    dubboInterface: OTHER,
    methods: {
      whoami() {
        return NAME;
      },
    },
  },
};

dubboSetting.match([DEMO, OTHER], { version: opts.version, group: opts.group });

const registry = { ready: async () => {}, registerServices: async () => {}, close() {} };
const service = DubboService.from({ registry, dubboSetting, services });

// Response attachments: who answered, plus every non-standard request attachment echoed back.
service.use(async (ctx, next) => {
  const extra = { provider: NAME };
  const reqAtt = ctx.request.requestAttachments || {};
  for (const k of Object.keys(reqAtt)) {
    if (!STANDARD_ATTACHMENTS.has(k)) extra[k] = reqAtt[k];
  }
  ctx.attachments = extra;
  await next();
});

// ------------------------------------------------------------------------------------------------
// connections (replaces DubboService#handleSocketRequest)

const sockets = new Set();
let connectionSeq = 0;
let heartbeatSeq = 0;

function header(flags, status, idBytes, bodyLength) {
  const h = Buffer.alloc(HEADER);
  h[0] = 0xda;
  h[1] = 0xbb;
  h[2] = flags;
  h[3] = status;
  idBytes.copy(h, 4, 0, 8);
  h.writeUInt32BE(bodyLength, 12);
  return h;
}

function stringBody(s) {
  const enc = new hessian.EncoderV2();
  enc.write(s);
  return enc.get();
}

function writeFrame(socket, flags, status, idBytes, body) {
  if (socket.destroyed) return;
  socket.write(Buffer.concat([header(flags, status, idBytes, body.length), body]));
}

async function handleFrame(socket, conn, frame) {
  const flags = frame[2];
  const isRequest = (flags & 0x80) !== 0;
  const twoWay = (flags & 0x40) !== 0;
  const isEvent = (flags & 0x20) !== 0;
  const serialization = flags & 0x1f;
  const idBytes = frame.subarray(4, 12);

  if (!isRequest) {
    // A response from the peer: only heartbeat replies are expected.
    if (isEvent) stats.heartbeatResponses++;
    return;
  }
  if (isEvent) {
    // Heartbeat (null body) or another event: answer two-way ones like Java's HeaderExchangeHandler.
    stats.heartbeats++;
    if (twoWay) writeFrame(socket, 0x20 | 0x02, DUBBO_RESPONSE_STATUS.OK, idBytes, Buffer.from([0x4e]));
    return;
  }
  stats.requests++;
  conn.requests++;
  if (!twoWay) stats.oneway++;
  if (serialization !== 2) {
    stats.badRequests++;
    if (twoWay) {
      writeFrame(socket, 0x02, DUBBO_RESPONSE_STATUS.BAD_REQUEST, idBytes,
        stringBody(`BAD_REQUEST#unsupported serialization id ${serialization}`));
    }
    return;
  }
  let ctx;
  try {
    frameInfo.set(frame, conn);
    ctx = await service.invokeComposeChainRequest(frame);
  } catch (err) {
    stats.badRequests++;
    log('bad request', err && err.message);
    if (twoWay) {
      writeFrame(socket, 0x02, DUBBO_RESPONSE_STATUS.BAD_REQUEST, idBytes,
        stringBody(`BAD_REQUEST#Fail to decode request due to: ${err && err.message}`));
    }
    return;
  }
  if (!twoWay) return;
  let out;
  try {
    out = new DubboResponseEncoder(ctx).encode();
  } catch (err) {
    const body = stringBody(`SERVER_ERROR#${err && err.message}`);
    out = Buffer.concat([header(0x02, DUBBO_RESPONSE_STATUS.SERVER_ERROR, idBytes, body.length), body]);
  }
  idBytes.copy(out, 4, 0, 8); // keep the exact 64-bit id
  if (!socket.destroyed) socket.write(out);
}

function onConnection(socket) {
  socket.setNoDelay(true);
  const conn = { id: ++connectionSeq, remotePort: socket.remotePort, requests: 0 };
  stats.connectionsAccepted++;
  stats.connectionsOpen++;
  sockets.add(socket);
  log('connection', conn.id, 'from', socket.remoteAddress, socket.remotePort);
  let heartbeatTimer = null;
  if (opts.heartbeatMs > 0) {
    heartbeatTimer = setInterval(() => {
      const id = Buffer.alloc(8);
      id.writeUInt32BE(++heartbeatSeq, 4);
      id[0] = 0x40; // provider-side ids live in their own range
      writeFrame(socket, 0x80 | 0x40 | 0x20 | 0x02, 0, id, Buffer.from([0x4e]));
    }, opts.heartbeatMs);
  }
  socket.on('error', (err) => log('socket error', err.message));
  socket.on('close', () => {
    stats.connectionsOpen--;
    sockets.delete(socket);
    if (heartbeatTimer) clearInterval(heartbeatTimer);
  });

  let buf = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= HEADER) {
      if (buf[0] !== 0xda || buf[1] !== 0xbb) {
        stats.badFrames++;
        log('bad magic, closing connection', conn.id);
        socket.destroy();
        return;
      }
      const len = buf.readUInt32BE(12);
      if (len > MAX_PAYLOAD) {
        stats.badFrames++;
        log('payload too large, closing connection', conn.id, len);
        socket.destroy();
        return;
      }
      if (buf.length < HEADER + len) return;
      const frame = Buffer.from(buf.subarray(0, HEADER + len));
      buf = buf.subarray(HEADER + len);
      handleFrame(socket, conn, frame).catch((err) => log('frame handler failed', err && err.stack));
    }
  });
}

// Replace DubboService#listen before its nextTick runs it.
service.handleSocketRequest = onConnection;
service.listen = async () => {
  const server = net.createServer(onConnection);
  service.server = server;
  server.on('error', (err) => {
    process.stderr.write(`dubbo-provider ${NAME}: listen ${opts.host}:${opts.port} failed: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(opts.port, opts.host, () => {
    service.port = server.address().port;
    service.registerServices().catch((err) => {
      process.stderr.write(`dubbo-provider ${NAME}: register failed: ${err && err.message}\n`);
      process.exit(1);
    });
  });
};

service.ready().then(() => {
  process.stdout.write(`READY ${service.getPort()}\n`);
});

let stopping = false;
function shutdown() {
  if (stopping) return;
  stopping = true;
  for (const s of sockets) s.destroy();
  if (service.server) service.server.close(() => process.exit(0));
  else process.exit(0);
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.on('uncaughtException', (err) => {
  process.stderr.write(`dubbo-provider ${NAME}: uncaught ${err && err.stack}\n`);
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  process.stderr.write(`dubbo-provider ${NAME}: unhandled rejection ${err && err.stack}\n`);
});
// --watch-stdin: the parent going away (our stdin pipe closes) stops us too, so no provider
// outlives a crashed test run.
if (opts.watchStdin) {
  process.stdin.on('end', shutdown);
  process.stdin.on('close', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}
