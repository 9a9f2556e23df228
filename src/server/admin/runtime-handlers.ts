/**
 * GET /runtime and POST /runtime_modify, shaped as Envoy's RuntimeHandler.
 *
 * /runtime: `{"entries": {key: {"final_value", "layer_values": [one per layer, '' where the
 * layer lacks the key]}}, "layers": [names, in override order]}`; final_value is the last
 * non-empty layer value.
 * /runtime_modify?k=v&… (or the same as a form body): sets admin-layer keys (an empty value removes the override) and
 * answers once every worker has the new snapshot: requests sent after the answer see it. No parameters: 400 with
 * the usage; no admin layer configured: 503 "No admin layer specified".
 */
import type { AdminContext } from './admin-context.js';
import type { AdminHandler, AdminResponse } from './admin-handlers.js';

const USAGE =
  'usage: /runtime_modify?key1=value1&key2=value2&keyN=valueN\n' +
  '       or send the parameters as form values\n' +
  'use an empty value to remove a previously added override';

function runtimeJson(ctx: AdminContext): unknown {
  const layers = ctx.runtime().layers();
  const keys = [...new Set(layers.flatMap((l) => [...l.values.keys()]))].sort();
  const entries: Record<string, { final_value: string; layer_values: string[] }> = {};
  for (const key of keys) {
    const layerValues = layers.map((l) => l.values.get(key)?.raw ?? '');
    entries[key] = { final_value: layerValues.reduce((last, v) => (v !== '' ? v : last), ''), layer_values: layerValues };
  }
  return { entries, layers: layers.map((l) => l.name) };
}

const text = (body: string, status: number): AdminResponse => ({ status, contentType: 'text/plain; charset=UTF-8', body });

export const RUNTIME_ADMIN_HANDLERS: readonly AdminHandler[] = [
  {
    path: '/runtime',
    help: 'print runtime values',
    mutates: false,
    handle: (_q, ctx) => ({ status: 200, contentType: 'application/json', body: `${JSON.stringify(runtimeJson(ctx), null, 2)}\n` }),
  },
  {
    path: '/runtime_modify',
    help: 'set runtime values in the admin layer (?key1=value1&key2=value2; an empty value removes the override)',
    mutates: true,
    handle: async (q, ctx) => {
      // The first value of each key, as Envoy takes it.
      const values = new Map<string, string>();
      for (const [k, v] of q) if (!values.has(k)) values.set(k, v);
      if (values.size === 0) return text(USAGE, 400);
      const error = await ctx.runtime().mergeValues([...values]);
      return error === undefined ? text('OK\n', 200) : text(error, 503);
    },
  },
];
