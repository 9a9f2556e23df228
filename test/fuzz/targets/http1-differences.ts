/**
 * Where Courier's HTTP/1 framing differs from llhttp's on purpose. Courier follows Envoy (and
 * RFC 9112's "must reject") where llhttp, as node:http configures it, is more lenient, and
 * accepts some things llhttp refuses. Each entry names the first place the two transcripts
 * part (Courier's event, llhttp's event, see http1-transcript.ts) and why; a disagreement no
 * entry explains is a fuzz finding.
 *
 * Entries are narrow on purpose: each matches Courier's specific error code or a specific
 * llhttp code plus a property of the input, never "any difference", so a new kind of
 * disagreement still surfaces. Issue 9 (points 8 to 11) decided
 * the entries on methods, versions, Content-Length, Host, Connection and obs-text.
 */
import type { Side } from './http1-transcript.js';

export interface Difference {
  readonly side: Side;
  /** Courier's event where the transcripts part: `E <courier code>`, `H <start> ...`, `B n`, `C`. */
  readonly ours: string;
  /** llhttp's event there: `E HPE_...`, `H ...`, ... */
  readonly theirs: string;
  readonly input: Buffer;
}

export interface DeliberateDifference {
  readonly id: string;
  readonly reason: string;
  readonly applies: (d: Difference) => boolean;
}

const head = (e: string): boolean => e.startsWith('H ');
const courierRefused = (d: Difference, ...codes: string[]): boolean => codes.some((c) => d.ours === `E ${c}`);
const llhttpRefused = (d: Difference, ...codes: string[]): boolean => codes.some((c) => d.theirs === `E ${c}`);
/** The start lines of the input (text up to each CRLF CRLF boundary is not needed: any line). */
const lines = (input: Buffer): string[] => input.toString('latin1').split(/\r?\n/);

export const DELIBERATE_DIFFERENCES: readonly DeliberateDifference[] = [
  {
    id: 'http09',
    reason:
      'A request line without an HTTP version (HTTP/0.9) or with version 0.9: llhttp parses it, Courier refuses it ' +
      '(invalid_version, or invalid_line_ending for a bare LF), as Envoy does (http1.codec_error)',
    applies: (d) => d.side === 'request' && / 0\.9 /.test(d.theirs) && courierRefused(d, 'invalid_version', 'invalid_line_ending', 'invalid_url'),
  },
  {
    id: 'request-line-spaces',
    reason:
      'Courier requires exactly one SP between method, target and version (RFC 9112 §3); llhttp skips repeated ' +
      'spaces. Refusing keeps Courier and the upstream from reading a different target',
    applies: (d) =>
      d.side === 'request' && courierRefused(d, 'invalid_url', 'invalid_version', 'invalid_method') && head(d.theirs) && lines(d.input).some((l) => /^\S+ {2,}|^\S+ \S+ {2,}/.test(l)),
  },
  {
    id: 'request-target-form',
    reason:
      'A request-target in none of the forms its method allows (origin-form "/…", absolute-form, authority-form ' +
      'for CONNECT, "*" for OPTIONS), e.g. "*/x": Courier refuses it (invalid_url, 400), as Envoy does; llhttp ' +
      'accepts any run of URL characters',
    applies: (d) => d.side === 'request' && courierRefused(d, 'invalid_url') && head(d.theirs) && !/ \/| [a-z][a-z0-9+.-]*:\/\/| \* /i.test(d.theirs.slice(d.theirs.indexOf(' '))),
  },
  {
    id: 'unknown-method',
    reason:
      'A method outside Envoy\'s list (its HTTP/1 codec\'s, without allow_custom_methods): Courier refuses it ' +
      '(unknown_method, 400, as Envoy); llhttp\'s list is a little different (it knows e.g. PRI, SOURCE, QUERY), so ' +
      'where one refuses and the other reads a head, the method is on one list only',
    applies: (d) =>
      d.side === 'request' && ((courierRefused(d, 'unknown_method') && head(d.theirs)) || (head(d.ours) && llhttpRefused(d, 'HPE_INVALID_METHOD'))),
  },
  {
    id: 'versions-other-than-1x',
    reason:
      'Any HTTP/x.y but exactly HTTP/1.1 is read as HTTP/1.0, as Envoy\'s parser does ("higher layers only care if ' +
      'this is HTTP/1.1 or not"); llhttp refuses some (HPE_INVALID_VERSION) and reads others with their own number',
    applies: (d) =>
      / 1\.0( (ka|up)=\d)?$/.test(d.ours) &&
      (llhttpRefused(d, 'HPE_INVALID_VERSION') || head(d.theirs)) &&
      /HTTP\/(?!1\.[01]\b)\d\.\d/.test(d.input.toString('latin1')),
  },
  {
    id: 'repeated-content-length',
    reason:
      'Repeated Content-Length fields, or a list, even with one value: Courier refuses (multiple_content_length, ' +
      '400) as Envoy does; llhttp refuses them too, with a code of its own, or reads a list it can parse',
    applies: (d) => courierRefused(d, 'multiple_content_length') && /content-length/i.test(d.input.toString('latin1')),
  },
  {
    id: 'htab-around-framing-values',
    reason:
      'A HTAB around the value of Content-Length or Connection: Courier strips it (RFC 9110 §5.5: OWS is SP or ' +
      'HTAB; Envoy\'s parser trims both) and reads the number or the option; llhttp takes only SP there, so it ' +
      'refuses the length (HPE_INVALID_CONTENT_LENGTH) or misses the "close" or "upgrade"',
    applies: (d) =>
      head(d.ours) &&
      (llhttpRefused(d, 'HPE_INVALID_CONTENT_LENGTH') ||
        (/ ka=0$/.test(d.ours) && / ka=1$/.test(d.theirs)) ||
        (/ up=1$/.test(d.ours) && / ka=\d$/.test(d.theirs))) &&
      /\r\n(content-length|connection):[ \t]*\t[^\r\n]*\r\n|\r\n(content-length|connection):[^\r\n]*\t[ \t]*\r\n/i.test(d.input.toString('latin1')),
  },
  {
    id: 'connect-with-body',
    reason:
      'A CONNECT request with a non-zero Content-Length or a Transfer-Encoding: Courier refuses it as Envoy does ' +
      '(content_length_not_allowed, transfer_encoding_not_allowed); llhttp ignores the fields and tunnels',
    applies: (d) => d.side === 'request' && courierRefused(d, 'content_length_not_allowed', 'transfer_encoding_not_allowed') && / up=1$/.test(d.theirs),
  },
  {
    id: 'two-host-fields',
    reason:
      'Two Host fields: Courier refuses the request (400, RFC 9112 §3.2), where llhttp reads it; routing on one Host ' +
      'while the upstream reads the other is the confusion the RFC forbids',
    applies: (d) => d.side === 'request' && courierRefused(d, 'multiple_host'),
  },
  {
    id: 'connection-header-rejected',
    reason:
      'A Connection header with ten or more options, or naming x-forwarded-* or a pseudo-header: Courier refuses it ' +
      '(Envoy\'s http1.connection_header_rejected); llhttp does not look at what Connection names',
    applies: (d) => d.side === 'request' && courierRefused(d, 'connection_header_rejected'),
  },
  {
    id: 'bare-lf-or-cr',
    reason:
      'A bare LF, or a CR not followed by LF: Courier refuses it anywhere (invalid_line_ending: CRLF strictly, ' +
      'so Courier and the upstream cannot disagree on where a line ends); llhttp takes a lone LF as a line end ' +
      'in places (between messages, after the version)',
    applies: (d) => courierRefused(d, 'invalid_line_ending') && !d.theirs.startsWith('E '),
  },
  {
    id: 'transfer-encoding-not-exactly-chunked',
    reason:
      'Transfer-Encoding other than exactly one "chunked" (a coding list, an unknown or empty coding, a second ' +
      'field, or any Transfer-Encoding in HTTP/1.0): Courier refuses with 501 as Envoy does ' +
      '(http1.invalid_transfer_encoding); llhttp applies "…, chunked" lists and reads other codings until close',
    applies: (d) => courierRefused(d, 'invalid_transfer_encoding') && !d.theirs.startsWith('E '),
  },
  {
    id: 'whitespace-after-chunked',
    reason:
      'Transfer-Encoding: chunked followed by a HTAB: Courier strips the whitespace around a field value (RFC 9110 ' +
      '§5.5: OWS is SP or HTAB) and reads a chunked body; llhttp keeps the HTAB in the coding, so the body is not ' +
      'chunked for it (a response is read until close)',
    applies: (d) => head(d.ours) && head(d.theirs) && /transfer-encoding:[^\r\n]*chunked[ \t]*\t[ \t]*\r\n/i.test(d.input.toString('latin1')),
  },
  {
    id: 'transfer-encoding-and-content-length',
    reason:
      'Transfer-Encoding and Content-Length together: Courier refuses (Envoy\'s default, allow_chunked_length ' +
      'false); llhttp lets Transfer-Encoding win when it is not chunked-final or is empty',
    applies: (d) => courierRefused(d, 'content_length_and_chunked') && !d.theirs.startsWith('E '),
  },
  {
    id: 'framing-fields-in-trailers',
    reason:
      'Transfer-Encoding or Content-Length in a trailer section: llhttp refuses the message, or lets the field ' +
      'change how it frames the connection (then refuses the next message: HPE_CLOSED_CONNECTION); Courier ' +
      'ignores it (trailers frame nothing) and drops such fields before forwarding',
    applies: (d) =>
      head(d.ours) &&
      llhttpRefused(d, 'HPE_INVALID_TRANSFER_ENCODING', 'HPE_UNEXPECTED_CONTENT_LENGTH', 'HPE_INVALID_CONTENT_LENGTH', 'HPE_CLOSED_CONNECTION') &&
      /\r\n0[^\r\n]*\r\n(?:[^\r\n]*\r\n)*?(transfer-encoding|content-length)\s*:/i.test(d.input.toString('latin1')),
  },
  {
    id: 'body-framing-on-1xx-204',
    reason:
      'A 1xx or 204 response with Transfer-Encoding or a non-zero Content-Length: Courier refuses it as Envoy does ' +
      '(transfer_encoding_not_allowed, content_length_not_allowed); llhttp ignores the fields',
    applies: (d) => d.side === 'response' && courierRefused(d, 'transfer_encoding_not_allowed', 'content_length_not_allowed'),
  },
  {
    id: 'ctl-in-reason-phrase',
    reason:
      'A control character in the reason phrase: Courier refuses the status line (RFC 9112 §4: reason-phrase is ' +
      'HTAB / SP / VCHAR / obs-text); llhttp accepts it',
    applies: (d) => d.side === 'response' && courierRefused(d, 'invalid_status') && head(d.theirs) && /HTTP\/1\.\d \d{3} [^\r\n]*[\x00-\x08\x0a-\x1f\x7f]/.test(d.input.toString('latin1')),
  },
  {
    id: 'status-101-is-a-tunnel',
    reason:
      'A 101 response: Courier takes it as the switch to the upgraded protocol (bodyKind tunnel), whatever its ' +
      'fields; llhttp does so only when the response carries Connection: upgrade. Courier sends only upgrade ' +
      'requests that can get a 101, and closes the connection when the upgrade is refused',
    applies: (d) => d.side === 'response' && / 101 1\.\d up=1$/.test(d.ours) && / 101 /.test(d.theirs),
  },
  {
    id: 'interim-keeps-connection',
    reason:
      'A 1xx interim response in HTTP/1.0 or with Connection: close: Courier goes on to read the final response ' +
      '(an interim response never ends the exchange); llhttp applies the close to it and refuses what follows',
    applies: (d) => d.side === 'response' && head(d.ours) && llhttpRefused(d, 'HPE_CLOSED_CONNECTION') && /HTTP\/1\.\d 1(0[02-9]|[1-9]\d)/.test(d.input.toString('latin1')),
  },
  {
    id: 'close-and-keep-alive',
    reason:
      'Connection with both "close" and "keep-alive" (in one field or several): Courier closes, since any close ' +
      'option ends the connection (RFC 9112 §9.6); llhttp lets the last one win',
    applies: (d) =>
      / ka=0$/.test(d.ours) && / ka=1$/.test(d.theirs) && /connection:[^\r\n]*close/i.test(d.input.toString('latin1')) && /keep-alive/i.test(d.input.toString('latin1')),
  },
  {
    id: 'max-headers-count',
    reason: 'More than 100 header fields: Courier refuses (431), as Envoy\'s max_headers_count; llhttp has no count limit',
    applies: (d) => courierRefused(d, 'too_many_headers'),
  },
  {
    id: 'obs-text-in-target',
    reason:
      'Bytes 0x80-0xff in the request-target: both refuse, as Envoy does; where a byte also breaks the line ' +
      'another way the two parsers name different errors, which is no disagreement on framing',
    applies: (d) => d.side === 'request' && courierRefused(d, 'invalid_url') && d.theirs.startsWith('E ') && /[\x80-\xff]/.test(lines(d.input).join('\n')),
  },
];

export function explainDifference(side: Side, ours: string, theirs: string, input: Buffer): string | undefined {
  for (const d of DELIBERATE_DIFFERENCES) if (d.applies({ side, ours, theirs, input })) return d.id;
  return undefined;
}
