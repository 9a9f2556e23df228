/**
 * Config errors name the field path (proto field names, `a.b[2].c`) and, when the input
 * was YAML, the line. Validation gathers every problem it finds before failing, so a user
 * fixes a file in one pass.
 */

export interface ConfigProblem {
  /** Field path from the root of the document, e.g. `static_resources.clusters[0].connect_timeout`. */
  path: string;
  message: string;
  /** 1-based line in the source file, when known. */
  line?: number | undefined;
  /** The source it is in, when not the one the error names (`--config-yaml` over `-c`). */
  source?: string | undefined;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[], source?: string) {
    super(formatProblems(problems, source));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatProblems(problems: readonly ConfigProblem[], source?: string): string {
  return problems.map((p) => formatProblem(p, source)).join('\n');
}

/** `source: path (line N): message`. */
export function formatProblem(p: ConfigProblem, source?: string): string {
  const where = p.source ?? source;
  return `${where ? `${where}: ` : ''}${p.path || '<root>'}${p.line ? ` (line ${p.line})` : ''}: ${p.message}`;
}

/** Joins a path and a field name. */
export function fieldPath(base: string, field: string): string {
  return base ? `${base}.${field}` : field;
}

/** Joins a path and a list index. */
export function indexPath(base: string, index: number | string): string {
  return typeof index === 'number' ? `${base}[${index}]` : `${base}["${index}"]`;
}

/**
 * Collects problems during one validation pass. `at` gives a child collector whose paths
 * are relative, so translators need not carry strings around by hand.
 */
export class ProblemCollector {
  readonly problems: ConfigProblem[];
  /** What loads but the user should hear about (shared with every child collector). */
  readonly warnings: ConfigProblem[];
  readonly base: string;
  constructor(base = '', sink: ConfigProblem[] = [], warnings: ConfigProblem[] = []) {
    this.base = base;
    this.problems = sink;
    this.warnings = warnings;
  }
  add(relPath: string, message: string): void {
    this.problems.push({ path: this.#path(relPath), message });
  }
  warn(relPath: string, message: string): void {
    this.warnings.push({ path: this.#path(relPath), message });
  }
  at(relPath: string): ProblemCollector {
    const path = relPath.startsWith('[') ? `${this.base}${relPath}` : fieldPath(this.base, relPath);
    return new ProblemCollector(path, this.problems, this.warnings);
  }
  #path(relPath: string): string {
    return relPath === '' ? this.base : relPath.startsWith('[') ? `${this.base}${relPath}` : fieldPath(this.base, relPath);
  }
  get ok(): boolean {
    return this.problems.length === 0;
  }
}
