/**
 * A stable hash of plain data: the same value gives the same hash whatever the key order, so
 * a resent resource (same content, new response) is recognised and its reload skipped, as
 * Envoy compares `MessageUtil::hash` of a RouteConfiguration before rebuilding.
 */
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value as Record<string, unknown>).sort();
  const parts: string[] = [];
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/** 16 hex digits (64 bits) of SHA-256 over `canonicalJson(value)`. */
export function stableHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/**
 * A version string as a safe-integer gauge value (Envoy sets the `version` gauge to a hash of
 * version_info): the first 48 bits of its SHA-256.
 */
export function versionGaugeValue(versionInfo: string): number {
  return parseInt(createHash('sha256').update(versionInfo).digest('hex').slice(0, 12), 16);
}
