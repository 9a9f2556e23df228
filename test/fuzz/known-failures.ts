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

/**
 * Empty: every finding so far is fixed (the xDS null sub-message crash, the unknown type URL
 * probe, the empty Upgrade, and issue 9's points 4 and 5), and its seed stays in the corpus as a
 * regression input.
 */
export const KNOWN_FAILURES: readonly KnownFailure[] = [];

export function knownFailureFor(target: string, kind: FindingKind, signature: string): KnownFailure | undefined {
  return KNOWN_FAILURES.find((k) => k.target === target && k.kind === kind && k.signature.test(signature));
}
