/**
 * The xDS resource decoder: decodeAnyResources (src/xds/resource-decoder.ts), which turns the
 * Any resources of a DiscoveryResponse into checked values through src/config/proto-binary.ts
 * (protobufjs decode → proto3 JSON) and proto-json.ts. Documented failure: an
 * `{ ok: false, problems }` result (the NACK's reason). Anything thrown is a finding.
 *
 * Input layout: byte 0 picks the subscribed resource type (index into allResourceTypes(), mod
 * their number); bit 7 wraps the resource in an envoy.service.discovery.v3.Resource. The rest
 * is the Any's value bytes. Seeds are resources encoded with protobufjs from the JSON the tests
 * serve (make-corpus.ts), as Courier's xDS server sends them.
 */
import { encodeAny } from '../../../src/config/proto-binary.js';
import { lookupMessage } from '../../../src/config/proto-registry.js';
import { decodeAnyResources } from '../../../src/xds/resource-decoder.js';
import { allResourceTypes, RESOURCE_WRAPPER_TYPE_URL } from '../../../src/xds/resource-type.js';
import type { FuzzTarget } from '../target.js';

const KIND_INDEX: Record<string, number> = { LDS: 0, RDS: 1, CDS: 3, EDS: 4 };

/** A seed: the type byte, then the resource's wire bytes. */
export function encodeXdsSeed(kind: string, json: unknown): Buffer {
  const any = encodeAny(json);
  return Buffer.concat([Buffer.from([KIND_INDEX[kind]!]), Buffer.from(any.value)]);
}

function wrap(typeUrl: string, value: Uint8Array): Uint8Array {
  const wrapper = lookupMessage('envoy.service.discovery.v3.Resource')!;
  return wrapper.encode(wrapper.fromObject({ name: 'fuzz', version: '1', resource: { type_url: typeUrl, value } })).finish();
}

export const xdsTarget: FuzzTarget = {
  name: 'xds',
  description: 'xDS resource decoder: decodeAnyResources (protobuf bytes → proto3 JSON → checks)',
  maxInputBytes: 16 * 1024,
  run(chunks) {
    const input = Buffer.concat(chunks);
    if (input.length === 0) return 'empty';
    const types = allResourceTypes();
    const type = types[(input[0]! & 0x7f) % types.length]!;
    const value = input.subarray(1);
    const any = (input[0]! & 0x80) !== 0
      ? { type_url: RESOURCE_WRAPPER_TYPE_URL, value: wrap(type.typeUrl, value) }
      : { type_url: type.typeUrl, value };
    const result = decodeAnyResources(type, [any], '1');
    return result.ok ? `ok:${type.shortName}` : 'nack';
  },
};
