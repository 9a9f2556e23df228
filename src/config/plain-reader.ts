/**
 * Reading checked proto values (see proto-json.ts) in translators, and refusing fields
 * Courier does not implement: a set field that a translator did not declare is an error
 * naming the field, never silently ignored.
 */
import type { ProblemSink } from '../api/network-filter.js';

export type Obj = Record<string, unknown>;

export function obj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/**
 * Reports every field set in `o` that is not in `supported`. `what` names the message for
 * the error text.
 */
export function rejectUnsupported(o: Obj, supported: readonly string[], what: string, problems: ProblemSink): void {
  for (const key of Object.keys(o)) {
    if (key === '@type') continue;
    if (!supported.includes(key)) problems.add(key, `${what}.${key} is not supported by Courier yet`);
  }
}

export function str(o: Obj, key: string, dflt = ''): string {
  const v = o[key];
  return typeof v === 'string' ? v : dflt;
}

export function num(o: Obj, key: string, dflt: number): number {
  const v = o[key];
  return typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : dflt;
}

/** A Duration field in milliseconds, or `dflt` when unset. */
export function durationMs(o: Obj, key: string, dflt: number): number;
export function durationMs(o: Obj, key: string, dflt: undefined): number | undefined;
export function durationMs(o: Obj, key: string, dflt: number | undefined): number | undefined {
  const v = o[key];
  return typeof v === 'number' ? v : dflt;
}

export function bool(o: Obj, key: string, dflt: boolean): boolean {
  const v = o[key];
  return typeof v === 'boolean' ? v : dflt;
}
