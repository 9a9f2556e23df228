/**
 * Findings already known and owned elsewhere (issue 9's numbered points, being fixed on other
 * branches). The harness still finds and reports them, separately ("known"), so a run fails only
 * on something new; when a fix lands, the entry's "no longer reproduces" line says to delete it.
 *
 * Each entry: the target, the finding's kind, a pattern its signature matches (file and message,
 * never a line number), the regression seed committed under corpus/<target>/ (or the growth
 * probe) that reproduces it, and the exact repro command.
 *
 * The two super-linear entries match any growth finding of their target (a hand-written probe
 * or a random chunk of the corpus grown): while the defect stands, every large enough input of
 * that shape shows it, and a random probe cannot name the defect it hit. Remove them once the
 * fixes land, so that a new super-linear path in these decoders is reported again.
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
  {
    target: 'http1-request',
    kind: 'crash',
    signature: /^crash:FuzzCheckFailure:llhttp-differs:empty-upgrade@/,
    seed: 'corpus/http1-request/regress-empty-upgrade.http',
    issue:
      'found by fuzzing (HTTP/1 header handling): an empty "Upgrade:" field with "Connection: Upgrade" makes ' +
      'Courier read the request as an upgrade (the rest of the connection becomes a tunnel) where llhttp and ' +
      'node:http read a plain request and parse what follows as the next request',
    repro: 'npm run fuzz -- --target http1-request --repro test/fuzz/corpus/http1-request/regress-empty-upgrade.http',
  },
  {
    target: 'dubbo',
    kind: 'superlinear',
    signature: /^superlinear:/,
    seed: 'probe non-ascii-attachments (shape committed as corpus/dubbo/regress-non-ascii-attachments.bin)',
    issue: 'issue 9 point 4: Hessian2 string decoding scans for CESU surrogates to the end of the frame per string',
    repro: 'npm run fuzz -- --target dubbo --probe non-ascii-attachments',
  },
  {
    target: 'thrift',
    kind: 'superlinear',
    signature: /^superlinear:/,
    seed: 'probe unframed-long-call (shape committed as corpus/thrift/regress-unframed-long-call.bin)',
    issue: 'issue 9 point 5: unframed frames are reassembled by concatenating all pending bytes on every read',
    repro: 'npm run fuzz -- --target thrift --probe unframed-long-call',
  },
];

export function knownFailureFor(target: string, kind: FindingKind, signature: string): KnownFailure | undefined {
  return KNOWN_FAILURES.find((k) => k.target === target && k.kind === kind && k.signature.test(signature));
}
