/**
 * The two upstream modes, per cluster host on one worker.
 *
 * - ExclusivePool (Envoy's dubbo_proxy): a request takes an idle connection or opens one,
 *   holds it until its response, then the connection goes back to the idle list.
 * - MultiplexedPool (MetaProtocol's and MOSN's): up to N connections per host, each carrying
 *   any number of requests from any downstream connection, ids rewritten per connection.
 *
 * Both go through the cluster's TcpConnPool, so connect_timeout and max_connections apply.
 */
import type { TcpConnPool } from '../../api/cluster.js';
import type { RpcFrame } from '../../api/rpc-protocol.js';
import type { RpcUpstreamContext, RpcUpstreamPool, UpstreamCallbacks, UpstreamRequestHandle } from './rpc-upstream.js';
import { RpcUpstreamConnection } from './upstream-connection.js';

export class ExclusivePool implements RpcUpstreamPool {
  readonly #ctx: RpcUpstreamContext;
  readonly #idle: RpcUpstreamConnection[] = [];

  constructor(ctx: RpcUpstreamContext) {
    this.#ctx = ctx;
  }

  send(request: RpcFrame, oneway: boolean, tcpPool: TcpConnPool, callbacks: UpstreamCallbacks): UpstreamRequestHandle {
    let conn: RpcUpstreamConnection | undefined;
    while ((conn = this.#idle.pop()) && conn.state !== 'ready');
    conn ??= new RpcUpstreamConnection(
      this.#ctx,
      tcpPool,
      false,
      (c) => {
        if (!this.#idle.includes(c)) this.#idle.push(c);
      },
      (c) => {
        const i = this.#idle.indexOf(c);
        if (i >= 0) this.#idle.splice(i, 1);
      },
    );
    const handle = conn.send(request, oneway, callbacks);
    const used = conn;
    return {
      cancel: () => {
        handle.cancel();
        // Its answer may still come and would confuse the next user: close it.
        used.close();
      },
    };
  }
}

export class MultiplexedPool implements RpcUpstreamPool {
  readonly #ctx: RpcUpstreamContext;
  readonly #size: number;
  readonly #connections: RpcUpstreamConnection[] = [];

  constructor(ctx: RpcUpstreamContext, connectionsPerHost: number) {
    this.#ctx = ctx;
    this.#size = connectionsPerHost;
  }

  send(request: RpcFrame, oneway: boolean, tcpPool: TcpConnPool, callbacks: UpstreamCallbacks): UpstreamRequestHandle {
    let best: RpcUpstreamConnection | undefined;
    if (this.#connections.length < this.#size) {
      best = new RpcUpstreamConnection(
        this.#ctx,
        tcpPool,
        true,
        () => {},
        (c) => {
          const i = this.#connections.indexOf(c);
          if (i >= 0) this.#connections.splice(i, 1);
        },
      );
      this.#connections.push(best);
    } else {
      for (const c of this.#connections) if (!best || c.inFlight < best.inFlight) best = c;
    }
    return best!.send(request, oneway, callbacks);
  }
}
