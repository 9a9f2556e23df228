/**
 * Courier's named loggers: Envoy's logger registry, the names GET /logging lists and
 * POST /logging sets. One registry per process. Main forwards every change to its workers
 * (and gives a restarted worker the current levels at init), so a level set through /logging
 * holds in every process.
 *
 *   admin   admin requests that change the server (/logging, /drain_listeners, /reopen_logs)
 *   config  xDS streams and updates, listeners and clusters added, changed or removed
 *   main    start-up, signals, workers, drain
 *   connection  connections closed by the server (drain deadline)
 */
import { Logger, type LogLevel } from './logger.js';

export const LOGGER_NAMES = ['admin', 'config', 'connection', 'main'] as const;
export type LoggerName = (typeof LOGGER_NAMES)[number];

/** The level names /logging accepts: spdlog's, as Envoy's (no `warn` alias there). */
export const ADMIN_LOG_LEVELS = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'] as const;

const loggers = new Map<LoggerName, Logger>(LOGGER_NAMES.map((name) => [name, new Logger('info', 'main')]));

export function logger(name: LoggerName): Logger {
  return loggers.get(name)!;
}

export function isLoggerName(name: string): name is LoggerName {
  return (LOGGER_NAMES as readonly string[]).includes(name);
}

/** This process's role in every line (`main`, `worker 1`). */
export function setProcessRole(role: string): void {
  for (const l of loggers.values()) l.role = role;
}

export function setAllLogLevels(level: LogLevel): void {
  for (const l of loggers.values()) l.setLevel(level);
}

/** Applies levels by logger name (names not in the registry are ignored: main checked them). */
export function setLogLevels(levels: Readonly<Record<string, LogLevel>>): void {
  for (const [name, level] of Object.entries(levels)) if (isLoggerName(name)) logger(name).setLevel(level);
}

/** Every logger's level, by name (what workers are sent). */
export function logLevels(): Record<LoggerName, LogLevel> {
  return Object.fromEntries(LOGGER_NAMES.map((n) => [n, logger(n).level])) as Record<LoggerName, LogLevel>;
}
