/**
 * Bootstrap `overload_manager` (envoy.config.overload.v3.OverloadManager) → OverloadConfig.
 * MAIN process. What Courier implements (src/server/overload/, src/worker/overload-state.ts):
 *
 * - resource monitors `envoy.resource_monitors.fixed_heap` (FixedHeapConfig) and
 *   `envoy.resource_monitors.global_downstream_max_connections` (DownstreamConnectionsConfig);
 * - actions `stop_accepting_requests`, `disable_http_keepalive`, `stop_accepting_connections`,
 *   `reject_incoming_connections`, with `threshold` and `scaled` triggers.
 *
 * Checks follow Envoy's: a monitor or action configured twice, a trigger naming a monitor
 * that is not configured (or naming one twice in an action) are errors. The connection limit
 * is a "proactive" monitor in Envoy: it is enforced on accept and cannot trigger actions.
 */
import type { ProblemSink } from '../api/network-filter.js';
import { durationMs, list, num, obj, rejectUnsupported, str, type Obj } from './plain-reader.js';

export const FIXED_HEAP = 'envoy.resource_monitors.fixed_heap';
export const GLOBAL_DOWNSTREAM_MAX_CONNECTIONS = 'envoy.resource_monitors.global_downstream_max_connections';

/** The actions Courier implements, by Envoy's names. */
export const OverloadActionName = {
  StopAcceptingRequests: 'envoy.overload_actions.stop_accepting_requests',
  DisableHttpKeepAlive: 'envoy.overload_actions.disable_http_keepalive',
  StopAcceptingConnections: 'envoy.overload_actions.stop_accepting_connections',
  RejectIncomingConnections: 'envoy.overload_actions.reject_incoming_connections',
} as const;
export type OverloadActionNameValue = (typeof OverloadActionName)[keyof typeof OverloadActionName];
const IMPLEMENTED_ACTIONS: readonly string[] = Object.values(OverloadActionName);
/** Envoy's other actions: refused by name. */
const NOT_YET_ACTIONS = [
  'envoy.overload_actions.shrink_heap', 'envoy.overload_actions.reduce_timeouts',
  'envoy.overload_actions.reset_high_memory_stream', 'envoy.overload_actions.close_idle_http_connections',
];

const MONITOR_TYPES: Record<string, string> = {
  [FIXED_HEAP]: 'envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig',
  [GLOBAL_DOWNSTREAM_MAX_CONNECTIONS]: 'envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig',
};

export type OverloadTrigger =
  | { readonly monitor: string; readonly kind: 'threshold'; readonly value: number }
  | { readonly monitor: string; readonly kind: 'scaled'; readonly scalingThreshold: number; readonly saturationThreshold: number };

export interface OverloadConfig {
  /** How often pressure is measured (refresh_interval, default 1 s). */
  refreshIntervalMs: number;
  /** fixed_heap: max_heap_size_bytes, when configured. */
  maxHeapBytes?: number;
  /** global_downstream_max_connections: max_active_downstream_connections, when configured. */
  maxActiveDownstreamConnections?: number;
  actions: Array<{ name: OverloadActionNameValue; triggers: OverloadTrigger[] }>;
}

export function parseOverloadManager(o: Obj, problems: ProblemSink): OverloadConfig {
  rejectUnsupported(o, ['refresh_interval', 'resource_monitors', 'actions'], 'OverloadManager', problems);
  const config: OverloadConfig = { refreshIntervalMs: durationMs(o, 'refresh_interval', 1000), actions: [] };
  if (config.refreshIntervalMs <= 0) problems.add('refresh_interval', 'refresh_interval must be greater than 0');
  const monitors = new Set<string>();
  // An empty list is refused by the decoder (Envoy's min_items: 1), as are empty trigger lists.
  list(o['resource_monitors']).forEach((m, i) => {
    const p = problems.at(`resource_monitors[${i}]`);
    const monitor = obj(m) ?? {};
    rejectUnsupported(monitor, ['name', 'typed_config'], 'ResourceMonitor', p);
    const name = str(monitor, 'name');
    const expected = MONITOR_TYPES[name];
    if (!expected) {
      p.add('name', `resource monitor ${name || '(no name)'} is not supported by Courier yet (${Object.keys(MONITOR_TYPES).join(', ')})`);
      return;
    }
    if (monitors.has(name)) p.add('name', `Duplicate resource monitor ${name}`);
    monitors.add(name);
    const typed = obj(monitor['typed_config']) ?? {};
    const typeUrl = str(typed, '@type');
    if (typeUrl.slice(typeUrl.lastIndexOf('/') + 1) !== expected) {
      p.add('typed_config', `${name} needs typed_config of type ${expected}`);
      return;
    }
    const tp = p.at('typed_config');
    if (name === FIXED_HEAP) {
      rejectUnsupported(typed, ['max_heap_size_bytes'], 'FixedHeapConfig', tp);
      config.maxHeapBytes = num(typed, 'max_heap_size_bytes', 0);
      if (!(config.maxHeapBytes > 0)) tp.add('max_heap_size_bytes', 'max_heap_size_bytes must be greater than 0');
    } else {
      rejectUnsupported(typed, ['max_active_downstream_connections'], 'DownstreamConnectionsConfig', tp);
      config.maxActiveDownstreamConnections = num(typed, 'max_active_downstream_connections', 0);
      if (!(config.maxActiveDownstreamConnections > 0)) tp.add('max_active_downstream_connections', 'max_active_downstream_connections must be greater than 0');
    }
  });
  const actionNames = new Set<string>();
  list(o['actions']).forEach((a, i) => {
    const p = problems.at(`actions[${i}]`);
    const action = obj(a) ?? {};
    rejectUnsupported(action, ['name', 'triggers'], 'OverloadAction', p);
    const name = str(action, 'name');
    if (!IMPLEMENTED_ACTIONS.includes(name)) {
      const known = NOT_YET_ACTIONS.includes(name);
      p.add('name', `${known ? `overload action ${name} is not supported by Courier yet` : `Unknown Overload Manager Action ${name || '(no name)'}`} (${IMPLEMENTED_ACTIONS.join(', ')})`);
      return;
    }
    if (actionNames.has(name)) p.add('name', `Duplicate overload action ${name}`);
    actionNames.add(name);
    const triggers: OverloadTrigger[] = [];
    const named = new Set<string>();
    list(action['triggers']).forEach((t, j) => {
      const trigger = parseTrigger(obj(t) ?? {}, p.at(`triggers[${j}]`), name, monitors);
      if (!trigger) return;
      if (named.has(trigger.monitor)) p.at(`triggers[${j}]`).add('name', `Duplicate trigger resource for overload action ${name}`);
      named.add(trigger.monitor);
      triggers.push(trigger);
    });
    config.actions.push({ name: name as OverloadActionNameValue, triggers });
  });
  return config;
}

function parseTrigger(t: Obj, p: ProblemSink, action: string, monitors: ReadonlySet<string>): OverloadTrigger | undefined {
  rejectUnsupported(t, ['name', 'threshold', 'scaled'], 'Trigger', p);
  const monitor = str(t, 'name');
  if (monitor === GLOBAL_DOWNSTREAM_MAX_CONNECTIONS && monitors.has(monitor)) {
    p.add('name', `${monitor} limits connections itself (a proactive resource monitor, as in Envoy) and cannot trigger overload action ${action}`);
    return undefined;
  }
  if (!monitors.has(monitor)) {
    p.add('name', `Unknown trigger resource ${monitor || '(no name)'} for overload action ${action}`);
    return undefined;
  }
  const threshold = obj(t['threshold']);
  const scaled = obj(t['scaled']);
  if (threshold) {
    rejectUnsupported(threshold, ['value'], 'ThresholdTrigger', p.at('threshold'));
    const value = num(threshold, 'value', 0);
    if (value < 0 || value > 1) p.at('threshold').add('value', 'value must be between 0 and 1');
    return { monitor, kind: 'threshold', value };
  }
  if (scaled) {
    const sp = p.at('scaled');
    rejectUnsupported(scaled, ['scaling_threshold', 'saturation_threshold'], 'ScaledTrigger', sp);
    const scalingThreshold = num(scaled, 'scaling_threshold', 0);
    const saturationThreshold = num(scaled, 'saturation_threshold', 0);
    for (const [f, v] of [['scaling_threshold', scalingThreshold], ['saturation_threshold', saturationThreshold]] as const) {
      if (v < 0 || v > 1) sp.add(f, `${f} must be between 0 and 1`);
    }
    if (scalingThreshold >= saturationThreshold) sp.add('scaling_threshold', 'scaling_threshold must be less than saturation_threshold');
    return { monitor, kind: 'scaled', scalingThreshold, saturationThreshold };
  }
  p.add('', 'a trigger needs threshold or scaled');
  return undefined;
}
