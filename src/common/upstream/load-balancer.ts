/**
 * Load-balancing policy registry: maps a decoded lb_policy to its implementation.
 */
import type {
  HostDescription,
  HostLoad,
  LbPolicyConfig,
  LbPolicyName,
  LoadBalancer,
  LoadBalancerFactory,
} from '../../api/load-balancer.js';
import {
  LeastRequestLoadBalancer,
  validateLeastRequestOptions,
} from './load-balancer-least-request.js';
import { MaglevLoadBalancer, validateMaglevOptions } from './load-balancer-maglev.js';
import { RandomLoadBalancer } from './load-balancer-random.js';
import { RingHashLoadBalancer, validateRingHashOptions } from './load-balancer-ring-hash.js';
import { RoundRobinLoadBalancer } from './load-balancer-round-robin.js';

export const SUPPORTED_LB_POLICIES: readonly LbPolicyName[] = Object.freeze([
  'ROUND_ROBIN',
  'LEAST_REQUEST',
  'RANDOM',
  'RING_HASH',
  'MAGLEV',
]);

export function isSupportedLbPolicy(name: string): name is LbPolicyName {
  return (SUPPORTED_LB_POLICIES as readonly string[]).includes(name);
}

/**
 * Rejects settings the policy would reject, without needing hosts. Call it at config load so a
 * bad table_size fails the config update instead of the first host-set rebuild on a worker.
 */
export function validateLbPolicyConfig(config: LbPolicyConfig): void {
  switch (config.policy) {
    case 'ROUND_ROBIN':
    case 'RANDOM':
      return;
    case 'LEAST_REQUEST':
      validateLeastRequestOptions({ choiceCount: config.choiceCount });
      return;
    case 'RING_HASH':
      validateRingHashOptions({
        minimumRingSize: config.minimumRingSize,
        maximumRingSize: config.maximumRingSize,
      });
      return;
    case 'MAGLEV':
      validateMaglevOptions({ tableSize: config.tableSize });
      return;
    default:
      throw unsupported(config.policy);
  }
}

/** Throws (like validateLbPolicyConfig) on an unsupported policy or invalid settings. */
export const createLoadBalancer: LoadBalancerFactory = (
  hosts: readonly HostDescription[],
  config: LbPolicyConfig,
  load: HostLoad,
): LoadBalancer => {
  switch (config.policy) {
    case 'ROUND_ROBIN':
      return new RoundRobinLoadBalancer(hosts);
    case 'LEAST_REQUEST':
      return new LeastRequestLoadBalancer(hosts, load, { choiceCount: config.choiceCount });
    case 'RANDOM':
      return new RandomLoadBalancer(hosts);
    case 'RING_HASH':
      return new RingHashLoadBalancer(hosts, {
        minimumRingSize: config.minimumRingSize,
        maximumRingSize: config.maximumRingSize,
      });
    case 'MAGLEV':
      return new MaglevLoadBalancer(hosts, { tableSize: config.tableSize });
    default:
      throw unsupported(config.policy);
  }
};

function unsupported(policy: never): Error {
  return new Error(
    `unsupported lb_policy ${String(policy)}; supported: ${SUPPORTED_LB_POLICIES.join(', ')}`,
  );
}
