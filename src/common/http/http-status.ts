/**
 * HTTP status codes: reason phrases and the code classes that stats count by.
 *
 * The phrases are Envoy's (source/common/http/codes.cc, CodeUtility::toString), because Envoy
 * writes its own phrase on every response it encodes rather than the one upstream sent, and
 * Courier's output should read the same byte for byte. An unknown code gets "Unknown", as in
 * Envoy.
 *
 * Pure data and functions; used on workers (encoding, stats) and main (admin).
 */

const REASONS: ReadonlyMap<number, string> = new Map<number, string>([
  [100, 'Continue'],
  [101, 'Switching Protocols'],

  [200, 'OK'],
  [201, 'Created'],
  [202, 'Accepted'],
  [203, 'Non-Authoritative Information'],
  [204, 'No Content'],
  [205, 'Reset Content'],
  [206, 'Partial Content'],
  [207, 'Multi-Status'],
  [208, 'Already Reported'],
  [226, 'IM Used'],

  [300, 'Multiple Choices'],
  [301, 'Moved Permanently'],
  [302, 'Found'],
  [303, 'See Other'],
  [304, 'Not Modified'],
  [305, 'Use Proxy'],
  [307, 'Temporary Redirect'],
  [308, 'Permanent Redirect'],

  [400, 'Bad Request'],
  [401, 'Unauthorized'],
  [402, 'Payment Required'],
  [403, 'Forbidden'],
  [404, 'Not Found'],
  [405, 'Method Not Allowed'],
  [406, 'Not Acceptable'],
  [407, 'Proxy Authentication Required'],
  [408, 'Request Timeout'],
  [409, 'Conflict'],
  [410, 'Gone'],
  [411, 'Length Required'],
  [412, 'Precondition Failed'],
  [413, 'Payload Too Large'],
  [414, 'URI Too Long'],
  [415, 'Unsupported Media Type'],
  [416, 'Range Not Satisfiable'],
  [417, 'Expectation Failed'],
  [421, 'Misdirected Request'],
  [422, 'Unprocessable Entity'],
  [423, 'Locked'],
  [424, 'Failed Dependency'],
  [425, 'Too Early'],
  [426, 'Upgrade Required'],
  [428, 'Precondition Required'],
  [429, 'Too Many Requests'],
  [431, 'Request Header Fields Too Large'],

  [500, 'Internal Server Error'],
  [501, 'Not Implemented'],
  [502, 'Bad Gateway'],
  [503, 'Service Unavailable'],
  [504, 'Gateway Timeout'],
  [505, 'HTTP Version Not Supported'],
  [506, 'Variant Also Negotiates'],
  [507, 'Insufficient Storage'],
  [508, 'Loop Detected'],
  [510, 'Not Extended'],
  [511, 'Network Authentication Required'],
  // Envoy's enum ends with this placeholder and names it; kept so 599 reads as in Envoy.
  [599, 'Last Unassigned Server Error Code'],
]);

/** Envoy's reason phrase for a status code; "Unknown" when Envoy has none. */
export function reasonPhrase(statusCode: number): string {
  return REASONS.get(statusCode) ?? 'Unknown';
}

export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';

const CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx'];

/**
 * The class a code is counted in, or null outside 100..599: Envoy charges no class stat for
 * such codes (CodeUtility::groupStringForResponseCode returns "").
 */
export function statusClass(statusCode: number): StatusClass | null {
  if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) return null;
  return CLASSES[Math.floor(statusCode / 100) - 1];
}

export type DownstreamRqClassStat = `downstream_rq_${StatusClass}`;
export type UpstreamRqClassStat = `upstream_rq_${StatusClass}`;

const DOWNSTREAM_STATS: readonly DownstreamRqClassStat[] = CLASSES.map(
  (c) => `downstream_rq_${c}` as const,
);
const UPSTREAM_STATS: readonly UpstreamRqClassStat[] = CLASSES.map((c) => `upstream_rq_${c}` as const);

/**
 * The HCM counter a response code increments (http.<stat_prefix>.downstream_rq_2xx …), or null
 * for a code outside 100..599. The strings are constants, so counting allocates nothing.
 */
export function downstreamRqClassStat(statusCode: number): DownstreamRqClassStat | null {
  if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) return null;
  return DOWNSTREAM_STATS[Math.floor(statusCode / 100) - 1];
}

/** The cluster counter (cluster.<name>.upstream_rq_2xx …), or null outside 100..599. */
export function upstreamRqClassStat(statusCode: number): UpstreamRqClassStat | null {
  if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) return null;
  return UPSTREAM_STATS[Math.floor(statusCode / 100) - 1];
}

/** 1xx other than 101: an interim response, followed by the final one for the same request. */
export function isInterimStatus(statusCode: number): boolean {
  return statusCode >= 100 && statusCode < 200 && statusCode !== 101;
}

/**
 * Responses that never carry a body whatever their headers say (RFC 9112 §6.3 rule 1):
 * 1xx, 204 and 304. (A response to HEAD has none either; that depends on the request.)
 */
export function statusHasNoBody(statusCode: number): boolean {
  return (statusCode >= 100 && statusCode < 200) || statusCode === 204 || statusCode === 304;
}
