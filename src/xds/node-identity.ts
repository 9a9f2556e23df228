/**
 * The node identity sent on the first DiscoveryRequest of every stream (Envoy sets it once
 * per stream, `set_node_on_first_message_only`). From the bootstrap's `node`.
 */
import { VERSION } from '../version.js';

export interface XdsNode {
  readonly id: string;
  readonly cluster: string;
  /** Bootstrap node.metadata (a Struct, as plain JSON), if any. */
  readonly metadata?: Record<string, unknown> | undefined;
  /** Bootstrap node.locality, if any. */
  readonly locality?: { region?: string; zone?: string; sub_zone?: string } | undefined;
}

export const USER_AGENT_NAME = 'courier';

/** The node as the object form proto-loader serializes into envoy.config.core.v3.Node. */
export function nodeToRequestObject(node: XdsNode): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: node.id,
    cluster: node.cluster,
    user_agent_name: USER_AGENT_NAME,
    user_agent_version: VERSION,
  };
  if (node.metadata) out['metadata'] = structObject(node.metadata);
  if (node.locality) out['locality'] = { ...node.locality };
  return out;
}

/** Plain JSON → the object form of google.protobuf.Struct (proto-loader has no JSON mapping for it). */
function structObject(o: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) fields[k] = valueObject(v);
  return { fields };
}

function valueObject(v: unknown): Record<string, unknown> {
  if (v === null || v === undefined) return { null_value: 'NULL_VALUE' };
  if (typeof v === 'number') return { number_value: v };
  if (typeof v === 'string') return { string_value: v };
  if (typeof v === 'boolean') return { bool_value: v };
  if (Array.isArray(v)) return { list_value: { values: v.map(valueObject) } };
  return { struct_value: structObject(v as Record<string, unknown>) };
}
