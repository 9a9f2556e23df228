/**
 * The request path as Envoy's HCM normalises it before routing (ConnectionManagerUtility::
 * maybeNormalizePath), so that route matching and the path forwarded upstream see the same,
 * canonical path. In Envoy's order:
 *
 * 0. Always: a request-target with a fragment ("#", which RFC 9112 does not allow there) is
 *    refused with 400, as Envoy refuses it (a fragment could hide the path from matchers).
 * 1. path_with_escaped_slashes_action (default KEEP_UNCHANGED): any other action first decodes
 *    %2F/%2f to "/" and %5C/%5c to "\" in the path (not the query); if it found any,
 *    REJECT_REQUEST refuses the request (400), UNESCAPE_AND_REDIRECT redirects the client to
 *    the normalised path (307; a gRPC request gets 400, as gRPC clients do not follow
 *    redirects), UNESCAPE_AND_FORWARD goes on with it.
 * 2. normalize_path (default false): RFC 3986 normalisation of the path part, as Chromium's URL
 *    canonicaliser (which Envoy uses) does it: "\" becomes "/"; percent-encoded unreserved
 *    characters (ALPHA DIGIT - . _ ~) are decoded, other escapes are kept as sent (no case
 *    change: %2f stays %2f); a space, '"', '<', '>' and '`' are percent-encoded; "." and ".."
 *    segments (also as %2E) are removed (RFC 3986 §5.2.4; ".." never climbs above the root);
 *    a path not starting with "/" gets one. An encoded NUL (%00) makes the path invalid: 400.
 * 3. merge_slashes (default false): runs of "/" in the path part become one.
 *
 * Envoy does no case normalisation, and neither does this. The query is never touched.
 * Pure functions on strings; worker-side.
 */

export type EscapedSlashesAction = 'KEEP_UNCHANGED' | 'REJECT_REQUEST' | 'UNESCAPE_AND_REDIRECT' | 'UNESCAPE_AND_FORWARD';
/** The proto's values; IMPLEMENTATION_SPECIFIC_DEFAULT is KEEP_UNCHANGED, Envoy's runtime default. */
export const ESCAPED_SLASHES_ACTIONS: readonly string[] = ['IMPLEMENTATION_SPECIFIC_DEFAULT', 'KEEP_UNCHANGED', 'REJECT_REQUEST', 'UNESCAPE_AND_REDIRECT', 'UNESCAPE_AND_FORWARD'];

export interface PathNormalizationConfig {
  readonly normalizePath: boolean;
  readonly mergeSlashes: boolean;
  readonly escapedSlashesAction: EscapedSlashesAction;
}

export type PathNormalizationResult =
  | { readonly action: 'continue'; readonly path: string }
  | { readonly action: 'redirect'; readonly path: string }
  | { readonly action: 'reject' };

/** Whether any step applies to `path`: the HCM skips the call when none does (the common case). */
export function normalizationNeeded(path: string, c: PathNormalizationConfig): boolean {
  return c.normalizePath || c.mergeSlashes || c.escapedSlashesAction !== 'KEEP_UNCHANGED' || path.includes('#');
}

export function normalizeRequestPath(path: string, c: PathNormalizationConfig): PathNormalizationResult {
  if (path.includes('#')) return { action: 'reject' };
  // "*" (OPTIONS *) and authority-form targets are not paths.
  if (!path.startsWith('/') && !path.startsWith('\\') && !path.startsWith('.')) return { action: 'continue', path };
  const q = path.indexOf('?');
  let p = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? '' : path.slice(q);
  let redirect = false;
  if (c.escapedSlashesAction !== 'KEEP_UNCHANGED' && p.includes('%')) {
    const unescaped = p.replace(/%2f/gi, '/').replace(/%5c/gi, '\\');
    if (unescaped.length !== p.length) {
      if (c.escapedSlashesAction === 'REJECT_REQUEST') return { action: 'reject' };
      if (c.escapedSlashesAction === 'UNESCAPE_AND_REDIRECT') redirect = true;
      p = unescaped;
    }
  }
  if (c.normalizePath) {
    const canonical = canonicalizePath(p);
    if (canonical === undefined) return { action: 'reject' };
    p = canonical;
  }
  if (c.mergeSlashes) p = mergeSlashes(p);
  return { action: redirect ? 'redirect' : 'continue', path: p + query };
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** Characters Chromium's path canonicaliser percent-encodes (the parser admits no others of its set). */
const ESCAPED: Readonly<Record<string, string>> = { ' ': '%20', '"': '%22', '<': '%3C', '>': '%3E', '`': '%60' };

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/** Step 2 on the path part (no query); undefined when the path is invalid. */
export function canonicalizePath(p: string): string | undefined {
  let s = '';
  for (let i = 0; i < p.length; i++) {
    const ch = p[i]!;
    if (ch === '\\') {
      s += '/';
    } else if (ch === '%' && i + 2 < p.length && hexValue(p.charCodeAt(i + 1)) >= 0 && hexValue(p.charCodeAt(i + 2)) >= 0) {
      const byte = hexValue(p.charCodeAt(i + 1)) * 16 + hexValue(p.charCodeAt(i + 2));
      if (byte === 0) return undefined;
      const decoded = String.fromCharCode(byte);
      s += UNRESERVED.test(decoded) ? decoded : p.slice(i, i + 3);
      i += 2;
    } else {
      s += ESCAPED[ch] ?? ch;
    }
  }
  if (!s.startsWith('/')) s = '/' + s;
  const parts = s.split('/');
  const out: string[] = [''];
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i]!;
    const last = i === parts.length - 1;
    if (seg === '.') {
      if (last) out.push('');
    } else if (seg === '..') {
      if (out.length > 1) out.pop();
      if (last) out.push('');
    } else {
      out.push(seg);
    }
  }
  const joined = out.join('/');
  return joined === '' ? '/' : joined;
}

/** Step 3 on the path part: "//a///b/" → "/a/b/". */
export function mergeSlashes(p: string): string {
  if (!p.includes('//')) return p;
  const segments = p.split('/').filter((x) => x !== '');
  const prefix = p.startsWith('/') ? '/' : '';
  if (segments.length === 0) return prefix;
  return prefix + segments.join('/') + (p.endsWith('/') ? '/' : '');
}
