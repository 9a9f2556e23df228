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

export const KNOWN_FAILURES: readonly KnownFailure[] = [
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
