import { isIP } from 'node:net';
import type { ProblemSink } from '../api/network-filter.js';
import type { SocketAddressConfig } from './server-config.js';
import { obj, rejectUnsupported, str, num, type Obj } from './plain-reader.js';

/**
 * envoy.config.core.v3.Address → host and port. Only TCP socket addresses are supported;
 * `requireIp` refuses hostnames (listeners, STATIC clusters), as Envoy does.
 */
export function parseSocketAddress(address: Obj | undefined, problems: ProblemSink, requireIp: boolean): SocketAddressConfig | undefined {
  if (!address) {
    problems.add('', 'an address is required');
    return undefined;
  }
  rejectUnsupported(address, ['socket_address'], 'Address', problems);
  const sa = obj(address['socket_address']);
  if (!sa) {
    if (Object.keys(address).length === 0) problems.add('socket_address', 'socket_address is required');
    return undefined;
  }
  const p = problems.at('socket_address');
  rejectUnsupported(sa, ['address', 'port_value', 'protocol', 'ipv4_compat'], 'SocketAddress', p);
  if (sa['protocol'] !== undefined && sa['protocol'] !== 'TCP') p.add('protocol', `protocol ${String(sa['protocol'])} is not supported by Courier yet (TCP only)`);
  const host = str(sa, 'address');
  if (host === '') {
    p.add('address', 'address is required');
    return undefined;
  }
  if (requireIp && isIP(host) === 0) {
    p.add('address', `malformed IP address: ${host}`);
    return undefined;
  }
  const port = num(sa, 'port_value', 0);
  if (port > 65535) {
    p.add('port_value', `port ${port} is out of range`);
    return undefined;
  }
  return { host, port };
}

/** "ip:port", with brackets for IPv6, as Envoy prints addresses. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
