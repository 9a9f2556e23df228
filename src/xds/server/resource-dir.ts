/**
 * A directory of YAML/JSON files → the management server's resources, by type URL. Each file
 * (`*.yaml`, `*.yml`, `*.json`; dotfiles and editor backups skipped) holds either
 * - a list of resources, each with "@type";
 * - a DiscoveryResponse-like object `{version_info?, type_url?, resources: [...]}` (type_url,
 *   when given, is the "@type" of resources that have none);
 * - or one resource with "@type".
 * Resources are keyed by type URL and name (`name`; `cluster_name` for EDS). Any error (YAML,
 * encoding, duplicate name across files) fails the whole load with every problem as
 * `file (line N): path: message`, so the server keeps serving the last good set.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../config/config-error.js';
import { readConfigText } from '../../config/input-limits.js';
import { parseConfigText, type ParsedDocument } from '../../config/config-source-file.js';
import { canonicalJson } from '../stable-hash.js';
import { checkResource, encodeResources, ResourceEncodeError, type ServedResource } from './resource-store.js';

export interface DirLoad {
  readonly byType: Map<string, ServedResource[]>;
  /** Problems a client would report (served anyway), one line each. */
  readonly warnings: string[];
  /** Hash of every file's name and text: the directory's content version. */
  readonly contentHash: string;
}

export class DirLoadError extends Error {
  constructor(readonly lines: readonly string[]) {
    super(lines.join('\n'));
    this.name = 'DirLoadError';
  }
}

/** The files of `dir` that hold resources, sorted. */
export function resourceFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.(ya?ml|json)$/i.test(f) && !f.startsWith('.') && !f.endsWith('~'))
    .sort()
    .map((f) => path.join(dir, f))
    .filter((f) => {
      try {
        return statSync(f).isFile();
      } catch {
        return false;
      }
    });
}

/** Loads every resource file of `dir`. Throws DirLoadError. */
export function loadResourceDir(dir: string): DirLoad {
  const errors: string[] = [];
  const warnings: string[] = [];
  // typeUrl → list of [resource json, path, file, doc]
  const pending = new Map<string, Array<{ json: unknown; path: string; file: string; doc: ParsedDocument }>>();
  const texts: string[] = [];
  for (const file of resourceFiles(dir)) {
    let text: string;
    try {
      text = readConfigText(file);
    } catch (e) {
      errors.push(`${file}: cannot read: ${(e as Error).message}`);
      continue;
    }
    texts.push(`${path.basename(file)}\n${text}`);
    if (text.trim() === '') continue;
    let doc: ParsedDocument;
    try {
      doc = parseConfigText(text, file);
    } catch (e) {
      errors.push(e instanceof ConfigError ? e.message : `${file}: ${(e as Error).message}`);
      continue;
    }
    const items = itemsOf(doc.value, file, errors);
    for (const item of items) {
      const r = item.json as Record<string, unknown>;
      const typeUrl = typeof r['@type'] === 'string' ? r['@type'] : item.defaultType;
      if (!typeUrl) {
        errors.push(`${file}${lineText(doc, item.path)}: ${item.path}: a resource needs "@type"`);
        continue;
      }
      let list = pending.get(typeUrl);
      if (!list) pending.set(typeUrl, (list = []));
      list.push({ json: { ...r, '@type': typeUrl }, path: item.path, file, doc });
    }
  }
  const byType = new Map<string, ServedResource[]>();
  for (const [typeUrl, list] of pending) {
    const served: ServedResource[] = [];
    const firstSeen = new Map<string, string>();
    for (const item of list) {
      let r: ServedResource;
      try {
        r = encodeResources(typeUrl, [item.json], [item.path])[0]!;
      } catch (e) {
        if (!(e instanceof ResourceEncodeError)) throw e;
        for (const p of e.problems) errors.push(`${item.file}${lineText(item.doc, p.path)}: ${p.path}: ${p.message}`);
        continue;
      }
      const where = `${item.file}${lineText(item.doc, item.path)}`;
      const other = firstSeen.get(r.name);
      if (other !== undefined) {
        errors.push(`${where}: duplicate ${typeUrl} resource "${r.name}" (first in ${other})`);
        continue;
      }
      firstSeen.set(r.name, where);
      served.push(r);
      for (const p of checkResource(r)) {
        const full = p.path ? (item.path ? `${item.path}.${p.path}` : p.path) : item.path;
        warnings.push(`${item.file}${lineText(item.doc, full)}: ${full}: ${p.message} (served anyway; clients will refuse it)`);
      }
    }
    byType.set(typeUrl, served);
  }
  if (errors.length > 0) throw new DirLoadError(errors);
  return { byType, warnings, contentHash: canonicalJson(texts) };
}

function itemsOf(value: unknown, file: string, errors: string[]): Array<{ json: unknown; path: string; defaultType?: string | undefined }> {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.map((json, i) => ({ json: isObject(json) ? json : {}, path: `[${i}]` }));
  if (!isObject(value)) {
    errors.push(`${file}: expected a list of resources or {resources: [...]}`);
    return [];
  }
  if (Array.isArray(value['resources'])) {
    const t = value['type_url'] ?? value['typeUrl'];
    return (value['resources'] as unknown[]).map((json, i) => ({
      json: isObject(json) ? json : {},
      path: `resources[${i}]`,
      defaultType: typeof t === 'string' ? t : undefined,
    }));
  }
  if (typeof value['@type'] === 'string') return [{ json: value, path: '' }];
  errors.push(`${file}: expected a list of resources, {resources: [...]} or one resource with "@type"`);
  return [];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function lineText(doc: ParsedDocument, p: string): string {
  const line = doc.lineOf(p);
  return line ? ` (line ${line})` : '';
}
