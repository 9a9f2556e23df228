/**
 * The admin HTTP server on the main process (bootstrap admin.address). Not a hot path:
 * node:http is fine here.
 */
import http from 'node:http';
import type net from 'node:net';
import { bindFailureReason } from '../../common/network/bind-failure.js';
import { formatAddress } from '../../config/address.js';
import type { AdminContext } from './admin-context.js';
import { ADMIN_HANDLERS, type AdminResponse } from './admin-handlers.js';

export class AdminServer {
  readonly #server: http.Server;
  readonly #ctx: AdminContext;

  constructor(ctx: AdminContext) {
    this.#ctx = ctx;
    this.#server = http.createServer((req, res) => void this.#onRequest(req, res));
    this.#server.keepAliveTimeout = 1000;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new Error(`admin.address cannot listen on ${formatAddress(host, port)}: ${bindFailureReason(err, host, port)}`));
      this.#server.once('error', onError);
      this.#server.listen({ host, port }, () => {
        this.#server.removeListener('error', onError);
        resolve((this.#server.address() as net.AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const target = parseRequestTarget(req.url ?? '/');
    let response: AdminResponse;
    if (!target) {
      // Envoy's codec refuses a target it cannot parse with 400 before admin sees it.
      response = { status: 400, contentType: 'text/plain; charset=UTF-8', body: 'Bad Request: invalid request target\n' };
    } else if (target.pathname === '/' || target.pathname === '/help') {
      const body = `admin commands are:\n${ADMIN_HANDLERS.map((h) => `  ${h.path}${h.mutates ? ' (POST)' : ''}: ${h.help}\n`).join('')}`;
      response = { status: 200, contentType: 'text/plain; charset=UTF-8', body };
    } else {
      const handler = ADMIN_HANDLERS.find((h) => h.path === target.pathname);
      if (!handler) {
        response = { status: 404, contentType: 'text/plain; charset=UTF-8', body: `invalid path. admin commands are:\n${ADMIN_HANDLERS.map((h) => `  ${h.path}\n`).join('')}` };
      } else if (handler.mutates && req.method !== 'POST') {
        response = {
          status: 405,
          contentType: 'text/plain; charset=UTF-8',
          body: `Method ${req.method ?? ''} not allowed, POST required.\n`,
        };
      } else {
        try {
          // As Envoy's /runtime_modify: parameters may come as a form body instead of a query.
          const params = target.searchParams.size === 0 && handler.mutates ? await formBody(req) : undefined;
          response = await handler.handle(params ?? target.searchParams, this.#ctx);
        } catch (e) {
          response = { status: 500, contentType: 'text/plain; charset=UTF-8', body: `${(e as Error).message}\n` };
        }
      }
    }
    res.writeHead(response.status, { 'content-type': response.contentType, 'cache-control': 'no-cache, max-age=0', 'x-content-type-options': 'nosniff' });
    res.end(response.body);
  }
}

/**
 * A request target's path and query. Origin-form (`/path?query`) is split by hand: read as a
 * URL, `//a:99999/` would be a network-path reference with an invalid port. Absolute-form
 * (`http://host/path`) must parse as a URL; anything else (`*`, `http://[/`) is undefined.
 */
export function parseRequestTarget(raw: string): { pathname: string; searchParams: URLSearchParams } | undefined {
  if (raw.startsWith('/')) {
    const q = raw.indexOf('?');
    return q < 0
      ? { pathname: raw, searchParams: new URLSearchParams() }
      : { pathname: raw.slice(0, q), searchParams: new URLSearchParams(raw.slice(q + 1)) };
  }
  if (!URL.canParse(raw)) return undefined;
  const url = new URL(raw);
  return url.protocol === 'http:' || url.protocol === 'https:' ? { pathname: url.pathname, searchParams: url.searchParams } : undefined;
}

/** Form-encoded parameters of a POST body (up to 64 KiB), or undefined for any other body. */
async function formBody(req: http.IncomingMessage): Promise<URLSearchParams | undefined> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return undefined;
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 64 * 1024) return undefined;
  }
  return new URLSearchParams(body);
}
