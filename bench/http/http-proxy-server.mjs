#!/usr/bin/env node
// node's `http-proxy` (npm) as an HTTP reverse proxy for bench/http/run.sh: one Node process,
// one http.Server, upstream connections pooled by a keep-alive http.Agent.
//   http-proxy-server.mjs LISTEN_PORT BACKEND_PORT
import http from 'node:http';
import httpProxy from 'http-proxy';

const [listenPort, backendPort] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 64 });
const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${backendPort}`, agent });
proxy.on('error', (err, _req, res) => {
  console.error('proxy error:', err.message);
  if (res && !res.headersSent && typeof res.writeHead === 'function') { res.writeHead(502); res.end(); }
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 60_000;
server.listen(listenPort, '127.0.0.1', () => console.error(`http-proxy on 127.0.0.1:${listenPort} -> 127.0.0.1:${backendPort}`));
