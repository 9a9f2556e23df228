/** Where the committed seed corpora live, and how they are read. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../support/courier-harness.js';
import type { SeedInput } from './engine.js';

/** test/fuzz/corpus/<target>/ in the source tree (the corpus is data: it is not compiled). */
export const CORPUS_ROOT = path.join(REPO_ROOT, 'test', 'fuzz', 'corpus');

/** Every file of a target's corpus, sorted by name so runs are deterministic. */
export function loadCorpus(target: string): SeedInput[] {
  const dir = path.join(CORPUS_ROOT, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.') && !f.endsWith('.md'))
    .sort()
    .map((f) => ({ name: f, bytes: readFileSync(path.join(dir, f)) }));
}
