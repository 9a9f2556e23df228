/**
 * Finding a MetaProtocol codec: a built-in one by name, or a user's ES module by path or
 * package name, imported once per process (main checks it at start; each worker imports it
 * before building its filter chains) and checked against the MetaCodecFactory contract, so
 * that a module that breaks it stops start-up with a message naming what is missing rather
 * than failing on the first request.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MetaCodec, MetaCodecFactory } from '../../../../api/meta-protocol-codec.js';
import { dubboMetaCodecFactory } from '../../../codecs/dubbo/meta-codec.js';
import { thriftCodecFactory } from '../../../codecs/thrift/meta-codec.js';

/** Built-in codecs by name; aeraki's names are aliases so its configs read unchanged. */
const BUILT_IN = new Map<string, MetaCodecFactory>([
  [dubboMetaCodecFactory.name, dubboMetaCodecFactory],
  ['aeraki.meta_protocol.codec.dubbo', dubboMetaCodecFactory],
  [thriftCodecFactory.name, thriftCodecFactory],
  ['aeraki.meta_protocol.codec.thrift', thriftCodecFactory],
]);

export interface CodecRef {
  /** The configured codec name. */
  name: string;
  /** A user module (path or package), when not built in. */
  module?: string;
  config: Record<string, unknown>;
}

/** Modules imported in this process, by the spec as configured. */
const loaded = new Map<string, Promise<MetaCodecFactory>>();

export function builtInCodec(name: string): MetaCodecFactory | undefined {
  return BUILT_IN.get(name);
}

const REQUIRED_CODEC_METHODS = ['frameLength', 'decode', 'encode', 'onError'] as const;
const OPTIONAL_CODEC_METHODS = ['heartbeatResponse', 'setRequestId'] as const;

/**
 * Checks a module's export against the contract, including one codec it makes with `config`.
 * Throws an Error whose message names everything missing.
 */
export function checkCodecFactory(value: unknown, where: string, config: Record<string, unknown>, multiplexing: boolean): MetaCodecFactory {
  const missing: string[] = [];
  const f = value as Partial<MetaCodecFactory> | undefined;
  if (!f || typeof f !== 'object') throw new Error(`${where}: exports no codec factory (a default or "codec" export with name and createCodec)`);
  if (typeof f.name !== 'string' || f.name === '') missing.push('name (a non-empty string)');
  if (typeof f.createCodec !== 'function') missing.push('createCodec(config) (a function)');
  if (f.configure !== undefined && typeof f.configure !== 'function') missing.push('configure must be a function when present');
  if (missing.length > 0) throw new Error(`${where}: the codec factory lacks ${missing.join(', ')}`);
  try {
    f.configure?.(config);
  } catch (e) {
    throw new Error(`${where}: codec rejected its config: ${e instanceof Error ? e.message : String(e)}`);
  }
  let codec: Partial<MetaCodec>;
  try {
    codec = f.createCodec!(config) as Partial<MetaCodec>;
  } catch (e) {
    throw new Error(`${where}: createCodec threw: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!codec || typeof codec !== 'object') throw new Error(`${where}: createCodec returned ${codec === null ? 'null' : typeof codec}, not a codec object`);
  for (const m of REQUIRED_CODEC_METHODS) if (typeof codec[m] !== 'function') missing.push(`${m}()`);
  for (const m of OPTIONAL_CODEC_METHODS) if (codec[m] !== undefined && typeof codec[m] !== 'function') missing.push(`${m} (must be a function when present)`);
  if (multiplexing && typeof codec.setRequestId !== 'function') missing.push('setRequestId() (needed because protocol.multiplexing is true)');
  if (missing.length > 0) throw new Error(`${where}: the codec made by createCodec lacks ${missing.join(', ')}`);
  return f as MetaCodecFactory;
}

function moduleUrl(spec: string): string {
  if (spec.startsWith('.') || path.isAbsolute(spec)) return pathToFileURL(path.resolve(spec)).href;
  // A package: resolved from the working directory, where the user installed it.
  try {
    return pathToFileURL(createRequire(path.join(process.cwd(), 'noop.js')).resolve(spec)).href;
  } catch {
    return spec;
  }
}

/** Imports (once per process) and checks a user codec module. Rejects with a clear message. */
export function loadCodecModule(ref: CodecRef, multiplexing: boolean): Promise<MetaCodecFactory> {
  const spec = ref.module!;
  const key = `${spec}\u0000${JSON.stringify(ref.config)}\u0000${multiplexing}`;
  let p = loaded.get(key);
  if (!p) {
    const where = `codec module "${spec}"`;
    p = import(moduleUrl(spec)).then(
      (ns: Record<string, unknown>) => checkCodecFactory(ns['default'] ?? ns['codec'], where, ref.config, multiplexing),
      (e: unknown) => {
        throw new Error(`${where} cannot be loaded: ${e instanceof Error ? e.message : String(e)}`);
      },
    );
    p.catch(() => loaded.delete(key));
    loaded.set(key, p);
  }
  return p;
}

/** Factories of modules prepared in this process, by module spec. */
const ready = new Map<string, MetaCodecFactory>();

/** Imports and checks a user codec module so that codecFactoryOf can answer synchronously. */
export async function prepareCodec(ref: CodecRef, multiplexing: boolean): Promise<void> {
  if (!ref.module) return;
  try {
    ready.set(ref.module, await loadCodecModule(ref, multiplexing));
  } catch (e) {
    // The field to name in the config error (relative to the filter's typed_config).
    throw Object.assign(new Error((e as Error).message), { configField: 'protocol.codec.module' });
  }
}

/** The factory of a built-in codec, or of a module prepared in this process (worker). */
export function codecFactoryOf(ref: CodecRef): MetaCodecFactory {
  const factory = ref.module ? ready.get(ref.module) : BUILT_IN.get(ref.name);
  if (!factory) throw new Error(`codec ${ref.name} (${ref.module ?? 'built-in'}) was not loaded before use`);
  return factory;
}
