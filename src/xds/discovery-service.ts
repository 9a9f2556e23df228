/**
 * The xDS gRPC services (ADS and the per-type SotW services) as @grpc/proto-loader loads them
 * from the .proto files @grpc/grpc-js-xds vendors (include dirs shared with
 * src/config/proto-registry.ts). MAIN process; loaded once, on first use (~0.2 s).
 *
 * Messages cross as proto-loader's object form: snake_case names, enums by name, int64 as
 * strings, bytes as Buffer, absent fields absent, lists always present. Resources stay Anys
 * (type_url + bytes): decoding them is resource-decoder.ts's job.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { includeDirs } from '../config/proto-registry.js';
import { allResourceTypes, type XdsResourceType } from './resource-type.js';
import type { AnyBytes } from './resource-decoder.js';

export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
export const ADS_METHOD = 'StreamAggregatedResources';
const ADS_PROTO = 'envoy/service/discovery/v3/ads.proto';

/** google.rpc.Status as sent in a NACK. */
export interface RpcStatus {
  code: number;
  message: string;
}

/** envoy.service.discovery.v3.DiscoveryRequest (object form). */
export interface DiscoveryRequest {
  version_info?: string;
  node?: Record<string, unknown>;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: RpcStatus;
}

/** envoy.service.discovery.v3.DiscoveryResponse (object form). */
export interface DiscoveryResponse {
  version_info?: string;
  resources?: AnyBytes[];
  type_url?: string;
  nonce?: string;
  control_plane?: { identifier?: string };
}

/** One bidi streaming method: its path and (de)serializers for both sides. */
export interface DiscoveryMethod {
  /** `/envoy.service.route.v3.RouteDiscoveryService/StreamRoutes`. */
  readonly path: string;
  readonly serviceName: string;
  readonly methodName: string;
  readonly serializeRequest: (r: DiscoveryRequest) => Buffer;
  readonly deserializeRequest: (b: Buffer) => DiscoveryRequest;
  readonly serializeResponse: (r: DiscoveryResponse) => Buffer;
  readonly deserializeResponse: (b: Buffer) => DiscoveryResponse;
}

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  arrays: true,
  oneofs: false,
};

let cached: protoLoader.PackageDefinition | undefined;

function packageDefinition(): protoLoader.PackageDefinition {
  if (cached) return cached;
  const files = [ADS_PROTO, ...allResourceTypes().flatMap((t) => (t.serviceProto ? [t.serviceProto] : []))];
  cached = protoLoader.loadSync([...new Set(files)], { ...LOADER_OPTIONS, includeDirs: includeDirs() });
  return cached;
}

/** The service definition (for grpc.Server.addService) of a service's full name. */
export function serviceDefinition(serviceName: string): grpc.ServiceDefinition {
  const def = packageDefinition()[serviceName];
  // A message type's definition has "format"; a service's is a map of methods.
  if (!def || 'format' in def) throw new Error(`xDS service ${serviceName} is not loaded`);
  return def as unknown as grpc.ServiceDefinition;
}

function method(serviceName: string, methodName: string): DiscoveryMethod {
  const m = serviceDefinition(serviceName)[methodName] as grpc.MethodDefinition<DiscoveryRequest, DiscoveryResponse> | undefined;
  if (!m) throw new Error(`xDS method ${serviceName}/${methodName} is not loaded`);
  return {
    path: m.path,
    serviceName,
    methodName,
    serializeRequest: m.requestSerialize,
    deserializeRequest: m.requestDeserialize,
    serializeResponse: m.responseSerialize,
    deserializeResponse: m.responseDeserialize,
  };
}

/** AggregatedDiscoveryService.StreamAggregatedResources. */
export function adsMethod(): DiscoveryMethod {
  return method(ADS_SERVICE, ADS_METHOD);
}

/** The per-type SotW method for `type` (RouteDiscoveryService.StreamRoutes...), or undefined. */
export function sotwMethod(type: XdsResourceType): DiscoveryMethod | undefined {
  return type.sotwService ? method(type.sotwService.service, type.sotwService.method) : undefined;
}

/** Channel options for xDS clients and servers: no message size limit (a 10k-route RDS update is large). */
export const XDS_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
};
