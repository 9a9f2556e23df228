/**
 * YAML config text → plain value and the line of every key, within the limits of
 * input-limits.ts. MAIN process.
 *
 * The `yaml` package composes documents recursively, and an input nested a few thousand
 * levels deep overflows the stack (or worse, V8 aborts), so the text is lexed and parsed to
 * its concrete syntax tree here, lexeme by lexeme, watching the parser's stack: past
 * MAX_CONFIG_DEPTH the parse stops with the path and line of the node that went too deep.
 * Only then is the tree composed. Aliases are checked before they are expanded: an alias to
 * no anchor, an alias inside its own anchor, an expansion that would nest too deep or add more
 * than MAX_YAML_ALIAS_NODES nodes (a "billion laughs" document) are errors with a path and line.
 *
 * As Envoy's YAML loader: a key given twice in one map keeps its last value (with a warning
 * naming both lines), and a key tagged `!ignore` is dropped with its value (its anchors still
 * serve aliases elsewhere). A syntax error quotes the line it is on.
 */
import { Composer, Lexer, LineCounter, Parser, isAlias, isMap, isPair, isScalar, isSeq, type CST, type Document, type Node } from 'yaml';
import { ConfigError, fieldPath, indexPath, type ConfigProblem } from './config-error.js';
import { DEPTH_LIMIT_MESSAGE, MAX_CONFIG_DEPTH, MAX_YAML_ALIAS_NODES } from './input-limits.js';

export interface YamlValue {
  value: unknown;
  /** Line of each path that has a key or node of its own (paths as written in the file). */
  lines: Map<string, number>;
  /** What loads but deserves a word (a duplicate key), with path and line. */
  warnings: ConfigProblem[];
}

/** The tag Envoy's loader drops a key for (a place to define anchors). */
const IGNORE_TAG = '!ignore';
/** What an ignored key becomes until the composed value is cleaned (no YAML key can be it). */
const IGNORED_KEY = '\u0000courier:ignored';

/** Parses `text` (one YAML document); throws ConfigError naming every problem with its line. */
export function parseYaml(text: string, source: string): YamlValue {
  const lineCounter = new LineCounter();
  const line = (offset: number): number => lineCounter.linePos(offset).line;
  const tokens = parseTokensBounded(text, lineCounter, source);
  const composer = new Composer({ uniqueKeys: false, merge: true });
  let doc: Document.Parsed | undefined;
  const extra: ConfigProblem[] = [];
  for (const d of composer.compose(tokens, true, text.length)) {
    if (!doc) doc = d;
    else {
      extra.push({ path: '', message: 'invalid YAML: the text holds more than one document', line: line(d.range[0]) });
      break;
    }
  }
  const errors = [...(doc?.errors ?? [])];
  if (errors.length > 0 || extra.length > 0 || !doc) {
    throw new ConfigError([...errors.map((e) => syntaxProblem(text, e.message, lineCounter.linePos(e.pos[0]))), ...extra], source);
  }
  const warnings: ConfigProblem[] = [];
  const walk = walkDocument(doc, line, source, warnings);
  try {
    // Aliases were counted above; the package's own count is a second guard.
    const value: unknown = doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_NODES });
    if (walk.ignoredKeys) dropIgnoredKeys(value);
    return { value, lines: walk.lines, warnings };
  } catch (e) {
    throw new ConfigError([{ path: '', message: `invalid YAML: ${(e as Error).message}` }], source);
  }
}

/** A syntax error with the text of its line, so the user sees what the parser saw. */
function syntaxProblem(text: string, message: string, at: { line: number; col: number }): ConfigProblem {
  const lineNumber = at.line;
  const what = `${message.split('\n')[0]!} (column ${at.col})`;
  const lineText = text.split('\n', lineNumber)[lineNumber - 1]?.replace(/\r$/, '') ?? '';
  const quoted = lineText.length > 120 ? `${lineText.slice(0, 120)}…` : lineText;
  return { path: '', message: `invalid YAML: ${what}: ${JSON.stringify(quoted)}`, line: lineNumber };
}

/** Removes the keys `!ignore` marked, everywhere in the composed value (aliases may have copied them). */
function dropIgnoredKeys(root: unknown): void {
  const pending: unknown[] = [root];
  const seen = new Set<object>();
  while (pending.length > 0) {
    const v = pending.pop();
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (Array.isArray(v)) {
      for (const item of v) pending.push(item);
      continue;
    }
    const o = v as Record<string, unknown>;
    delete o[IGNORED_KEY];
    for (const k of Object.keys(o)) pending.push(o[k]);
  }
}

/** Lexes and parses to CST tokens, stopping as soon as a node opens deeper than the limit. */
function parseTokensBounded(text: string, lineCounter: LineCounter, source: string): CST.Token[] {
  const parser = new Parser(lineCounter.addNewLine);
  const tokens: CST.Token[] = [];
  // The parser's stack holds the document and every open node (collections and a transient
  // scalar or two): only a stack longer than the limit can hold too many collections, and only
  // then are they counted.
  lineCounter.addNewLine(0); // as Parser.parse() does: line 1 starts at 0
  for (const lexeme of new Lexer().lex(text)) {
    for (const t of parser.next(lexeme)) tokens.push(t);
    if (parser.stack.length > MAX_CONFIG_DEPTH + 1 && collectionDepth(parser.stack) > MAX_CONFIG_DEPTH) {
      const path = stackPath(parser.stack);
      throw new ConfigError([{ path, message: DEPTH_LIMIT_MESSAGE, line: lineCounter.linePos(parser.offset).line }], source);
    }
  }
  for (const t of parser.end()) tokens.push(t);
  return tokens;
}

function isCollectionToken(t: CST.Token): t is CST.BlockMap | CST.BlockSequence | CST.FlowCollection {
  return t.type === 'block-map' || t.type === 'block-seq' || t.type === 'flow-collection';
}

function collectionDepth(stack: readonly CST.Token[]): number {
  let n = 0;
  for (const t of stack) if (isCollectionToken(t)) n++;
  return n;
}

/** The path of the innermost open collection: the last item of each collection around it. */
function stackPath(stack: readonly CST.Token[]): string {
  let path = '';
  const open = stack.filter(isCollectionToken);
  for (const t of open.slice(0, -1)) {
    const last = t.items.length - 1;
    const isSeq = t.type === 'block-seq' || (t.type === 'flow-collection' && t.start.source === '[');
    if (isSeq) path = indexPath(path, Math.max(last, 0));
    else {
      const key = t.items[last]?.key;
      path = fieldPath(path, key && 'source' in key ? unquote(key.source) : '?');
    }
  }
  return path;
}

function unquote(s: string): string {
  return /^(['"]).*\1$/s.test(s) ? s.slice(1, -1) : s;
}

interface Measure {
  /** Levels of collections, the node's own included (0 for a scalar). */
  height: number;
  /** Nodes once aliases are expanded. */
  size: number;
}

interface Frame {
  node: Node;
  path: string;
  /** Levels of collections above and including this one. */
  depth: number;
  children: Array<{ node: Node; path: string; keyLine?: number | undefined }>;
  next: number;
  height: number;
  size: number;
}

/**
 * One iterative pass over the composed document: records the line of every key, and checks
 * aliases before anything expands them. An alias's expansion is measured by its anchor's
 * subtree (anchors come before their aliases, so that subtree is already measured).
 */
function walkDocument(
  doc: Document.Parsed,
  line: (offset: number) => number,
  source: string,
  warnings: ConfigProblem[],
): { lines: Map<string, number>; ignoredKeys: boolean } {
  const lines = new Map<string, number>();
  let ignoredKeys = false;
  const anchors = new Map<string, Node>();
  const measured = new WeakMap<Node, Measure>();
  let aliasNodes = 0;
  const fail = (path: string, offset: number | undefined, message: string): never => {
    throw new ConfigError([{ path, message, line: offset === undefined ? undefined : line(offset) }], source);
  };
  const root = doc.contents as Node | null;
  if (!root) return { lines, ignoredKeys };
  const frames: Frame[] = [];
  /** Visits a node: scalars and aliases at once, collections by pushing a frame. Returns its measure when done. */
  const enter = (node: Node, path: string, depth: number): Measure | undefined => {
    if (node.range && !lines.has(path)) lines.set(path, line(node.range[0]));
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      const at = node.range?.[0];
      if (!target) return fail(path, at, `alias *${node.source} refers to no anchor defined before it`);
      const m = measured.get(target);
      if (!m) return fail(path, at, `alias *${node.source} is inside its own anchor &${node.source}`);
      if (depth - 1 + m.height > MAX_CONFIG_DEPTH) fail(path, at, `alias *${node.source} expands to a value ${DEPTH_LIMIT_MESSAGE}`);
      aliasNodes += m.size;
      if (aliasNodes > MAX_YAML_ALIAS_NODES) {
        fail(path, at, `YAML aliases expand to more than ${MAX_YAML_ALIAS_NODES} nodes here (a "billion laughs" document?); write the values out or use fewer aliases`);
      }
      return m;
    }
    const anchor = (node as { anchor?: string }).anchor;
    if (!isMap(node) && !isSeq(node)) {
      const m = { height: 0, size: 1 };
      if (anchor) {
        anchors.set(anchor, node);
        measured.set(node, m);
      }
      return m;
    }
    if (anchor) anchors.set(anchor, node);
    // The parse above stopped anything deeper; this keeps the walk's own promise.
    if (depth > MAX_CONFIG_DEPTH) return fail(path, node.range?.[0], DEPTH_LIMIT_MESSAGE);
    const children: Frame['children'] = [];
    if (isMap(node)) {
      const keyLines = new Map<string, number | undefined>();
      for (const item of node.items) {
        if (!isPair(item)) continue;
        const keyNode = item.key as Node | null;
        const keyLine = keyNode?.range ? line(keyNode.range[0]) : undefined;
        if (isScalar(keyNode) && keyNode.tag === IGNORE_TAG) {
          // Dropped from the value, but walked: anchors inside it serve aliases elsewhere.
          keyNode.value = IGNORED_KEY;
          ignoredKeys = true;
        }
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        const childPath = fieldPath(path, key);
        if (key !== IGNORED_KEY) {
          if (keyLines.has(key)) {
            const first = keyLines.get(key);
            warnings.push({
              path: childPath,
              message: `key "${key}" appears more than once in this map${first ? ` (also on line ${first})` : ''}; the last one is used`,
              line: keyLine,
            });
          }
          keyLines.set(key, keyLine);
        }
        // The key's line is the one to name: a block value starts on the next line.
        if (item.value) children.push({ node: item.value as Node, path: childPath, keyLine });
        else if (keyLine !== undefined) lines.set(childPath, keyLine);
      }
    } else {
      (node.items as Node[]).forEach((item, i) => children.push({ node: item, path: indexPath(path, i) }));
    }
    frames.push({ node, path, depth, children, next: 0, height: 1, size: 1 });
    return undefined;
  };
  const finish = (frame: Frame, m: Measure): void => {
    frame.height = Math.max(frame.height, m.height + 1);
    frame.size += m.size;
  };
  const rootMeasure = enter(root, '', 1);
  if (rootMeasure) return { lines, ignoredKeys };
  while (frames.length > 0) {
    const top = frames[frames.length - 1]!;
    if (top.next >= top.children.length) {
      frames.pop();
      const m = { height: top.height, size: top.size };
      if ((top.node as { anchor?: string }).anchor) measured.set(top.node, m);
      const parent = frames[frames.length - 1];
      if (parent) finish(parent, m);
      continue;
    }
    const child = top.children[top.next++]!;
    if (child.keyLine !== undefined) lines.set(child.path, child.keyLine);
    const m = enter(child.node, child.path, top.depth + 1);
    if (m) finish(top, m);
  }
  return { lines, ignoredKeys };
}
