/**
 * Limits on every config and xDS input, whatever its source (bootstrap file or
 * --config-yaml, watched xDS files, resources received over gRPC, `courier xds-server --dir`).
 * MAIN process (and the xds-server command).
 *
 * Config is decoded by recursive code (the YAML composer, protobufjs, the proto3 JSON checker,
 * hashing), so nesting is bounded before any of it runs, by checks that are iterative and so
 * cannot overflow the stack themselves. The limits are far above what real configs reach (a
 * bootstrap with an HTTP connection manager, its routes and header matchers is ~25 levels
 * deep), in the spirit of protobuf's default recursion limit of 100 that Envoy decodes with.
 *
 * - Nesting: at most MAX_CONFIG_DEPTH levels of objects and lists (JSON/YAML; for a resource
 *   received as protobuf, after conversion to proto3 JSON), and MAX_PROTO_MESSAGE_DEPTH levels
 *   of messages in protobuf bytes, counted through every Any (protobuf's default recursion
 *   limit, which protobufjs also applies to each decode on its own).
 * - Size: a config file or text at most MAX_CONFIG_BYTES; one xDS resource at most
 *   MAX_RESOURCE_BYTES of protobuf.
 * - YAML aliases: their expansion may add at most MAX_YAML_ALIAS_NODES nodes in total, which
 *   refuses a "billion laughs" document before it is expanded.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { fieldPath, indexPath } from './config-error.js';

export const MAX_CONFIG_DEPTH = 100;
export const MAX_PROTO_MESSAGE_DEPTH = 100;
export const MAX_CONFIG_BYTES = 64 * 1024 * 1024;
export const MAX_RESOURCE_BYTES = 32 * 1024 * 1024;
export const MAX_YAML_ALIAS_NODES = 100_000;

export const DEPTH_LIMIT_MESSAGE = `nested deeper than ${MAX_CONFIG_DEPTH} levels of objects and lists (the config nesting limit)`;

/** The error text for an input of `bytes` over `limit`. */
export function sizeLimitMessage(what: string, bytes: number, limit: number): string {
  return `${what} is ${bytes} bytes, over the ${formatBytes(limit)} limit`;
}

function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}

/**
 * Reads a config file as UTF-8, refusing one over MAX_CONFIG_BYTES before reading it. Throws
 * an Error whose message says why (the callers add the file's name).
 */
export function readConfigText(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_CONFIG_BYTES) throw new Error(sizeLimitMessage('the file', size, MAX_CONFIG_BYTES));
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * The path of the first value (in document order) that sits deeper than `limit` levels of
 * objects and lists in `value`, where `value` itself is at level `depth` (1 when it is the
 * root object); undefined when none does. Iterative: the depth of `value` costs no stack.
 */
export function findTooDeep(value: unknown, basePath: string, limit = MAX_CONFIG_DEPTH, depth = 1): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  // Each frame: a container, its path, its level, and the keys/indices still to visit.
  const stack: Array<{ node: object; path: string; level: number; keys: string[] | undefined; next: number }> = [];
  const push = (node: object, path: string, level: number): boolean => {
    if (level > limit) return false;
    stack.push({ node, path, level, keys: Array.isArray(node) ? undefined : Object.keys(node), next: 0 });
    return true;
  };
  if (!push(value, basePath, depth)) return basePath;
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const count = top.keys ? top.keys.length : (top.node as unknown[]).length;
    if (top.next >= count) {
      stack.pop();
      continue;
    }
    const i = top.next++;
    const child = top.keys ? (top.node as Record<string, unknown>)[top.keys[i]!] : (top.node as unknown[])[i];
    if (typeof child !== 'object' || child === null) continue;
    const childPath = top.keys ? fieldPath(top.path, top.keys[i]!) : indexPath(top.path, i);
    if (!push(child, childPath, top.level + 1)) return childPath;
  }
  return undefined;
}

/**
 * For JSON text: the path and offset of the first object or list that opens deeper than
 * `limit`, or undefined. A scan of the text (strings skipped), so it runs before JSON.parse
 * and can name the line.
 */
export function findTooDeepJson(text: string, limit = MAX_CONFIG_DEPTH): { path: string; offset: number } | undefined {
  // One frame per open container: its current key (object) or index (list).
  const frames: Array<{ list: boolean; key: string; index: number; expectKey: boolean }> = [];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) return undefined; // unterminated: JSON.parse reports it
        let backslashes = 0;
        for (let k = q - 1; k > i && text.charCodeAt(k) === 0x5c; k--) backslashes++;
        j = q + 1;
        if (backslashes % 2 === 0) break;
      }
      const top = frames[frames.length - 1];
      if (top && !top.list && top.expectKey) {
        top.key = jsonString(text.slice(i, j));
        top.expectKey = false;
      }
      i = j - 1;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (frames.length >= limit) return { path: framesPath(frames), offset: i };
      frames.push({ list: c === 0x5b, key: '', index: 0, expectKey: c === 0x7b });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      frames.pop();
    } else if (c === 0x2c /* , */) {
      const top = frames[frames.length - 1];
      if (top?.list) top.index++;
      else if (top) top.expectKey = true;
    }
  }
  return undefined;
}

function jsonString(quoted: string): string {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return quoted.slice(1, -1);
  }
}

function framesPath(frames: ReadonlyArray<{ list: boolean; key: string; index: number }>): string {
  let path = '';
  for (const f of frames) path = f.list ? indexPath(path, f.index) : fieldPath(path, f.key);
  return path;
}

/** 1-based line of `offset` in `text`. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}
