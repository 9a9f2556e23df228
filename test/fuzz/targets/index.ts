/** Every fuzz target, by name (the order of `--target all` and of the smoke test). */
import type { GrowthProbe } from '../engine.js';
import type { FuzzTarget } from '../target.js';
import { configTarget } from './config.js';
import { dubboTarget, PROBES as DUBBO_PROBES } from './dubbo.js';
import { http1Target } from './http1.js';
import { metaUserCodecTarget } from './meta-user-codec.js';
import { thriftTarget, PROBES as THRIFT_PROBES } from './thrift.js';
import { xdsTarget } from './xds.js';

export const TARGET_NAMES = ['http1-request', 'http1-response', 'dubbo', 'thrift', 'config', 'xds', 'meta-user-codec'] as const;

export function targetByName(name: string): FuzzTarget | undefined {
  switch (name) {
    case 'http1-request':
      return http1Target('request');
    case 'http1-response':
      return http1Target('response');
    case 'dubbo':
      return dubboTarget;
    case 'thrift':
      return thriftTarget;
    case 'config':
      return configTarget;
    case 'xds':
      return xdsTarget;
    case 'meta-user-codec':
      return metaUserCodecTarget;
    default:
      return undefined;
  }
}

/** Hand-written growth shapes per target (the engine adds random ones). */
export function probesFor(name: string): readonly GrowthProbe[] {
  if (name === 'dubbo') return DUBBO_PROBES;
  if (name === 'thrift') return THRIFT_PROBES;
  return [];
}
