/**
 * Findings already known and owned elsewhere (issue 9's numbered points, being fixed on other
 * branches). The harness still finds and reports them, separately ("known"), so a run fails only
 * on something new; when a fix lands, the entry's "no longer reproduces" line says to delete it.
 *
 * Each entry: the target, the finding's kind, a pattern its signature matches (file and message,
 * never a line number), the regression seed committed under corpus/<target>/ (or the growth
 * probe) that reproduces it, and the exact repro command.
 */
import type { FindingKind } from './engine.js';

export interface KnownFailure {
  readonly target: string;
  readonly kind: FindingKind;
  readonly signature: RegExp;
  /** The committed regression seed (under test/fuzz/corpus/<target>/) or the probe name. */
  readonly seed: string;
  readonly issue: string;
  readonly repro: string;
}

/** Four inputs, one defect: protobufjs gives null for an empty sub-message, proto-binary.ts reads it. */
const XDS_NULL_SUBMESSAGE: ReadonlyArray<[string, string]> = [
  ["Cannot read properties of null \\(reading 'address'\\)", 'regress-null-submessage-address.bin'],
  ['Cannot convert undefined or null to object', 'regress-null-struct-value.bin'],
  ["Cannot read properties of null \\(reading 'fields'\\)", 'regress-null-struct-fields.bin'],
  ["Cannot read properties of null \\(reading 'type_url'\\)", 'regress-null-any-in-struct.bin'],
];

export const KNOWN_FAILURES: readonly KnownFailure[] = [
  ...XDS_NULL_SUBMESSAGE.map(
    ([message, seed]): KnownFailure => ({
      target: 'xds',
      kind: 'crash',
      signature: new RegExp(`^crash:TypeError:${message}@dist/src/config/proto-binary\\.js:`),
      seed: `corpus/xds/${seed}`,
      issue:
        'found by fuzzing (xDS decoder, issue 9 point 2\'s area): a resource with an empty or null sub-message ' +
        '(protobufjs decodes it as null) makes messageToProto3Json / wellKnownToJson (src/config/proto-binary.ts) ' +
        'throw a TypeError out of decodeAnyResources, so grpc-mux\'s stream handler throws instead of NACKing',
      repro: `npm run fuzz -- --target xds --repro test/fuzz/corpus/xds/${seed}`,
    }),
  ),
  {
    target: 'xds',
    kind: 'slow',
    signature: /^slow:nack$/,
    seed: 'corpus/xds/regress-unknown-type-url.bin',
    issue:
      'found by fuzzing (xDS decoder): an Any with an unknown type URL costs ~30 ms the first time (lookupMessage ' +
      'probes the proto directories on disk, synchronously, per distinct name) and ~0.5 ms after: a response with ' +
      'thousands of distinct bogus type URLs stalls main for seconds',
    repro: 'npm run fuzz -- --target xds --repro test/fuzz/corpus/xds/regress-unknown-type-url.bin',
  },
];

export function knownFailureFor(target: string, kind: FindingKind, signature: string): KnownFailure | undefined {
  return KNOWN_FAILURES.find((k) => k.target === target && k.kind === kind && k.signature.test(signature));
}
