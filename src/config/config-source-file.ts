/**
 * Reads a config document (YAML or JSON) and remembers where each value came from, so a
 * problem found later by field path can name the line.
 */
import { ConfigError } from './config-error.js';
import { DEPTH_LIMIT_MESSAGE, findTooDeep, findTooDeepJson, lineAt, MAX_CONFIG_BYTES, readConfigText, sizeLimitMessage } from './input-limits.js';
import { parseYaml } from './yaml-document.js';

export interface ParsedDocument {
  value: unknown;
  /** Line of a path (`a.b[0].c`), or of its nearest known ancestor; undefined for JSON input. */
  lineOf(path: string): number | undefined;
  source: string;
}

/**
 * Parses YAML or JSON config text within the limits of input-limits.ts (size, nesting, YAML
 * aliases); every problem is a ConfigError with the path and, where known, the line.
 */
export function parseConfigText(text: string, source: string): ParsedDocument {
  // UTF-16 length is at most the UTF-8 size, so this check is only ever too lenient by the
  // encoding's difference; files are checked by their byte size before they are read.
  if (text.length > MAX_CONFIG_BYTES) throw new ConfigError([{ path: '', message: sizeLimitMessage('the config', text.length, MAX_CONFIG_BYTES) }], source);
  const isJson = source.endsWith('.json') || /^\s*[{[]/.test(text);
  if (isJson) {
    let value: unknown;
    try {
      value = JSON.parse(text); // V8's JSON.parse is iterative: deep input cannot overflow it
    } catch (e) {
      throw new ConfigError([{ path: '', message: `invalid JSON: ${(e as Error).message}` }], source);
    }
    // The value walk is the cheap check; the text is scanned only to name the path and line.
    if (findTooDeep(value, '') !== undefined) {
      const deep = findTooDeepJson(text);
      throw new ConfigError([{ path: deep?.path ?? '', message: DEPTH_LIMIT_MESSAGE, line: deep ? lineAt(text, deep.offset) : undefined }], source);
    }
    return { value, lineOf: () => undefined, source };
  }
  const yaml = parseYaml(text, source);
  // Keyed by canonicalPath: problems name proto (snake_case) fields, the file may use lowerCamel.
  const lines = new Map<string, number>();
  for (const [path, line] of yaml.lines) {
    const key = canonicalPath(path);
    if (!lines.has(key)) lines.set(key, line);
  }
  const lineOf = (path: string): number | undefined => {
    let p = canonicalPath(path);
    for (;;) {
      const l = lines.get(p);
      if (l !== undefined) return l;
      const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
      if (cut <= 0) return lines.get('');
      p = p.slice(0, cut);
    }
  };
  return { value: yaml.value, lineOf, source };
}

/** `staticResources.clusters[0].lbPolicy` → `static_resources.clusters[0].lb_policy` (Envoy's JSON names). */
function canonicalPath(path: string): string {
  return path.replace(/([a-z0-9])([A-Z])/g, (_m, a: string, b: string) => `${a}_${b.toLowerCase()}`);
}

export function readConfigFile(file: string): ParsedDocument {
  let text: string;
  try {
    text = readConfigText(file);
  } catch (e) {
    throw new ConfigError([{ path: '', message: `cannot read config: ${(e as Error).message}` }], file);
  }
  return parseConfigText(text, file);
}
