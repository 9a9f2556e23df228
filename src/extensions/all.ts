/**
 * Every built-in extension, registered in one place and in a fixed order.
 */
import type { NetworkFilterConfigFactory } from '../api/network-filter.js';
import { Registry } from '../api/registry.js';
import { tcpProxyConfigFactory } from './filters/network/tcp_proxy/config.js';
import { dubboProxyConfigFactory } from './filters/network/dubbo_proxy/config.js';
import { httpConnectionManagerConfigFactory } from './filters/network/http_connection_manager/config.js';
import { metaProtocolProxyConfigFactory } from './filters/network/meta_protocol_proxy/config.js';

export function networkFilterRegistry(): Registry<NetworkFilterConfigFactory> {
  const registry = new Registry<NetworkFilterConfigFactory>('network filter');
  registry.register(tcpProxyConfigFactory.configType, tcpProxyConfigFactory as NetworkFilterConfigFactory);
  registry.register(dubboProxyConfigFactory.configType, dubboProxyConfigFactory as NetworkFilterConfigFactory);
  registry.register(httpConnectionManagerConfigFactory.configType, httpConnectionManagerConfigFactory as NetworkFilterConfigFactory);
  registry.register(metaProtocolProxyConfigFactory.configType, metaProtocolProxyConfigFactory as NetworkFilterConfigFactory);
  return registry;
}
