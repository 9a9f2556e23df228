/**
 * common_http_protocol_options.headers_with_underscores_action, as Envoy's HTTP/1 codec applies
 * it to request header names: ALLOW (the default) passes them; DROP_HEADER
 * removes each such field (counted in http1.dropped_headers_with_underscores); REJECT_REQUEST
 * refuses the request as a protocol error, 400 and close (http1.unexpected_underscore, counted
 * in http1.requests_rejected_with_underscores_in_headers). Names with underscores are unusual
 * and ambiguous (a CGI-style server maps both "x-user_id" and "x-user-id" to X_USER_ID), which
 * is why operators drop or refuse them.
 *
 * Runs on the flat list the parser produced, after the head is complete. Worker-side.
 */
export type HeadersWithUnderscoresAction = 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER';
export const HEADERS_WITH_UNDERSCORES_ACTIONS: readonly HeadersWithUnderscoresAction[] = ['ALLOW', 'REJECT_REQUEST', 'DROP_HEADER'];

/**
 * Applies `action` to `headers` in place. Returns 'reject' when the request must be refused,
 * else how many fields were dropped (0 for ALLOW or when none has an underscore).
 */
export function applyUnderscoreAction(headers: string[], action: HeadersWithUnderscoresAction): 'reject' | number {
  if (action === 'ALLOW') return 0;
  let i = 0;
  while (i < headers.length && !headers[i]!.includes('_')) i += 2;
  if (i >= headers.length) return 0;
  if (action === 'REJECT_REQUEST') return 'reject';
  let out = i;
  let dropped = 1;
  for (i += 2; i < headers.length; i += 2) {
    if (headers[i]!.includes('_')) {
      dropped++;
      continue;
    }
    headers[out] = headers[i]!;
    headers[out + 1] = headers[i + 1]!;
    out += 2;
  }
  headers.length = out;
  return dropped;
}
