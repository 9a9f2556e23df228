/**
 * Protobuf binary ⇄ canonical proto3 JSON (src/config/proto-binary.ts): an xDS resource that
 * arrives as bytes must reach decodeMessage() as the same JSON a YAML file gives, so it gets
 * the same checks and paths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import {
  anyToJson,
  binaryToProto3Json,
  encodeAny,
  encodeProto3Json,
  formatDuration,
  ProtoBinaryError,
  type JsonObject,
} from '../../src/config/proto-binary.js';
import { decodeMessage } from '../../src/config/proto-json.js';
import { lookupMessage } from '../../src/config/proto-registry.js';

const ROUTE_CONFIGURATION = 'envoy.config.route.v3.RouteConfiguration';

const ROUTES_YAML = `
name: local_route
validate_clusters: false
max_direct_response_body_size_bytes: 4096
request_headers_to_add:
- header: { key: x-courier, value: "1" }
  append_action: OVERWRITE_IF_EXISTS_OR_ADD
virtual_hosts:
- name: vh
  domains: ["*", "example.com"]
  typed_per_filter_config:
    envoy.filters.http.router:
      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
      dynamic_stats: false
      suppress_envoy_headers: true
  routes:
  - match:
      prefix: /api
      case_sensitive: false
      headers:
      - name: x-n
        range_match: { start: "1", end: "9007199254740993" }
    route:
      cluster: api
      timeout: 1.5s
      idle_timeout: 0.000001s
      priority: HIGH
      retry_policy: { retry_on: 5xx, num_retries: 3, per_try_timeout: 0.250s }
    typed_per_filter_config:
      envoy.filters.http.custom:
        "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig
        is_optional: true
        config:
          "@type": type.googleapis.com/google.protobuf.Struct
          value: { a: 1, b: [true, null, "x"], c: { d: 2.5 } }
  - match: { path: /health }
    direct_response: { status: 200, body: { inline_string: ok } }
`;

function routeType() {
  const t = lookupMessage(ROUTE_CONFIGURATION);
  assert.ok(t);
  return t;
}

test('a RouteConfiguration round-trips through the wire to canonical proto3 JSON', () => {
  const type = routeType();
  const yaml = parseYaml(ROUTES_YAML) as unknown;
  const bytes = encodeProto3Json(type, yaml);
  const json = binaryToProto3Json(type, bytes) as JsonObject;

  const vh = (json['virtual_hosts'] as JsonObject[])[0]!;
  const route0 = (vh['routes'] as JsonObject[])[0]!;
  const action = route0['route'] as JsonObject;
  // Durations in canonical form, enums by name, wrappers as plain values (a false BoolValue kept).
  assert.equal(action['timeout'], '1.500s');
  assert.equal(action['idle_timeout'], '0.000001s');
  assert.equal((action['retry_policy'] as JsonObject)['per_try_timeout'], '0.250s');
  assert.equal((action['retry_policy'] as JsonObject)['num_retries'], 3);
  assert.equal(action['priority'], 'HIGH');
  assert.equal((route0['match'] as JsonObject)['case_sensitive'], false);
  assert.equal(json['validate_clusters'], false);
  assert.equal(json['max_direct_response_body_size_bytes'], 4096);
  // int64 as decimal strings.
  const range = ((route0['match'] as JsonObject)['headers'] as JsonObject[])[0]!['range_match'] as JsonObject;
  assert.deepEqual(range, { start: '1', end: '9007199254740993' });
  // Any, with an Any holding a well-known type inside.
  assert.deepEqual((vh['typed_per_filter_config'] as JsonObject)['envoy.filters.http.router'], {
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
    dynamic_stats: false,
    suppress_envoy_headers: true,
  });
  assert.deepEqual((route0['typed_per_filter_config'] as JsonObject)['envoy.filters.http.custom'], {
    '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig',
    is_optional: true,
    config: { '@type': 'type.googleapis.com/google.protobuf.Struct', value: { a: 1, b: [true, null, 'x'], c: { d: 2.5 } } },
  });
  assert.equal((json['request_headers_to_add'] as JsonObject[])[0]!['append_action'], 'OVERWRITE_IF_EXISTS_OR_ADD');

  // The decoded JSON gets exactly what the YAML gets from decodeMessage().
  const fromYaml = decodeMessage(type, yaml);
  const fromWire = decodeMessage(type, json);
  assert.deepEqual(fromYaml.problems, []);
  assert.deepEqual(fromWire.problems, []);
  assert.deepEqual(fromWire.value, fromYaml.value);
  // And a second trip changes nothing.
  assert.deepEqual(binaryToProto3Json(type, encodeProto3Json(type, json)), json);
});

test('default scalars are omitted, presence fields kept; lowerCamel input accepted', () => {
  const type = routeType();
  const bytes = encodeProto3Json(type, { name: '', virtualHosts: [{ name: 'v', domains: ['*'], requireTls: 'NONE' }] });
  assert.deepEqual(binaryToProto3Json(type, bytes), { virtual_hosts: [{ name: 'v', domains: ['*'] }] });
});

test('a resource that breaks validate rules is reported by decodeMessage with its path', () => {
  const type = routeType();
  const bytes = encodeProto3Json(type, { name: 'r', virtual_hosts: [{ name: 'v', domains: [] }] });
  const { value, problems } = decodeMessage(type, binaryToProto3Json(type, bytes), 'resources[0]');
  assert.equal(value, undefined);
  assert.deepEqual(problems.map((p) => p.path), ['resources[0].virtual_hosts[0].domains']);
});

test('an Any of an unknown type becomes {"@type"} and decodeMessage names it', () => {
  const json = anyToJson('type.googleapis.com/example.NoSuchType', new Uint8Array([8, 1]));
  assert.deepEqual(json, { '@type': 'type.googleapis.com/example.NoSuchType' });
  const anyType = lookupMessage('google.protobuf.Any')!;
  const { problems } = decodeMessage(anyType, json, 'x');
  assert.equal(problems[0]?.path, 'x.@type');
});

test('encodeAny and anyToJson are inverse, including well-known types', () => {
  const d = { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '-1.500s' };
  const any = encodeAny(d);
  assert.equal(any.type_url, d['@type']);
  assert.deepEqual(anyToJson(any.type_url, any.value), d);
  const w = { '@type': 'type.googleapis.com/google.protobuf.UInt32Value', value: 0 };
  assert.deepEqual(anyToJson(w['@type'], encodeAny(w).value), w);
});

test('JSON → binary reports structural errors with the field path', () => {
  const type = routeType();
  assert.throws(
    () => encodeProto3Json(type, { virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefx: '/' } }] }] }),
    (e: unknown) => e instanceof ProtoBinaryError && e.path === 'virtual_hosts[0].routes[0].match.prefx',
  );
  assert.throws(
    () => encodeProto3Json(type, { virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c', timeout: '5' } }] }] }),
    (e: unknown) => e instanceof ProtoBinaryError && e.path === 'virtual_hosts[0].routes[0].route.timeout',
  );
  assert.throws(
    () => encodeProto3Json(type, { request_headers_to_add: [{ append_action: 'SOMETIMES' }] }),
    (e: unknown) => e instanceof ProtoBinaryError && /unknown value "SOMETIMES"/.test(e.message),
  );
});

test('duration formatting uses 0, 3, 6 or 9 fraction digits', () => {
  assert.equal(formatDuration(30n, 0), '30s');
  assert.equal(formatDuration(1n, 500_000_000), '1.500s');
  assert.equal(formatDuration(0n, 1_000), '0.000001s');
  assert.equal(formatDuration(0n, 1), '0.000000001s');
  assert.equal(formatDuration(-1n, -500_000_000), '-1.500s');
  assert.equal(formatDuration(0n, -250_000_000), '-0.250s');
});
