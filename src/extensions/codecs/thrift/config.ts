/**
 * The thrift codec's `config` (MetaProtocolProxy codec config, plain JSON):
 *
 *     { transport?: 'auto' | 'framed' | 'unframed' | 'header', protocol?: 'auto' | 'binary' | 'compact' }
 *
 * Both default to 'auto': each connection's format is detected from its first frame. A fixed
 * value restricts detection: bytes in any other format are refused.
 */

import type { ProtocolOption, TransportOption } from './transport.js';

export interface ThriftCodecConfig {
  readonly transport: TransportOption;
  readonly protocol: ProtocolOption;
}

const TRANSPORTS: readonly TransportOption[] = ['auto', 'framed', 'unframed', 'header'];
const PROTOCOLS: readonly ProtocolOption[] = ['auto', 'binary', 'compact'];
const KEYS = ['transport', 'protocol'];

/** Checks and normalizes the config; throws an Error naming the bad key or value. */
export function parseThriftCodecConfig(config: Record<string, unknown>): ThriftCodecConfig {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new Error(`thrift codec config must be an object, got ${JSON.stringify(config)}`);
  }
  for (const key of Object.keys(config)) {
    if (!KEYS.includes(key)) {
      throw new Error(`thrift codec config: unknown key "${key}" (known: ${KEYS.join(', ')})`);
    }
  }
  return {
    transport: pick('transport', config['transport'], TRANSPORTS),
    protocol: pick('protocol', config['protocol'], PROTOCOLS),
  };
}

function pick<T extends string>(key: string, value: unknown, allowed: readonly T[]): T {
  if (value === undefined) return allowed[0]!;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new Error(`thrift codec config: ${key} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
}
