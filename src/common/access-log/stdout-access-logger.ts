/**
 * envoy.access_loggers.stdout / envoy.access_loggers.stderr (StdoutAccessLog /
 * StderrAccessLog): formatted lines to the process's stdout or stderr, buffered and flushed
 * like the file logger (Envoy routes these through the same flushing file sink).
 */

import { FileAccessLogger, type BufferedLogOptions } from './file-access-logger.js';
import type { Formatter } from './substitution-format.js';

export class StdoutAccessLogger extends FileAccessLogger {
  constructor(formatter: Formatter, options: BufferedLogOptions = {}) {
    super('/dev/stdout', formatter, options);
  }
}

export class StderrAccessLogger extends FileAccessLogger {
  constructor(formatter: Formatter, options: BufferedLogOptions = {}) {
    super('/dev/stderr', formatter, options);
  }
}
