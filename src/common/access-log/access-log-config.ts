/**
 * The internal config of one access log, as the config layer produces it on the main
 * process (plain, JSON-serialisable, sent to workers), and the factory workers use.
 *
 * Formats are validated on the main process with validateAccessLogFormat; workers compile
 * them again in createAccessLogger (compiling is cheap and closures cannot be sent).
 */

import type { AccessLogger } from '../../api/access-logger.js';
import type { AccessLogFilterConfig } from './access-log-filter.js';
import { FileAccessLogger, type BufferedLogOptions } from './file-access-logger.js';
import { StderrAccessLogger, StdoutAccessLogger } from './stdout-access-logger.js';
import {
  AccessLogFormatError,
  DEFAULT_TCP_ACCESS_LOG_FORMAT,
  JsonFormatter,
  TextFormatter,
  type Formatter,
} from './substitution-format.js';

/** A format: Envoy's text format string, or its json_format struct. */
export type AccessLogFormat =
  | { text: string; omitEmptyValues?: boolean }
  | { json: Record<string, unknown>; omitEmptyValues?: boolean };

export type AccessLogConfig = (
  | { kind: 'file'; path: string; format: AccessLogFormat }
  | { kind: 'stdout' | 'stderr'; format: AccessLogFormat }
) & {
  /** AccessLog.filter: which streams are logged (src/common/access-log/access-log-filter.ts); absent = all. */
  filter?: AccessLogFilterConfig;
};

/** The format Envoy uses when an access log names none. */
export const DEFAULT_ACCESS_LOG_FORMAT: AccessLogFormat = { text: DEFAULT_TCP_ACCESS_LOG_FORMAT };

/** Compiles a format. Throws AccessLogFormatError for a bad one. */
export function createFormatter(fmt: AccessLogFormat): Formatter {
  const options = { omitEmptyValues: fmt.omitEmptyValues === true };
  if ('json' in fmt) return new JsonFormatter(fmt.json, options);
  return new TextFormatter(fmt.text, options);
}

/** Builds the sink for one access log on a worker. The format must have been validated. */
export function createAccessLogger(cfg: AccessLogConfig, options: BufferedLogOptions = {}): AccessLogger {
  const formatter = createFormatter(cfg.format);
  switch (cfg.kind) {
    case 'file':
      return new FileAccessLogger(cfg.path, formatter, options);
    case 'stdout':
      return new StdoutAccessLogger(formatter, options);
    case 'stderr':
      return new StderrAccessLogger(formatter, options);
  }
}

/**
 * Where a format is wrong, for the config layer: `path` is relative to the json_format
 * struct (`a.b[2]`), '' for a text format; `message` is the bare reason.
 */
export function accessLogFormatProblem(fmt: AccessLogFormat): { path: string; message: string } | undefined {
  try {
    createFormatter(fmt);
    return undefined;
  } catch (e) {
    if (e instanceof AccessLogFormatError) return { path: e.path, message: e.detail };
    return { path: '', message: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * Checks a format on the main process. Returns an error message (e.g. `unknown access log
 * operator %FOO%`, prefixed by the key path inside a JSON format), or undefined when valid.
 */
export function validateAccessLogFormat(fmt: AccessLogFormat): string | undefined {
  const p = accessLogFormatProblem(fmt);
  if (p === undefined) return undefined;
  return p.path ? `${p.path}: ${p.message}` : p.message;
}
