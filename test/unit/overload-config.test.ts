/**
 * overload_manager as a user writes it: what is read, each refusal with its field path, and
 * the trigger arithmetic (threshold and scaled) that turns pressure into an action's state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadBootstrapText } from '../../src/config/bootstrap.js';
import { ConfigError } from '../../src/config/config-error.js';
import { networkFilterRegistry } from '../../src/extensions/all.js';
import { actionValue, triggerValue } from '../../src/server/overload/overload-triggers.js';

const HEAP = `  - name: envoy.resource_monitors.fixed_heap
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig
      max_heap_size_bytes: 2147483648`;
const CONNECTIONS = `  - name: envoy.resource_monitors.global_downstream_max_connections
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
      max_active_downstream_connections: 1000`;

function bootstrap(monitors: string, actions = ''): string {
  return `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
overload_manager:
  refresh_interval: 0.25s
  resource_monitors:
${monitors}
${actions ? `  actions:\n${actions}` : ''}
`;
}

function problems(text: string): Array<{ path: string; message: string }> {
  try {
    loadBootstrapText(text, 'x.yaml', networkFilterRegistry());
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => ({ path: p.path, message: p.message }));
    throw e;
  }
  assert.fail('the config loaded, but it should have been refused');
}

function only(text: string, path: string): string {
  const found = problems(text).filter((p) => p.path === path);
  assert.equal(found.length, 1, `expected one problem at ${path}: ${JSON.stringify(problems(text))}`);
  return found[0]!.message;
}

test('Envoy\'s documented example loads: both monitors, two actions, thresholds and scaled triggers', () => {
  const text = bootstrap(
    `${HEAP}\n${CONNECTIONS}`,
    `  - name: envoy.overload_actions.disable_http_keepalive
    triggers:
    - name: envoy.resource_monitors.fixed_heap
      threshold: { value: 0.92 }
  - name: envoy.overload_actions.stop_accepting_requests
    triggers:
    - name: envoy.resource_monitors.fixed_heap
      scaled: { scaling_threshold: 0.85, saturation_threshold: 0.95 }`,
  );
  const { config } = loadBootstrapText(text, 'x.yaml', networkFilterRegistry());
  assert.deepEqual(config.overload, {
    refreshIntervalMs: 250,
    maxHeapBytes: 2147483648,
    maxActiveDownstreamConnections: 1000,
    actions: [
      { name: 'envoy.overload_actions.disable_http_keepalive', triggers: [{ monitor: 'envoy.resource_monitors.fixed_heap', kind: 'threshold', value: 0.92 }] },
      {
        name: 'envoy.overload_actions.stop_accepting_requests',
        triggers: [{ monitor: 'envoy.resource_monitors.fixed_heap', kind: 'scaled', scalingThreshold: 0.85, saturationThreshold: 0.95 }],
      },
    ],
  });
});

test('refusals: unknown and duplicate monitors, unknown trigger resource, a trigger on the connection limit, bad thresholds, unknown actions', () => {
  assert.match(only(bootstrap(`${HEAP}\n${HEAP}`), 'overload_manager.resource_monitors[1].name'), /Duplicate resource monitor envoy\.resource_monitors\.fixed_heap/);
  assert.match(
    only(bootstrap(`  - name: envoy.resource_monitors.injected_resource\n    typed_config: { "@type": type.googleapis.com/envoy.extensions.resource_monitors.injected_resource.v3.InjectedResourceConfig, filename: /tmp/x }`), 'overload_manager.resource_monitors[0].name'),
    /resource monitor envoy\.resource_monitors\.injected_resource is not supported by Courier yet/,
  );
  const trigger = (name: string, body = 'threshold: { value: 0.9 }', action = 'envoy.overload_actions.stop_accepting_requests'): string =>
    `  - name: ${action}\n    triggers:\n    - name: ${name}\n      ${body}`;
  assert.match(
    only(bootstrap(HEAP, trigger('envoy.resource_monitors.cpu_utilization')), 'overload_manager.actions[0].triggers[0].name'),
    /Unknown trigger resource envoy\.resource_monitors\.cpu_utilization for overload action envoy\.overload_actions\.stop_accepting_requests/,
  );
  assert.match(
    only(bootstrap(`${HEAP}\n${CONNECTIONS}`, trigger('envoy.resource_monitors.global_downstream_max_connections')), 'overload_manager.actions[0].triggers[0].name'),
    /cannot trigger overload action/,
  );
  assert.match(
    only(bootstrap(HEAP, trigger('envoy.resource_monitors.fixed_heap', 'scaled: { scaling_threshold: 0.9, saturation_threshold: 0.8 }')), 'overload_manager.actions[0].triggers[0].scaled.scaling_threshold'),
    /scaling_threshold must be less than saturation_threshold/,
  );
  assert.match(
    only(bootstrap(HEAP, trigger('envoy.resource_monitors.fixed_heap', 'threshold: { value: 0.9 }', 'envoy.overload_actions.shrink_heap')), 'overload_manager.actions[0].name'),
    /overload action envoy\.overload_actions\.shrink_heap is not supported by Courier yet/,
  );
  assert.match(
    only(bootstrap(HEAP, trigger('envoy.resource_monitors.fixed_heap', 'threshold: { value: 0.9 }', 'envoy.overload_actions.typo')), 'overload_manager.actions[0].name'),
    /Unknown Overload Manager Action envoy\.overload_actions\.typo/,
  );
  assert.match(
    only(bootstrap(`${HEAP}`, `${trigger('envoy.resource_monitors.fixed_heap')}\n${trigger('envoy.resource_monitors.fixed_heap')}`), 'overload_manager.actions[1].name'),
    /Duplicate overload action envoy\.overload_actions\.stop_accepting_requests/,
  );
  assert.match(
    only(bootstrap(CONNECTIONS.replace('max_active_downstream_connections: 1000', 'max_active_downstream_connections: 0')), 'overload_manager.resource_monitors[0].typed_config.max_active_downstream_connections'),
    /must be greater than 0/,
  );
  assert.match(only(bootstrap(HEAP).replace(/  resource_monitors:[^]*/, '  resource_monitors: []\n'), 'overload_manager.resource_monitors'), /at least 1 item\(s\) required/);
  assert.match(only(bootstrap(HEAP).replace('refresh_interval: 0.25s', 'refresh_interval: 0.25s\n  loadshed_points: [{ name: envoy.load_shed_points.tcp_listener_accept, triggers: [{ name: envoy.resource_monitors.fixed_heap, threshold: { value: 0.9 } }] }]'), 'overload_manager.loadshed_points'), /not supported by Courier yet/);
});

test('triggers: threshold is 0 or 1; scaled is linear between its thresholds; an action takes its largest trigger', () => {
  const threshold = { monitor: 'm', kind: 'threshold', value: 0.9 } as const;
  assert.equal(triggerValue(threshold, 0.89), 0);
  assert.equal(triggerValue(threshold, 0.9), 1);
  const scaled = { monitor: 'n', kind: 'scaled', scalingThreshold: 0.5, saturationThreshold: 0.9 } as const;
  assert.equal(triggerValue(scaled, 0.4), 0);
  assert.ok(Math.abs(triggerValue(scaled, 0.7) - 0.5) < 1e-9);
  assert.equal(triggerValue(scaled, 0.9), 1);
  assert.equal(triggerValue(scaled, 3), 1);
  assert.ok(Math.abs(actionValue([threshold, scaled], new Map([['m', 0.1], ['n', 0.6]])) - 0.25) < 1e-9);
  assert.equal(actionValue([threshold, scaled], new Map()), 0, 'a monitor without a reading counts as no pressure');
});
