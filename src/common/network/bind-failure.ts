/**
 * Why a listener or the admin cannot bind its address, in words an operator can act on: what
 * the system said and what to do about it. Node's own message ("listen EADDRINUSE: address
 * already in use 127.0.0.1:9901", or "bind EADDRINUSE 127.0.0.1:10000" from a cluster worker)
 * says neither. The caller puts who binds and where in front ("listener 'tcp' cannot listen on
 * 127.0.0.1:10000: …").
 */

/** What to do, by errno: the causes an operator meets at start. */
const HINTS: Record<string, (host: string, port: number) => string> = {
  EADDRINUSE: (_host, port) =>
    `the port is already in use by another process (or another Courier); ` +
    `find it with \`ss -ltnp 'sport = :${port}'\` and stop it, or change the port in the config`,
  EACCES: (_host, port) =>
    port < 1024
      ? `permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE ` +
        `(systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE), or use a port of 1024 or more`
      : `permission denied`,
  EADDRNOTAVAIL: (host) => `no network interface of this machine has the address ${host}; use one it has, or 0.0.0.0`,
};

/** Errors without a code, or with a code not listed, keep their own message. */
export function bindFailureReason(err: Error, host: string, port: number): string {
  const code = (err as NodeJS.ErrnoException).code;
  const hint = code !== undefined ? HINTS[code] : undefined;
  return hint ? `${hint(host, port)} (${code})` : err.message;
}
