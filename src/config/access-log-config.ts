/**
 * envoy.config.accesslog.v3.AccessLog → AccessLogConfig, for the file and stdout/stderr
 * loggers. Formats are compiled here once so a bad operator fails at start with its path.
 */
import type { ProblemSink } from '../api/network-filter.js';
import {
  DEFAULT_ACCESS_LOG_FORMAT,
  accessLogFormatProblem,
  type AccessLogConfig,
  type AccessLogFormat,
} from '../common/access-log/access-log-config.js';
import { bool, obj, rejectUnsupported, str, type Obj } from './plain-reader.js';
import { parseAccessLogFilter } from './access-log-filter-config.js';

const FILE = 'envoy.extensions.access_loggers.file.v3.FileAccessLog';
const STDOUT = 'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';
const STDERR = 'envoy.extensions.access_loggers.stream.v3.StderrAccessLog';

export function parseAccessLog(proto: Record<string, unknown>, problems: ProblemSink): AccessLogConfig | undefined {
  rejectUnsupported(proto, ['name', 'typed_config', 'filter'], 'AccessLog', problems);
  const filterProto = obj(proto['filter']);
  const filter = filterProto && parseAccessLogFilter(filterProto, problems.at('filter'));
  const typed = obj(proto['typed_config']);
  if (!typed) {
    problems.add('typed_config', 'typed_config is required');
    return undefined;
  }
  const typeUrl = str(typed, '@type');
  const typeName = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  const tp = problems.at('typed_config');
  let format: AccessLogFormat | undefined = DEFAULT_ACCESS_LOG_FORMAT;
  /** Where the format was written, relative to typed_config, so a bad operator is named there. */
  let formatPath = 'format';
  let config: AccessLogConfig | undefined;
  switch (typeName) {
    case FILE: {
      rejectUnsupported(typed, ['path', 'format', 'json_format', 'log_format'], 'FileAccessLog', tp);
      const path = str(typed, 'path');
      if (path === '') tp.add('path', 'path is required');
      if (typeof typed['format'] === 'string') format = { text: typed['format'] as string };
      else if (obj(typed['json_format'])) [format, formatPath] = [{ json: obj(typed['json_format'])! }, 'json_format'];
      else if (obj(typed['log_format'])) [format, formatPath] = parseSubstitutionFormat(obj(typed['log_format'])!, tp.at('log_format'));
      config = format && { kind: 'file', path, format };
      break;
    }
    case STDOUT:
    case STDERR: {
      rejectUnsupported(typed, ['log_format'], typeName.endsWith('StdoutAccessLog') ? 'StdoutAccessLog' : 'StderrAccessLog', tp);
      if (obj(typed['log_format'])) [format, formatPath] = parseSubstitutionFormat(obj(typed['log_format'])!, tp.at('log_format'));
      config = format && { kind: typeName === STDOUT ? 'stdout' : 'stderr', format };
      break;
    }
    default:
      tp.add('@type', `access logger ${typeName} is not supported by Courier (file, stdout, stderr)`);
      return undefined;
  }
  if (config) {
    const problem = accessLogFormatProblem(config.format);
    if (problem) {
      tp.add(`${formatPath}${problem.path ? `.${problem.path}` : ''}`, problem.message);
      return undefined;
    }
  }
  if (filterProto && !filter) return undefined;
  return config && filter ? { ...config, filter } : config;
}

/** envoy.config.core.v3.SubstitutionFormatString, and the path (under log_format) of its format. */
function parseSubstitutionFormat(f: Obj, problems: ProblemSink): [AccessLogFormat | undefined, string] {
  rejectUnsupported(f, ['text_format', 'json_format', 'text_format_source', 'omit_empty_values', 'content_type'], 'SubstitutionFormatString', problems);
  const omitEmptyValues = bool(f, 'omit_empty_values', false);
  if (typeof f['text_format'] === 'string') return [{ text: f['text_format'] as string, omitEmptyValues }, 'log_format.text_format'];
  const json = obj(f['json_format']);
  if (json) return [{ json, omitEmptyValues }, 'log_format.json_format'];
  const source = obj(f['text_format_source']);
  if (source) {
    rejectUnsupported(source, ['inline_string'], 'DataSource', problems.at('text_format_source'));
    return [{ text: str(source, 'inline_string'), omitEmptyValues }, 'log_format.text_format_source.inline_string'];
  }
  problems.add('', 'one of text_format, json_format or text_format_source is required');
  return [undefined, 'log_format'];
}
