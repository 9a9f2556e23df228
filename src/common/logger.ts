/**
 * Process logging with Envoy's levels (--log-level). Lines go to stderr, prefixed with the
 * time, level and process role, so main's and workers' lines can be told apart. Named
 * loggers (Envoy's logger registry, changed at run time through /logging) are in
 * log-registry.ts.
 */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warning', 'warn', 'error', 'critical', 'off'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warning: 3, warn: 3, error: 4, critical: 5, off: 6 };

export class Logger {
  #min: number;
  #level: LogLevel;
  /** The process role in each line: `main`, or `worker N` (set once the worker knows N). */
  role: string;
  constructor(level: LogLevel, role: string) {
    this.#level = level;
    this.#min = RANK[level];
    this.role = role;
  }
  get level(): LogLevel {
    return this.#level;
  }
  setLevel(level: LogLevel): void {
    this.#level = level;
    this.#min = RANK[level];
  }
  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#min;
  }
  log(level: LogLevel, message: string): void {
    if (RANK[level] < this.#min) return;
    process.stderr.write(`[${new Date().toISOString()}][${this.role}][${level}] ${message}\n`);
  }
  debug(message: string): void {
    this.log('debug', message);
  }
  info(message: string): void {
    this.log('info', message);
  }
  warn(message: string): void {
    this.log('warning', message);
  }
  error(message: string): void {
    this.log('error', message);
  }
}
