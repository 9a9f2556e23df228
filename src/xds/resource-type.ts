/**
 * xDS resource types: the one abstract description every subscription, mux and the
 * management server share (grpc-js-xds `xds-resource-type.ts`, reduced to data). MAIN process.
 *
 * A type says its URL, how a resource names itself, whether SotW responses carry the full
 * set (LDS, CDS: a wildcard subscription by default, absence means deletion), and which
 * per-type SotW service serves it (none for types that travel only over ADS, like Dubbo's
 * MultipleRouteConfiguration).
 */
import { TYPE_URL_PREFIX } from '../config/type-url.js';

export interface XdsResourceType {
  /** `type.googleapis.com/<message full name>`. */
  readonly typeUrl: string;
  /** Message full name (no leading dot). */
  readonly messageType: string;
  /** Envoy's short name for logs and errors: LDS, RDS, CDS, EDS... */
  readonly shortName: string;
  /** The field naming a resource of this type (`name`; `cluster_name` for EDS). */
  readonly nameField: string;
  /**
   * SotW: every response carries the whole set, and a subscription with no names is a
   * wildcard (LDS, CDS). False for RDS, EDS...: resources are named, each may come alone.
   */
  readonly allResourcesRequiredInSotW: boolean;
  /** Per-type SotW service, `{service: full name, method}`; undefined when only ADS serves it. */
  readonly sotwService?: { readonly service: string; readonly method: string } | undefined;
  /** The .proto declaring `sotwService`, relative to the include dirs. */
  readonly serviceProto?: string | undefined;
}

function type(
  shortName: string,
  messageType: string,
  nameField: string,
  allResourcesRequiredInSotW: boolean,
  service?: [string, string, string],
): XdsResourceType {
  return {
    typeUrl: `${TYPE_URL_PREFIX}${messageType}`,
    messageType,
    shortName,
    nameField,
    allResourcesRequiredInSotW,
    sotwService: service ? { service: service[0], method: service[1] } : undefined,
    serviceProto: service?.[2],
  };
}

export const LISTENER = type('LDS', 'envoy.config.listener.v3.Listener', 'name', true, [
  'envoy.service.listener.v3.ListenerDiscoveryService',
  'StreamListeners',
  'envoy/service/listener/v3/lds.proto',
]);
export const ROUTE_CONFIGURATION = type('RDS', 'envoy.config.route.v3.RouteConfiguration', 'name', false, [
  'envoy.service.route.v3.RouteDiscoveryService',
  'StreamRoutes',
  'envoy/service/route/v3/rds.proto',
]);
export const SCOPED_ROUTE_CONFIGURATION = type('SRDS', 'envoy.config.route.v3.ScopedRouteConfiguration', 'name', false, [
  'envoy.service.route.v3.ScopedRoutesDiscoveryService',
  'StreamScopedRoutes',
  'envoy/service/route/v3/srds.proto',
]);
export const CLUSTER = type('CDS', 'envoy.config.cluster.v3.Cluster', 'name', true, [
  'envoy.service.cluster.v3.ClusterDiscoveryService',
  'StreamClusters',
  'envoy/service/cluster/v3/cds.proto',
]);
export const CLUSTER_LOAD_ASSIGNMENT = type('EDS', 'envoy.config.endpoint.v3.ClusterLoadAssignment', 'cluster_name', false, [
  'envoy.service.endpoint.v3.EndpointDiscoveryService',
  'StreamEndpoints',
  'envoy/service/endpoint/v3/eds.proto',
]);
export const SECRET = type('SDS', 'envoy.extensions.transport_sockets.tls.v3.Secret', 'name', false, [
  'envoy.service.secret.v3.SecretDiscoveryService',
  'StreamSecrets',
  'envoy/service/secret/v3/sds.proto',
]);
export const RUNTIME = type('RTDS', 'envoy.service.runtime.v3.Runtime', 'name', false, [
  'envoy.service.runtime.v3.RuntimeDiscoveryService',
  'StreamRuntime',
  'envoy/service/runtime/v3/rtds.proto',
]);
export const TYPED_EXTENSION_CONFIG = type('ECDS', 'envoy.config.core.v3.TypedExtensionConfig', 'name', false, [
  'envoy.service.extension.v3.ExtensionConfigDiscoveryService',
  'StreamExtensionConfigs',
  'envoy/service/extension/v3/config_discovery.proto',
]);
/** Dubbo's drds: MultipleRouteConfiguration, over ADS only (no per-type service exists). */
export const DUBBO_MULTIPLE_ROUTE_CONFIGURATION = type(
  'DRDS',
  'envoy.extensions.filters.network.dubbo_proxy.v3.MultipleRouteConfiguration',
  'name',
  false,
);

/** The wrapper a SotW response may use instead of the bare resource (for TTLs, per-resource versions). */
export const RESOURCE_WRAPPER_TYPE_URL = `${TYPE_URL_PREFIX}envoy.service.discovery.v3.Resource`;

const ALL: readonly XdsResourceType[] = [
  LISTENER,
  ROUTE_CONFIGURATION,
  SCOPED_ROUTE_CONFIGURATION,
  CLUSTER,
  CLUSTER_LOAD_ASSIGNMENT,
  SECRET,
  RUNTIME,
  TYPED_EXTENSION_CONFIG,
  DUBBO_MULTIPLE_ROUTE_CONFIGURATION,
];

const BY_URL = new Map(ALL.map((t) => [t.typeUrl, t]));

/** Every known resource type. */
export function allResourceTypes(): readonly XdsResourceType[] {
  return ALL;
}

/** The type for a type URL (any host part accepted), or undefined. */
export function resourceTypeFor(typeUrl: string): XdsResourceType | undefined {
  const known = BY_URL.get(typeUrl);
  if (known) return known;
  const slash = typeUrl.lastIndexOf('/');
  return BY_URL.get(`${TYPE_URL_PREFIX}${typeUrl.slice(slash + 1)}`);
}

/** Two type URLs name the same message (hosts before the last '/' are not compared). */
export function sameMessageType(a: string, b: string): boolean {
  return a.slice(a.lastIndexOf('/') + 1) === b.slice(b.lastIndexOf('/') + 1);
}
