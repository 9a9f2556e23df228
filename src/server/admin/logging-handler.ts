/**
 * POST /logging, as Envoy's LogsHandler: with no parameter it lists the loggers and their
 * levels; `?level=L` sets every logger, `?<logger>=L` one, `?paths=a:L1,b:L2` several. One
 * parameter per request. A bad request is 400 with the reason and the usage, and changes
 * nothing (every name and level is checked before any is applied). Each change is logged at
 * info (logger `admin`) and reaches the workers (AdminContext.logLevelsChanged).
 */
import type { LogLevel } from '../../common/logger.js';
import { ADMIN_LOG_LEVELS, LOGGER_NAMES, isLoggerName, logger, logLevels, setAllLogLevels, setLogLevels } from '../../common/log-registry.js';
import type { AdminContext } from './admin-context.js';
import type { AdminResponse } from './admin-handlers.js';

function parseLevel(value: string): LogLevel | string {
  return (ADMIN_LOG_LEVELS as readonly string[]).includes(value) ? (value as LogLevel) : 'unknown logger level';
}

/** The change a query asks for, or the reason it cannot be made. */
function requestedChange(query: URLSearchParams): { all: LogLevel } | { levels: Record<string, LogLevel> } | string {
  const params = [...query.entries()];
  if (params.length !== 1) return 'invalid number of parameters';
  const [key, value] = params[0]!;
  if (key === 'level') {
    const level = parseLevel(value);
    return level === 'unknown logger level' ? level : { all: level as LogLevel };
  }
  const levels: Record<string, LogLevel> = {};
  const pairs =
    key === 'paths'
      ? value
          .split(',')
          .map((p) => p.trim())
          .filter((p) => p !== '')
      : [`${key}:${value}`];
  for (const pair of pairs) {
    const colon = pair.indexOf(':');
    const name = colon < 0 ? pair : pair.slice(0, colon).trim();
    const levelText = colon < 0 ? '' : pair.slice(colon + 1).trim();
    if (name === '' || levelText === '') return 'empty logger name or empty logger level';
    const level = parseLevel(levelText);
    if (level === 'unknown logger level') return level;
    if (!isLoggerName(name)) return 'unknown logger name';
    levels[name] = level as LogLevel;
  }
  return { levels };
}

function activeLoggers(): string {
  const levels = logLevels();
  return `active loggers:\n${LOGGER_NAMES.map((n) => `  ${n}: ${levels[n]}\n`).join('')}\n`;
}

const USAGE =
  'usage: /logging?<name>=<level> (change single level)\n' +
  'usage: /logging?paths=name1:level1,name2:level2,... (change multiple levels)\n' +
  'usage: /logging?level=<level> (change all levels)\n' +
  `levels: ${ADMIN_LOG_LEVELS.join(' ')} \n`;

export function handleLogging(query: URLSearchParams, ctx: AdminContext): AdminResponse {
  const text = (body: string, status: number): AdminResponse => ({ status, contentType: 'text/plain; charset=UTF-8', body });
  if ([...query.keys()].length === 0) return text(activeLoggers(), 200);
  const change = requestedChange(query);
  if (typeof change === 'string') return text(`error: ${change}\n\n${USAGE}${activeLoggers()}`, 400);
  const log = logger('admin');
  if ('all' in change) {
    // Logged before the change, so that lowering the level still leaves a trace of it.
    log.info(`change all log levels: level='${change.all}'`);
    setAllLogLevels(change.all);
  } else {
    for (const [name, level] of Object.entries(change.levels)) log.info(`change log level: name='${name}' level='${level}'`);
    setLogLevels(change.levels);
  }
  ctx.logLevelsChanged();
  return text(activeLoggers(), 200);
}
