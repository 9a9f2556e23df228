/**
 * Bootstrap `layered_runtime` (envoy.config.bootstrap.v3.LayeredRuntime) → RuntimeConfig.
 * MAIN, at config time. As Envoy: layer names are unique; at most one admin layer; a
 * layered_runtime with no layers gets one admin layer (named ''); no layered_runtime at all
 * means no layers (every read takes its default, and /runtime_modify answers 503). Static
 * layers are read here, so a list or null value is an error with its path.
 */
import type { ProblemSink } from '../api/network-filter.js';
import { RuntimeLayerError, structLayerValues } from '../common/runtime/runtime-layers.js';
import type { RuntimeEntry } from '../common/runtime/runtime-snapshot.js';
import { parseConfigSource, type ConfigSourceContext, type XdsConfigSource } from '../xds/config-source.js';
import { bool, list, obj, rejectUnsupported, str, type Obj } from './plain-reader.js';

export type RuntimeLayerConfig =
  | { readonly kind: 'static'; readonly name: string; readonly values: ReadonlyArray<readonly [string, RuntimeEntry]> }
  | {
      readonly kind: 'disk';
      readonly name: string;
      readonly symlinkRoot: string;
      readonly subdirectory: string;
      readonly appendServiceCluster: boolean;
    }
  | { readonly kind: 'admin'; readonly name: string }
  /** An RTDS subscription to the Runtime resource `resourceName`. */
  | { readonly kind: 'rtds'; readonly name: string; readonly resourceName: string; readonly source: XdsConfigSource };

export interface RuntimeConfig {
  readonly layers: readonly RuntimeLayerConfig[];
}

const LAYER_KINDS = ['static_layer', 'disk_layer', 'admin_layer', 'rtds_layer'] as const;

export function parseLayeredRuntime(lr: Obj | undefined, problems: ProblemSink, sources: ConfigSourceContext): RuntimeConfig {
  if (!lr) return { layers: [] };
  rejectUnsupported(lr, ['layers'], 'LayeredRuntime', problems);
  const raw = list(lr['layers']);
  if (raw.length === 0) return { layers: [{ kind: 'admin', name: '' }] };
  const layers: RuntimeLayerConfig[] = [];
  const names = new Set<string>();
  let admin = false;
  raw.forEach((l, i) => {
    const layer = obj(l) ?? {};
    const p = problems.at(`layers[${i}]`);
    rejectUnsupported(layer, ['name', ...LAYER_KINDS], 'RuntimeLayer', p);
    const name = str(layer, 'name');
    if (name === '') p.add('name', 'a runtime layer needs a name');
    else if (names.has(name)) p.add('name', `Duplicate layer name: ${name}`);
    names.add(name);
    const kinds = LAYER_KINDS.filter((k) => layer[k] !== undefined);
    if (kinds.length !== 1) {
      p.add('', kinds.length === 0 ? `one of ${LAYER_KINDS.join(', ')} is required` : `only one of ${kinds.join(', ')} may be set`);
      return;
    }
    const body = obj(layer[kinds[0]!]) ?? {};
    switch (kinds[0]!) {
      case 'static_layer':
        try {
          layers.push({ kind: 'static', name, values: [...structLayerValues(body)] });
        } catch (e) {
          const key = e instanceof RuntimeLayerError ? e.key : '';
          p.at('static_layer').add(key, (e as Error).message);
        }
        return;
      case 'disk_layer': {
        const dp = p.at('disk_layer');
        rejectUnsupported(body, ['symlink_root', 'subdirectory', 'append_service_cluster'], 'RuntimeLayer.DiskLayer', dp);
        const symlinkRoot = str(body, 'symlink_root');
        if (symlinkRoot === '') dp.add('symlink_root', 'symlink_root is required');
        layers.push({ kind: 'disk', name, symlinkRoot, subdirectory: str(body, 'subdirectory'), appendServiceCluster: bool(body, 'append_service_cluster', false) });
        return;
      }
      case 'admin_layer':
        rejectUnsupported(body, [], 'RuntimeLayer.AdminLayer', p.at('admin_layer'));
        if (admin) p.add('admin_layer', 'Too many admin layers specified in LayeredRuntime, at most one may be specified');
        admin = true;
        layers.push({ kind: 'admin', name });
        return;
      case 'rtds_layer': {
        const rp = p.at('rtds_layer');
        rejectUnsupported(body, ['name', 'rtds_config'], 'RuntimeLayer.RtdsLayer', rp);
        const resourceName = str(body, 'name');
        if (resourceName === '') rp.add('name', 'the RTDS resource name is required');
        const cs = obj(body['rtds_config']);
        if (!cs) {
          rp.add('rtds_config', 'rtds_config is required');
          return;
        }
        const source = parseConfigSource(cs, rp.at('rtds_config'), sources);
        if (source) layers.push({ kind: 'rtds', name, resourceName, source });
        return;
      }
    }
  });
  return { layers };
}
