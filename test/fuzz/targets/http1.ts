/**
 * HTTP/1 targets: Courier's Http1Parser on requests (http1-request) and responses
 * (http1-response). Per case:
 * - the parser never throws (its errors are Http1ParseError results);
 * - pausing after every message and resuming (as the connection manager does) changes nothing;
 * - the framing agrees with Node's llhttp (http1-differences.ts lists where Courier differs
 *   on purpose, each with its reason); an unlisted disagreement is a finding;
 * - responses are also parsed as answers to HEAD and CONNECT requests (crash checks only:
 *   llhttp is not told the request method).
 */
import { FuzzCheckFailure, type FuzzTarget } from '../target.js';
import { explainDifference } from './http1-differences.js';
import { courierTranscript, llhttpAvailable, llhttpTranscript, type Side, type Transcript } from './http1-transcript.js';

const DICTIONARY = [
  'GET / HTTP/1.1\r\n', 'POST /x HTTP/1.1\r\n', 'HTTP/1.1 200 OK\r\n', 'HTTP/1.0 ', 'HTTP/1.1 101 Switching\r\n',
  'Host: a\r\n', 'Content-Length: ', 'Transfer-Encoding: chunked\r\n', 'Connection: close\r\n',
  'Connection: keep-alive\r\n', 'Connection: upgrade\r\nUpgrade: websocket\r\n', 'Expect: 100-continue\r\n',
  'CONNECT a:443 HTTP/1.1\r\n', 'HEAD / HTTP/1.1\r\n', '\r\n', '\n', '\r', ' ', '\t', ':', ';ext=v',
  '0\r\n\r\n', 'ffffffffffff\r\n', 'X-T: 1\r\n\r\n', '\x7f', '\x80', '\x00', 'chunked, gzip', '"q\\"s"',
].map((s) => Buffer.from(s, 'latin1'));

export function http1Target(side: Side): FuzzTarget {
  const differential = llhttpAvailable();
  return {
    name: `http1-${side}`,
    description: `Http1Parser.for${side === 'request' ? 'Requests' : 'Responses'} (src/common/http/http1-parser.ts), differential against Node's llhttp`,
    maxInputBytes: 16 * 1024,
    dictionary: DICTIONARY,
    run(chunks) {
      const plain = courierTranscript(side, chunks);
      const paused = courierTranscript(side, chunks, { pauseEachMessage: true });
      if (!sameEvents(plain, paused)) {
        throw new FuzzCheckFailure('pause-changes-parse', `without pausing: ${show(plain)}; pausing after each message: ${show(paused)}`);
      }
      if (side === 'response') {
        courierTranscript(side, chunks, { methods: ['HEAD', 'CONNECT', 'GET'] });
        courierTranscript(side, chunks, { methods: ['CONNECT'], pauseEachMessage: true });
      }
      const outcome = plain.error === null ? `ok:${plain.events.filter((e) => e === 'C').length > 1 ? 'n' : plain.events.length > 0 ? '1' : '0'}` : `error:${plain.error}`;
      if (!differential) return outcome;
      const node = llhttpTranscript(side, chunks);
      const at = firstDifference(plain, node);
      if (at < 0) return outcome;
      const input = Buffer.concat(chunks);
      const ours = withCode(plain.events[at], plain.error);
      const theirs = withCode(node.events[at], node.error);
      const reason = explainDifference(side, ours, theirs, input);
      if (reason) return `differs:${reason}`;
      // One known defect shows at different events depending on what follows: name it.
      if (plain.events.slice(0, at + 1).some((e) => e.endsWith(' up=1')) && EMPTY_UPGRADE.test(input.toString('latin1'))) {
        throw new FuzzCheckFailure('llhttp-differs:empty-upgrade', `an empty Upgrade field made Courier tunnel: Courier: ${show(plain)}; llhttp: ${show(node)}`);
      }
      throw new FuzzCheckFailure(
        `llhttp-differs:${shape(ours, theirs)}|${shape(theirs, ours)}`,
        `event ${at}: Courier ${JSON.stringify(ours)}, llhttp ${JSON.stringify(theirs)} (Courier: ${show(plain)}; llhttp: ${show(node)})`,
      );
    },
  };
}

/** An event for reports and classification: an error carries its parser's code. */
function withCode(event: string | undefined, error: string | null): string {
  if (event === undefined) return '(end)';
  return event === 'E' ? `E ${error}` : event;
}

const EMPTY_UPGRADE = /\r\nupgrade:[ \t]*\r\n/i;

function sameEvents(a: Transcript, b: Transcript): boolean {
  return a.events.length === b.events.length && a.events.every((e, i) => e === b.events[i]);
}

function firstDifference(a: Transcript, b: Transcript): number {
  const n = Math.max(a.events.length, b.events.length);
  for (let i = 0; i < n; i++) if (a.events[i] !== b.events[i]) return i;
  return -1;
}

function show(t: Transcript): string {
  const e = t.events.length > 8 ? [...t.events.slice(0, 8), `… ${t.events.length - 8} more`] : t.events;
  return `[${e.join(', ')}]`;
}

/**
 * An event reduced to its kind (and error code, or which part of two heads differs), for
 * finding signatures: stable across inputs that hit the same difference.
 */
function shape(event: string, other: string): string {
  if (event.startsWith('E ')) return event;
  if (event.startsWith('B ')) return 'body';
  if (!event.startsWith('H ')) return event;
  if (!other.startsWith('H ')) return 'head';
  const up = (e: string): boolean => e.endsWith(' up=1');
  if (up(event) !== up(other)) return up(event) ? 'head(upgrade)' : 'head(no-upgrade)';
  const ka = (e: string): string => e.slice(e.lastIndexOf(' ') + 1);
  if (ka(event) !== ka(other)) return `head(${ka(event)})`;
  return 'head(start-line)';
}
