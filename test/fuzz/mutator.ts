/**
 * Byte-level mutations (the havoc stage of AFL, in miniature): each mutant is one seed with one
 * to four stacked edits. Everything is drawn from the Rng, so a run is reproducible.
 */
import type { Rng } from './rng.js';

/** Integers that sit on decoders' boundaries: signs, widths, Courier's 16 MiB frame limit. */
const INTERESTING: readonly number[] = [
  0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 63, 64, 100, 127, 128, 255, 256, 512, 1000, 1024, 4096,
  0x7fff, 0x8000, 0xffff, 0x10000, 0xffffff, 0x1000000, 0x1000001, 0x7fffffff, 0x80000000, 0xffffffff,
];

export interface MutatorOptions {
  /** Mutants are cut to this many bytes. */
  readonly maxBytes: number;
  /** Tokens worth inserting whole (header names, tags, keywords). */
  readonly dictionary: readonly Buffer[];
}

export class Mutator {
  readonly #opts: MutatorOptions;
  readonly #rng: Rng;

  constructor(rng: Rng, opts: MutatorOptions) {
    this.#rng = rng;
    this.#opts = opts;
  }

  /** A mutant of `seed`; `others` are the rest of the corpus, for splicing. */
  mutate(seed: Buffer, others: readonly Buffer[]): Buffer {
    const rng = this.#rng;
    let out: Buffer = Buffer.from(seed);
    const edits = 1 + rng.below(rng.chance(0.5) ? 1 : 4);
    for (let i = 0; i < edits; i++) out = this.#edit(out, others);
    return out.length > this.#opts.maxBytes ? out.subarray(0, this.#opts.maxBytes) : out;
  }

  #edit(b: Buffer, others: readonly Buffer[]): Buffer {
    const rng = this.#rng;
    const dict = this.#opts.dictionary;
    switch (rng.below(12)) {
      case 0: // flip one bit
        if (b.length > 0) b[rng.below(b.length)]! ^= 1 << rng.below(8);
        return b;
      case 1: // set a random byte
        if (b.length > 0) b[rng.below(b.length)] = rng.below(256);
        return b;
      case 2: // insert random bytes
        return splice(b, rng.below(b.length + 1), 0, randomBytes(rng, rng.smallLength(8)));
      case 3: {
        // delete a range
        if (b.length === 0) return b;
        const at = rng.below(b.length);
        return splice(b, at, rng.smallLength(b.length - at), Buffer.alloc(0));
      }
      case 4:
      case 5:
        return this.#interestingInteger(b);
      case 6: {
        // splice: the head of this input, the tail of another
        const other = others.length > 0 ? rng.pick(others) : b;
        const head = b.subarray(0, rng.below(b.length + 1));
        return Buffer.concat([head, other.subarray(rng.below(other.length + 1))]);
      }
      case 7: {
        // insert a chunk of another input
        const other = others.length > 0 ? rng.pick(others) : b;
        const from = rng.below(other.length + 1);
        const chunk = other.subarray(from, from + rng.smallLength(Math.max(1, other.length - from)));
        return splice(b, rng.below(b.length + 1), 0, chunk);
      }
      case 8:
        return this.#repeatChunk(b);
      case 9: {
        // a dictionary token, inserted or written over
        if (dict.length === 0) return this.#interestingInteger(b);
        const token = rng.pick(dict);
        const at = rng.below(b.length + 1);
        return splice(b, at, rng.chance(0.5) ? 0 : Math.min(token.length, b.length - at), token);
      }
      case 10: {
        // copy a chunk of this input over another place in it
        if (b.length < 2) return b;
        const from = rng.below(b.length);
        const len = rng.smallLength(b.length - from);
        const to = rng.below(b.length);
        b.subarray(from, from + len).copy(b, to);
        return b;
      }
      default: {
        // an ASCII number replaced by an interesting one (Content-Length, chunk sizes, ports)
        const text = b.toString('latin1');
        const digits = [...text.matchAll(/[0-9a-fA-F]+/g)];
        if (digits.length === 0) return this.#interestingInteger(b);
        const m = rng.pick(digits);
        const n = rng.pick(INTERESTING) + rng.below(3) - 1;
        const repr = rng.chance(0.3) ? n.toString(16) : String(n);
        return splice(b, m.index, m[0].length, Buffer.from(rng.chance(0.1) ? `-${repr}` : repr, 'latin1'));
      }
    }
  }

  /** An interesting integer written over 1, 2, 4 or 8 bytes, either byte order. */
  #interestingInteger(b: Buffer): Buffer {
    const rng = this.#rng;
    const width = rng.pick([1, 2, 4, 4, 8]);
    if (b.length < width) return b;
    const at = rng.below(b.length - width + 1);
    let n = rng.pick(INTERESTING);
    if (rng.chance(0.2)) n = -n;
    if (rng.chance(0.2)) n += rng.below(5) - 2;
    const little = rng.chance(0.25);
    if (width === 8) {
      const v = BigInt.asUintN(64, BigInt(n));
      little ? b.writeBigUInt64LE(v, at) : b.writeBigUInt64BE(v, at);
    } else {
      const v = n & (width === 4 ? 0xffffffff : (1 << (width * 8)) - 1);
      for (let i = 0; i < width; i++) {
        const byte = (v >>> (8 * (little ? i : width - 1 - i))) & 0xff;
        b[at + i] = byte;
      }
    }
    return b;
  }

  /** A chunk of the input repeated, to grow it (nesting, long lists, many fields). */
  #repeatChunk(b: Buffer): Buffer {
    const rng = this.#rng;
    if (b.length === 0) return b;
    const from = rng.below(b.length);
    const chunk = b.subarray(from, from + rng.smallLength(Math.min(64, b.length - from)));
    const times = rng.smallLength(rng.chance(0.1) ? 4096 : 64);
    const room = Math.max(0, this.#opts.maxBytes - b.length);
    const copies = Math.min(times, Math.floor(room / chunk.length));
    return splice(b, from, 0, repeat(chunk, copies));
  }
}

export function repeat(chunk: Buffer, times: number): Buffer {
  const out = Buffer.allocUnsafe(chunk.length * times);
  for (let i = 0; i < times; i++) chunk.copy(out, i * chunk.length);
  return out;
}

function splice(b: Buffer, at: number, deleteCount: number, insert: Buffer): Buffer {
  return Buffer.concat([b.subarray(0, at), insert, b.subarray(at + deleteCount)]);
}

function randomBytes(rng: Rng, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = rng.chance(0.3) ? rng.pick([0, 0x0a, 0x0d, 0x20, 0x3a, 0x7f, 0x80, 0xff]) : rng.below(256);
  return out;
}

/**
 * Read boundaries for one case: the input cut into the pieces a socket might deliver. Half of
 * the cases are one read; the rest are cut at a few random places, or (for small inputs) into
 * single bytes, which exercises every resume point of an incremental decoder.
 */
export function randomSplits(rng: Rng, length: number): number[] {
  if (length < 2 || rng.chance(0.5)) return [];
  if (length <= 512 && rng.chance(0.1)) return Array.from({ length: length - 1 }, (_, i) => i + 1);
  const cuts = new Set<number>();
  const n = 1 + rng.below(8);
  for (let i = 0; i < n; i++) cuts.add(1 + rng.below(length - 1));
  return [...cuts].sort((x, y) => x - y);
}

/** `input` cut at `splits` (ascending offsets), as views. */
export function cut(input: Buffer, splits: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const s of splits) {
    if (s <= from || s >= input.length) continue;
    out.push(input.subarray(from, s));
    from = s;
  }
  out.push(input.subarray(from));
  return out;
}
