/**
 * The HttpConnectionManager fields that decide how a request is taken in before routing, parsed
 * into plain data (main → workers): who the client is (use_remote_address, xff_num_trusted_hops,
 * skip_xff_append, internal_address_config), x-request-id (generate_request_id,
 * preserve_external_request_id, always_set_request_id_in_response), the `server` header
 * (server_name, server_header_transformation), the path (normalize_path, merge_slashes,
 * path_with_escaped_slashes_action), request_timeout and max_request_headers_kb. Defaults are
 * Envoy's, except server_name (server-header.ts says why).
 */
import type { ProblemSink } from '../../../../api/network-filter.js';
import type { HcmRequestOptions } from '../../../../common/http/hcm-config.js';
import { cidrRangeProblem, type CidrRangeData } from '../../../../common/http/internal-address.js';
import { ESCAPED_SLASHES_ACTIONS, type EscapedSlashesAction } from '../../../../common/http/path-normalizer.js';
import { DEFAULT_SERVER_NAME, SERVER_HEADER_TRANSFORMATIONS, type ServerHeaderTransformation } from '../../../../common/http/server-header.js';
import { bool, durationMs, list, num, obj, rejectUnsupported, str, type Obj } from '../../../../config/plain-reader.js';

/** The HttpConnectionManager fields this file reads. */
export const REQUEST_OPTION_FIELDS = [
  'use_remote_address',
  'xff_num_trusted_hops',
  'skip_xff_append',
  'internal_address_config',
  'generate_request_id',
  'preserve_external_request_id',
  'always_set_request_id_in_response',
  'server_name',
  'server_header_transformation',
  'normalize_path',
  'merge_slashes',
  'path_with_escaped_slashes_action',
  'request_timeout',
  'max_request_headers_kb',
] as const;

/** Envoy's default and ceiling for max_request_headers_kb. */
const DEFAULT_MAX_REQUEST_HEADERS_KB = 60;
const MAX_REQUEST_HEADERS_KB = 8192;

export function parseRequestOptions(p: Obj, problems: ProblemSink): HcmRequestOptions {
  const internal = obj(p['internal_address_config']) ?? {};
  const ip = problems.at('internal_address_config');
  rejectUnsupported(internal, ['unix_sockets', 'cidr_ranges'], 'InternalAddressConfig', ip);
  const cidrRanges: CidrRangeData[] = [];
  list(internal['cidr_ranges']).forEach((raw, i) => {
    const r = obj(raw) ?? {};
    const rp = ip.at(`cidr_ranges[${i}]`);
    rejectUnsupported(r, ['address_prefix', 'prefix_len'], 'CidrRange', rp);
    const range = { addressPrefix: str(r, 'address_prefix'), prefixLen: num(r, 'prefix_len', 0) };
    const problem = cidrRangeProblem(range);
    if (problem) rp.add(problem.startsWith('address_prefix') ? 'address_prefix' : 'prefix_len', problem);
    else cidrRanges.push(range);
  });
  const transformation = str(p, 'server_header_transformation', 'OVERWRITE');
  if (!(SERVER_HEADER_TRANSFORMATIONS as readonly string[]).includes(transformation)) {
    problems.add('server_header_transformation', `unknown server_header_transformation ${transformation} (one of ${SERVER_HEADER_TRANSFORMATIONS.join(', ')})`);
  }
  const serverName = str(p, 'server_name', DEFAULT_SERVER_NAME);
  if (/[\0\r\n]/.test(serverName)) problems.add('server_name', 'must not contain NUL, CR or LF');
  const slashes = str(p, 'path_with_escaped_slashes_action', 'IMPLEMENTATION_SPECIFIC_DEFAULT');
  if (!ESCAPED_SLASHES_ACTIONS.includes(slashes)) {
    problems.add('path_with_escaped_slashes_action', `unknown path_with_escaped_slashes_action ${slashes} (one of ${ESCAPED_SLASHES_ACTIONS.join(', ')})`);
  }
  const kb = num(p, 'max_request_headers_kb', DEFAULT_MAX_REQUEST_HEADERS_KB);
  if (!Number.isInteger(kb) || kb < 1 || kb > MAX_REQUEST_HEADERS_KB) problems.add('max_request_headers_kb', `must be between 1 and ${MAX_REQUEST_HEADERS_KB}, got ${kb}`);
  return {
    forwarding: {
      useRemoteAddress: bool(p, 'use_remote_address', false),
      xffNumTrustedHops: num(p, 'xff_num_trusted_hops', 0),
      skipXffAppend: bool(p, 'skip_xff_append', false),
      internalAddress: { unixSockets: bool(internal, 'unix_sockets', false), cidrRanges },
    },
    requestId: {
      generate: bool(p, 'generate_request_id', true),
      preserveExternal: bool(p, 'preserve_external_request_id', false),
      alwaysSetInResponse: bool(p, 'always_set_request_id_in_response', false),
    },
    serverHeader: { serverName, transformation: transformation as ServerHeaderTransformation },
    pathNormalization: {
      normalizePath: bool(p, 'normalize_path', false),
      mergeSlashes: bool(p, 'merge_slashes', false),
      escapedSlashesAction: (slashes === 'IMPLEMENTATION_SPECIFIC_DEFAULT' ? 'KEEP_UNCHANGED' : slashes) as EscapedSlashesAction,
    },
    requestTimeoutMs: durationMs(p, 'request_timeout', 0),
    maxRequestHeaderBytes: kb * 1024,
  };
}
