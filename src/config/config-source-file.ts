/**
 * Reads a config document (YAML or JSON) and remembers where each value came from, so a
 * problem found later by field path can name the line.
 */
import { readFileSync } from 'node:fs';
import YAML, { isMap, isSeq, isScalar, isPair, LineCounter, type Node } from 'yaml';
import { ConfigError, type ConfigProblem } from './config-error.js';

export interface ParsedDocument {
  value: unknown;
  /** Line of a path (`a.b[0].c`), or of its nearest known ancestor; undefined for JSON input. */
  lineOf(path: string): number | undefined;
  source: string;
}

export function parseConfigText(text: string, source: string): ParsedDocument {
  const isJson = source.endsWith('.json') || /^\s*[{[]/.test(text);
  if (isJson) {
    try {
      return { value: JSON.parse(text), lineOf: () => undefined, source };
    } catch (e) {
      throw new ConfigError([{ path: '', message: `invalid JSON: ${(e as Error).message}` }], source);
    }
  }
  const lineCounter = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) {
    const problems: ConfigProblem[] = doc.errors.map((e) => ({
      path: '',
      message: `invalid YAML: ${e.message.split('\n')[0]}`,
      line: e.linePos?.[0]?.line,
    }));
    throw new ConfigError(problems, source);
  }
  // Keyed by canonicalPath: problems name proto (snake_case) fields, the file may use lowerCamel.
  const lines = new Map<string, number>();
  const walk = (node: Node | null | undefined, path: string): void => {
    if (!node) return;
    // A block value starts on the line after its key; the key's line (set below) is the one to name.
    const here = canonicalPath(path);
    if (node.range && !lines.has(here)) lines.set(here, lineCounter.linePos(node.range[0]).line);
    if (isMap(node)) {
      for (const item of node.items) {
        if (!isPair(item)) continue;
        const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
        const childPath = path ? `${path}.${key}` : key;
        const keyNode = item.key as Node | null;
        if (keyNode && keyNode.range) lines.set(canonicalPath(childPath), lineCounter.linePos(keyNode.range[0]).line);
        const valueNode = item.value as Node | null;
        if (valueNode && (isMap(valueNode) || isSeq(valueNode))) walk(valueNode, childPath);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item as Node, `${path}[${i}]`));
    }
  };
  walk(doc.contents as Node, '');
  const value = doc.toJS({ maxAliasCount: 1000 });
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
  return { value, lineOf, source };
}

/** `staticResources.clusters[0].lbPolicy` → `static_resources.clusters[0].lb_policy` (Envoy's JSON names). */
function canonicalPath(path: string): string {
  return path.replace(/([a-z0-9])([A-Z])/g, (_m, a: string, b: string) => `${a}_${b.toLowerCase()}`);
}

export function readConfigFile(file: string): ParsedDocument {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([{ path: '', message: `cannot read config: ${(e as Error).message}` }], file);
  }
  return parseConfigText(text, file);
}
