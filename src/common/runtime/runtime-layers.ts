/**
 * Reading runtime layers into key → entry maps, as Envoy's ProtoLayer and DiskLayer do. MAIN.
 *
 * - A Struct (static_layer, an RTDS resource's `layer`): nested keys are joined with dots
 *   (`health_check: {min_interval: 5}` is `health_check.min_interval`); a struct that is empty
 *   or has a `numerator` or `denominator` field is one value (a FractionalPercent), not a
 *   directory; lists and nulls are refused ("Invalid runtime entry value for <key>").
 * - A directory (disk_layer): each '.' of a key is a directory level and the file holds the
 *   value; lines starting with '#' are comments; trailing whitespace of the last line is
 *   dropped. At most 16 levels deep, as Envoy.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { entryFromText, entryFromValue } from './runtime-entry.js';
import type { RuntimeEntry } from './runtime-snapshot.js';

/** One layer as loaded: what GET /runtime shows under its name. */
export interface LoadedRuntimeLayer {
  readonly name: string;
  readonly values: ReadonlyMap<string, RuntimeEntry>;
}

export class RuntimeLayerError extends Error {
  /** The key (dotted) whose value is wrong, when there is one. */
  constructor(
    message: string,
    readonly key: string,
  ) {
    super(message);
  }
}

/** Flattens a Struct (as JSON). Throws RuntimeLayerError for a list or null value. */
export function structLayerValues(struct: Readonly<Record<string, unknown>>): Map<string, RuntimeEntry> {
  const out = new Map<string, RuntimeEntry>();
  const walk = (value: unknown, key: string): void => {
    if (value === null || value === undefined || Array.isArray(value)) {
      throw new RuntimeLayerError(`Invalid runtime entry value for ${key}`, key);
    }
    if (typeof value === 'object') {
      const fields = value as Record<string, unknown>;
      const names = Object.keys(fields);
      if (names.length === 0 || 'numerator' in fields || 'denominator' in fields) {
        out.set(key, entryFromValue(value));
        return;
      }
      for (const name of names) walk(fields[name], `${key}.${name}`);
      return;
    }
    out.set(key, entryFromValue(value));
  };
  for (const [name, value] of Object.entries(struct)) walk(value, name);
  return out;
}

const MAX_WALK_DEPTH = 16;

/** Reads a runtime directory tree. Throws (with the reason) when it cannot be read whole. */
export function directoryLayerValues(root: string): Map<string, RuntimeEntry> {
  const out = new Map<string, RuntimeEntry>();
  const walk = (dir: string, prefix: string, depth: number): void => {
    if (depth > MAX_WALK_DEPTH) throw new Error(`Walk recursion depth exceeded ${MAX_WALK_DEPTH}`);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const key = prefix === '' ? entry.name : `${prefix}.${entry.name}`;
      // Symlinks are followed (a deployment may link files in), as stat() in Envoy's walk does.
      const kind = entry.isSymbolicLink() ? statSync(full) : entry;
      if (kind.isDirectory()) walk(full, key, depth + 1);
      else if (kind.isFile()) out.set(key, entryFromText(fileValue(readFileSync(full, 'utf8'))));
    }
  };
  walk(root, '', 1);
  return out;
}

/** A runtime file's value: comment lines dropped, the last line right-trimmed. */
function fileValue(text: string): string {
  const lines = text.split('\n').filter((l) => l !== '');
  let value = '';
  lines.forEach((line, i) => {
    if (line.startsWith('#')) return;
    value += i === lines.length - 1 ? line.trimEnd() : `${line}\n`;
  });
  return value;
}

/** The directory a disk layer reads: symlink_root/subdirectory[/service_cluster]. */
export function diskLayerPath(symlinkRoot: string, subdirectory: string, serviceCluster: string | undefined): string {
  const base = `${symlinkRoot}/${subdirectory}`;
  return serviceCluster === undefined ? base : `${base}/${serviceCluster}`;
}

export function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
