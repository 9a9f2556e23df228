// Micro benchmark of Courier's HTTP/1 codec (not a test). Build first: npx tsc -p .
//   node bench/http/parser-bench.mjs [seconds per case, default 2]
//   COURIER_DIST=/path/to/other/dist node bench/http/parser-bench.mjs   (another build, to compare)
// Reports requests (or responses, or heads) per CPU-second on one core for:
//   - a typical ~300-byte GET with 8 headers, one request per execute() (a keep-alive
//     connection where each read holds one request);
//   - the same, 16 pipelined requests per execute();
//   - the same request split in two reads (the copy-into-scratch path);
//   - the same request without its Connection header, and with one that nominates a field;
//   - a 200 response with a 1 KiB content-length body;
//   - encoding a response head with 6 headers.
// Node's own llhttp is not compared: it is reached only through node:http, whose cost is
// mostly elsewhere (IncomingMessage, streams), so such a number would not measure a parser.
const DIST = process.env.COURIER_DIST ?? '../../dist';
const { Http1Parser } = await import(`${DIST}/src/common/http/http1-parser.js`);
const { encodeResponseHead } = await import(`${DIST}/src/common/http/http1-encoder.js`);

const seconds = Number(process.argv[2] ?? 2);

const GET =
  'GET /api/v1/users/12345/profile?fields=name HTTP/1.1\r\n' +
  'Host: service.internal.example\r\n' +
  'User-Agent: curl/8.5.0\r\n' +
  'Accept: application/json\r\n' +
  'Accept-Encoding: gzip, deflate, br\r\n' +
  'Accept-Language: en-US,en;q=0.9\r\n' +
  'Connection: keep-alive\r\n' +
  'X-Request-Id: 3f2b8c1e-9a7d-4e21-b5c4-0d6e8f1a2b3c\r\n' +
  'Cookie: session=abcdef0123456789\r\n' +
  '\r\n';

const RESPONSE =
  'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 25 Nov 2026 20:08:49 GMT\r\n' +
  'Content-Type: application/json\r\nContent-Length: 1024\r\nConnection: keep-alive\r\n\r\n' +
  'x'.repeat(1024);

let sink = 0;
const callbacks = {
  onHead(h) {
    sink += h.headers.length;
  },
  onBody(c) {
    sink += c.length;
  },
  onMessageComplete() {
    sink++;
  },
};

/**
 * Runs `fn` in rounds of `seconds / ROUNDS` and reports per-CPU-second rates (process.cpuUsage,
 * so time this process spends descheduled on a shared machine does not count), best and median
 * of the rounds.
 */
const ROUNDS = 5;
function measure(name, perCall, fn) {
  for (let i = 0; i < 50000; i++) fn(); // warm up: let the JIT settle
  const rates = [];
  const roundMicros = (seconds / ROUNDS) * 1e6;
  for (let r = 0; r < ROUNDS; r++) {
    let calls = 0;
    const start = process.cpuUsage();
    let used = 0;
    do {
      for (let i = 0; i < 1000; i++) fn();
      calls += 1000;
      const d = process.cpuUsage(start);
      used = d.user + d.system;
    } while (used < roundMicros);
    rates.push((calls * perCall) / (used / 1e6));
  }
  rates.sort((x, y) => x - y);
  const best = rates[rates.length - 1];
  const median = rates[rates.length >> 1];
  const fmt = (n) => Math.round(n).toLocaleString('en-US').padStart(11);
  console.log(`${name.padEnd(40)} best ${fmt(best)} /s  median ${fmt(median)} /s  (${(1e9 / best).toFixed(0)} ns)`);
  return best;
}

const getBuf = Buffer.from(GET, 'latin1');
console.log(`request: ${getBuf.length} bytes, 8 header fields; node ${process.version}; ${ROUNDS} rounds per case\n`);

const reqParser = Http1Parser.forRequests(callbacks);
const single = measure('parse GET, one per execute()', 1, () => {
  const r = reqParser.execute(getBuf);
  if (!r.ok) throw new Error(r.toString());
});

const pipelined = Buffer.from(GET.repeat(16), 'latin1');
measure('parse GET, 16 pipelined per execute()', 16, () => {
  const r = reqParser.execute(pipelined);
  if (!r.ok) throw new Error(r.toString());
});

const half = getBuf.length >> 1;
const a = getBuf.subarray(0, half);
const b = getBuf.subarray(half);
measure('parse GET, split across two reads', 1, () => {
  reqParser.execute(a);
  const r = reqParser.execute(b);
  if (!r.ok) throw new Error(r.toString());
});

// The Connection header's two shapes: none at all (nothing to scan), and one that nominates a
// field (the only case that pays for sanitising: the field list is scanned again and edited).
const noConnBuf = Buffer.from(GET.replace('Connection: keep-alive\r\n', ''), 'latin1');
measure('parse GET without Connection', 1, () => {
  const r = reqParser.execute(noConnBuf);
  if (!r.ok) throw new Error(r.toString());
});
const nominatingBuf = Buffer.from(GET.replace('Connection: keep-alive\r\n', 'Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\n'), 'latin1');
measure('parse GET, Connection nominates a field', 1, () => {
  const r = reqParser.execute(nominatingBuf);
  if (!r.ok) throw new Error(r.toString());
});

const respParser = Http1Parser.forResponses(callbacks);
const respBuf = Buffer.from(RESPONSE, 'latin1');
measure('parse 200 response + 1 KiB body', 1, () => {
  respParser.expectResponse('GET');
  const r = respParser.execute(respBuf);
  if (!r.ok) throw new Error(r.toString());
});

const headers = [
  'content-type', 'application/json',
  'content-length', '1024',
  'date', 'Tue, 25 Nov 2026 20:08:49 GMT',
  'server', 'envoy',
  'x-envoy-upstream-service-time', '3',
  'x-request-id', '3f2b8c1e-9a7d-4e21-b5c4-0d6e8f1a2b3c',
];
measure('encode response head, 6 fields', 1, () => {
  sink += encodeResponseHead(200, headers).length;
});

console.log(`\nheadline: ${Math.round(single).toLocaleString('en-US')} GET requests parsed per CPU-second (one per read, best round)`);
if (sink === 42) console.log('');
