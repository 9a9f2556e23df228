/**
 * Reads a config document (YAML or JSON) and remembers where each value came from, so a
 * problem found later by field path can name the line.
 */
import { ConfigError, type ConfigProblem } from './config-error.js';
import { DEPTH_LIMIT_MESSAGE, findTooDeep, findTooDeepJson, lineAt, MAX_CONFIG_BYTES, readConfigText, sizeLimitMessage } from './input-limits.js';
import { parseYaml } from './yaml-document.js';

export interface ParsedDocument {
  value: unknown;
  /** Line of a path (`a.b[0].c`), or of its nearest known ancestor. */
  lineOf(path: string): number | undefined;
  /** Line of a path written in this document itself (no ancestor's), else undefined. */
  ownLineOf(path: string): number | undefined;
  source: string;
  /** Loaded, but worth telling the user (duplicate keys), with path and line. */
  warnings: readonly ConfigProblem[];
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
      throw new ConfigError([jsonSyntaxProblem(text, (e as Error).message)], source);
    }
    // The value walk is the cheap check; the text is scanned only to name the path and line.
    if (findTooDeep(value, '') !== undefined) {
      const deep = findTooDeepJson(text);
      throw new ConfigError([{ path: deep?.path ?? '', message: DEPTH_LIMIT_MESSAGE, line: deep ? lineAt(text, deep.offset) : undefined }], source);
    }
    // Lines are asked for only when there is a problem to report: the text is then read again
    // as YAML (JSON is YAML) for its key lines, once, instead of on every load.
    let jsonLines: LineLookup | undefined;
    const lines = (): LineLookup => {
      if (!jsonLines) {
        try {
          jsonLines = lineLookup(parseYaml(text, source).lines);
        } catch {
          jsonLines = { lineOf: () => undefined, ownLineOf: () => undefined };
        }
      }
      return jsonLines;
    };
    return { value, lineOf: (p) => lines().lineOf(p), ownLineOf: (p) => lines().ownLineOf(p), source, warnings: [] };
  }
  const yaml = parseYaml(text, source);
  return { value: yaml.value, ...lineLookup(yaml.lines), source, warnings: yaml.warnings };
}

interface LineLookup {
  lineOf(path: string): number | undefined;
  ownLineOf(path: string): number | undefined;
}

/** JSON.parse's error with the line it names (V8 says "at position N") and that line's text. */
function jsonSyntaxProblem(text: string, message: string): ConfigProblem {
  const at = / at position (\d+)/.exec(message);
  if (!at) return { path: '', message: `invalid JSON: ${message}` };
  const offset = Number(at[1]);
  const line = lineAt(text, offset);
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  const end = text.indexOf('\n', offset);
  const lineText = text.slice(start, end < 0 ? text.length : end).replace(/\r$/, '');
  const quoted = lineText.length > 120 ? `${lineText.slice(0, 120)}…` : lineText;
  return { path: '', message: `invalid JSON: ${message.slice(0, at.index)} (column ${offset - start + 1}): ${JSON.stringify(quoted)}`, line };
}

/** Line of a field path from a document's key lines, falling back to the nearest ancestor. */
function lineLookup(yamlLines: ReadonlyMap<string, number>): LineLookup {
  // Keyed by canonicalPath: problems name proto (snake_case) fields, the file may use lowerCamel.
  const lines = new Map<string, number>();
  for (const [path, line] of yamlLines) {
    const key = canonicalPath(path);
    if (!lines.has(key)) lines.set(key, line);
  }
  const ownLineOf = (path: string): number | undefined => lines.get(canonicalPath(path));
  const lineOf = (path: string): number | undefined => {
    let p = asWritten(canonicalPath(path), lines);
    for (;;) {
      const l = lines.get(p);
      if (l !== undefined) return l;
      const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
      if (cut <= 0) return lines.get('');
      p = p.slice(0, cut);
    }
  };
  return { lineOf, ownLineOf };
}

/**
 * A decoded path as the file wrote it: `listeners[0].name` is `listeners.name` where the file
 * gave one listener as a single value instead of a list (see proto-json.ts).
 */
function asWritten(path: string, lines: ReadonlyMap<string, number>): string {
  if (lines.has(path) || !path.includes('[0]')) return path;
  let out = '';
  for (const part of path.split(/(?=[.[])/)) {
    if (part === '[0]' && !lines.has(`${out}[0]`) && lines.has(out)) continue;
    out += part;
  }
  return out;
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
