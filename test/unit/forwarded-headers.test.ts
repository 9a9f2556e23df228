/**
 * forwarded-headers.ts: Envoy's getLastAddressFromXFF cases, and the internal/external
 * decision on header lists (the integration test http-forwarding.test.ts covers the wire).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ForwardedHeaders, lastAddressFromXff } from '../../src/common/http/forwarded-headers.js';
import { HeaderList } from '../../src/common/http/header-list.js';
import { DEFAULT_INTERNAL_ADDRESS_CONFIG, InternalAddressMatcher } from '../../src/common/http/internal-address.js';

test('lastAddressFromXff', () => {
  assert.deepEqual(lastAddressFromXff(undefined, 0), { ip: undefined, single: false });
  assert.deepEqual(lastAddressFromXff('192.0.2.10', 0), { ip: '192.0.2.10', single: true });
  assert.deepEqual(lastAddressFromXff('192.0.2.1, 198.51.100.1, 192.0.2.10', 0), { ip: '192.0.2.10', single: false });
  assert.deepEqual(lastAddressFromXff('192.0.2.1, 198.51.100.1, 192.0.2.10', 1), { ip: '198.51.100.1', single: false });
  assert.deepEqual(lastAddressFromXff('192.0.2.1, 198.51.100.1, 192.0.2.10', 2), { ip: '192.0.2.1', single: true });
  assert.deepEqual(lastAddressFromXff('192.0.2.1, 198.51.100.1, 192.0.2.10', 3), { ip: undefined, single: false });
  assert.deepEqual(lastAddressFromXff(' 2001:db8::1 ', 0), { ip: '2001:db8::1', single: true });
  assert.deepEqual(lastAddressFromXff('192.0.2.1,', 0), { ip: undefined, single: false });
  assert.deepEqual(lastAddressFromXff('bad, 192.0.2.1', 0), { ip: '192.0.2.1', single: false });
  assert.deepEqual(lastAddressFromXff('192.0.2.1, bad', 0), { ip: undefined, single: false });
});

test("default internal addresses are Envoy's", () => {
  const m = new InternalAddressMatcher(DEFAULT_INTERNAL_ADDRESS_CONFIG);
  for (const ip of ['10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '127.0.0.1', 'fd00::1', '::1']) assert.equal(m.isInternal(ip), true, ip);
  for (const ip of ['172.32.0.1', '8.8.8.8', '127.0.0.2', 'fc00::1', '2001:db8::1', 'x']) assert.equal(m.isInternal(ip), false, ip);
});

test('an internal request keeps its x-envoy-* headers; an external one loses them; use_remote_address appends the peer', () => {
  const f = new ForwardedHeaders({ useRemoteAddress: false, xffNumTrustedHops: 0, skipXffAppend: false, internalAddress: DEFAULT_INTERNAL_ADDRESS_CONFIG }, '192.0.2.99');
  const internal = new HeaderList(['x-forwarded-for', '10.0.0.1', 'x-envoy-max-retries', '2', 'x-only', 'a']);
  assert.deepEqual(f.apply(internal, '127.0.0.1', 'http', ['x-only']), { remoteIp: '10.0.0.1', fromXff: true, internal: true, edge: false });
  assert.deepEqual(internal.flat, ['x-forwarded-for', '10.0.0.1', 'x-envoy-max-retries', '2', 'x-only', 'a', 'x-forwarded-proto', 'http', 'x-envoy-internal', 'true']);
  const external = new HeaderList(['x-envoy-max-retries', '2', 'x-envoy-downstream-service-node', 'n', 'x-only', 'a']);
  assert.deepEqual(f.apply(external, '127.0.0.1', 'http', ['x-only']), { remoteIp: '127.0.0.1', fromXff: false, internal: false, edge: false });
  assert.deepEqual(external.flat, ['x-envoy-downstream-service-node', 'n', 'x-forwarded-proto', 'http']);
  const edge = new ForwardedHeaders({ useRemoteAddress: true, xffNumTrustedHops: 0, skipXffAppend: false, internalAddress: DEFAULT_INTERNAL_ADDRESS_CONFIG }, '192.0.2.99');
  const h = new HeaderList(['x-forwarded-for', '10.0.0.1', 'x-forwarded-proto', 'https', 'x-envoy-downstream-service-node', 'n']);
  assert.deepEqual(edge.apply(h, '::ffff:203.0.113.5', 'http', []), { remoteIp: '203.0.113.5', fromXff: false, internal: false, edge: true });
  assert.deepEqual(h.flat, ['x-forwarded-for', '10.0.0.1,203.0.113.5', 'x-forwarded-proto', 'http', 'x-envoy-external-address', '203.0.113.5']);
  const loop = new HeaderList([]);
  assert.equal(edge.apply(loop, '127.0.0.1', 'http', []).internal, true);
  assert.equal(loop.first('x-forwarded-for'), '192.0.2.99');
});
