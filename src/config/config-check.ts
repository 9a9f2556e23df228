/**
 * One document, every problem in one run: decode problems (unknown fields, wrong types) and
 * the translators' (unsupported features, missing addresses) together, as a user fixing a
 * file wants them. MAIN process.
 *
 * Translators run on the partial value (decodeMessagePartial): what did not decode is absent.
 * A translator's problem near a decode problem may only be its echo ("at least one filter
 * chain is required" when the chain did not decode), so it is dropped when it is at, inside or
 * above the smallest list item (a listener, a filter, a route...) holding a decode problem.
 */
import type protobuf from 'protobufjs';
import { ProblemCollector, type ConfigProblem } from './config-error.js';
import { decodeMessagePartial, type PlainObject } from './proto-json.js';

/** The path up to and including its last list index (`a.b[2].c` → `a.b[2]`), else its first field. */
function enclosingItem(path: string): string {
  const close = path.lastIndexOf(']');
  if (close >= 0) return path.slice(0, close + 1);
  const dot = path.indexOf('.');
  return dot < 0 ? path : path.slice(0, dot);
}

function within(path: string, root: string): boolean {
  return root === '' || path === root || path.startsWith(`${root}.`) || path.startsWith(`${root}[`);
}

/** Decode problems first, then the translation problems that are not echoes of them. */
export function combineProblems(decode: readonly ConfigProblem[], translation: readonly ConfigProblem[]): ConfigProblem[] {
  if (decode.length === 0) return [...translation];
  const items = [...new Set(decode.map((p) => enclosingItem(p.path)))];
  const echo = (p: ConfigProblem): boolean => items.some((item) => within(p.path, item) || within(item, p.path));
  return [...decode, ...translation.filter((p) => !echo(p))];
}

export interface DocumentCheck<T> {
  /** The translation, when there is no problem. */
  readonly value: T | undefined;
  /** Every problem, with lines. */
  readonly problems: ConfigProblem[];
  readonly warnings: ConfigProblem[];
}

/**
 * Decodes `json` as `type` and translates what decoded, gathering both kinds of problems;
 * `lineOf` names lines. `basePath` roots the paths (`resources[2]`).
 */
export function checkDocument<T>(
  type: protobuf.Type,
  json: unknown,
  lineOf: (path: string) => number | undefined,
  translate: (value: PlainObject, problems: ProblemCollector) => T | undefined,
  basePath = '',
): DocumentCheck<T> {
  const decoded = decodeMessagePartial(type, json, basePath);
  const collector = new ProblemCollector(basePath);
  const value = decoded.value ? translate(decoded.value, collector) : undefined;
  const withLine = (p: ConfigProblem): ConfigProblem => ({ ...p, line: p.line ?? lineOf(p.path) });
  const problems = combineProblems(decoded.problems, collector.problems).map(withLine);
  return {
    value: problems.length === 0 ? value : undefined,
    problems,
    warnings: collector.warnings.map(withLine),
  };
}
