/**
 * envoy.config.listener.v3.Listener → ListenerConfig. One filter chain (no filter_chain_match
 * yet); each network filter's typed_config goes to the factory registered for its type.
 */
import type { MainConfigContext, NetworkFilterConfigFactory, ProblemSink } from '../api/network-filter.js';
import type { Registry } from '../api/registry.js';
import type { FilterChainConfig, ListenerConfig, NetworkFilterConfig } from './server-config.js';
import { parseSocketAddress } from './address.js';
import { list, num, obj, rejectUnsupported, str, type Obj } from './plain-reader.js';

const SUPPORTED_LISTENER_FIELDS = [
  'name', 'address', 'stat_prefix', 'filter_chains', 'per_connection_buffer_limit_bytes', 'traffic_direction',
  'metadata', 'drain_type',
];

/**
 * Listener kinds other than a TCP listener on an IP address, each refused by what it is: the
 * checks a TCP listener gets ("an address is required", "at least one filter chain") would
 * only mislead. True when the listener is one of them.
 */
function refuseListenerKind(l: Obj, problems: ProblemSink): boolean {
  const address = obj(l['address']);
  const socketAddress = obj(address?.['socket_address']);
  const kinds: Array<[string, string]> = [];
  if (l['api_listener'] !== undefined) kinds.push(['api_listener', 'API listeners (api_listener, an in-process HTTP connection manager) are not supported by Courier yet']);
  if (l['internal_listener'] !== undefined) kinds.push(['internal_listener', 'internal listeners (internal_listener) are not supported by Courier yet']);
  if (address?.['envoy_internal_address'] !== undefined) {
    kinds.push(['address.envoy_internal_address', 'internal listeners (an envoy_internal_address) are not supported by Courier yet']);
  }
  if (address?.['pipe'] !== undefined) kinds.push(['address.pipe', 'Unix domain socket listeners (address.pipe) are not supported by Courier yet']);
  if (socketAddress?.['protocol'] === 'UDP') kinds.push(['address.socket_address.protocol', 'UDP listeners are not supported by Courier yet (TCP only)']);
  else if (l['udp_listener_config'] !== undefined) kinds.push(['udp_listener_config', 'UDP listeners (udp_listener_config) are not supported by Courier yet (TCP only)']);
  for (const [path, message] of kinds) problems.add(path, message);
  return kinds.length > 0;
}

export function parseListener(
  l: Obj,
  problems: ProblemSink,
  filters: Registry<NetworkFilterConfigFactory>,
  ctx: MainConfigContext,
): ListenerConfig | undefined {
  if (refuseListenerKind(l, problems)) return undefined;
  rejectUnsupported(l, SUPPORTED_LISTENER_FIELDS, 'Listener', problems);
  const address = parseSocketAddress(obj(l['address']), problems.at('address'), true);
  const name = str(l, 'name') || (address ? `${address.host}:${address.port}` : '');
  const chains = list(l['filter_chains']);
  if (chains.length === 0) problems.add('filter_chains', 'at least one filter chain is required');
  if (chains.length > 1) problems.add('filter_chains', 'more than one filter chain needs filter_chain_match, which is not supported by Courier yet');
  const filterChains: FilterChainConfig[] = [];
  chains.slice(0, 1).forEach((fc, i) => {
    const chain = obj(fc) ?? {};
    const cp = problems.at(`filter_chains[${i}]`);
    rejectUnsupported(chain, ['filters', 'name', 'filter_chain_match'], 'FilterChain', cp);
    const match = obj(chain['filter_chain_match']);
    if (match && Object.keys(match).length > 0) cp.add('filter_chain_match', 'filter_chain_match is not supported by Courier yet');
    const parsed: NetworkFilterConfig[] = [];
    const entries = list(chain['filters']);
    if (entries.length === 0) cp.add('filters', 'a filter chain needs at least one network filter');
    entries.forEach((f, j) => {
      const filter = obj(f) ?? {};
      const fp = cp.at(`filters[${j}]`);
      rejectUnsupported(filter, ['name', 'typed_config'], 'Filter', fp);
      const typed = obj(filter['typed_config']);
      if (!typed) {
        fp.add('typed_config', 'typed_config is required');
        return;
      }
      const typeUrl = str(typed, '@type');
      const typeName = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
      const factory = filters.get(typeName);
      if (!factory) {
        fp.add('typed_config.@type', `network filter type ${typeName} is not supported by Courier (supported: ${filters.names().join(', ')})`);
        return;
      }
      const config = factory.parseConfig(typed, fp.at('typed_config'), ctx);
      if (config !== undefined) parsed.push({ name: str(filter, 'name') || factory.name, factory: factory.configType, config });
    });
    filterChains.push({ name: str(chain, 'name'), filters: parsed });
  });
  if (!address) return undefined;
  const statAddress = `${address.host.includes(':') ? `[${address.host}]` : address.host}_${address.port}`;
  return {
    name,
    address,
    statPrefix: `listener.${str(l, 'stat_prefix') || statAddress}.`,
    bufferLimitBytes: num(l, 'per_connection_buffer_limit_bytes', 1024 * 1024),
    filterChains,
  };
}
