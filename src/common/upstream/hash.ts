/**
 * MurmurHash3 (x86, 32-bit) for host placement on ring/maglev tables and for tcp_proxy's
 * source_ip hash policy. Chosen over a cryptographic hash because it is called per connection
 * and only needs good avalanche, not secrecy.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Hashes bytes [start, end) of `data`. Result is an unsigned 32-bit integer. */
export function murmur3(data: Uint8Array, seed = 0, start = 0, end = data.length): number {
  let h = seed | 0;
  const length = end - start;
  const blockEnd = start + (length & ~3);
  let i = start;
  for (; i < blockEnd; i += 4) {
    let k =
      data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail !== 0) {
    let k = data[i]!;
    if (tail > 1) k ^= data[i + 1]! << 8;
    if (tail > 2) k ^= data[i + 2]! << 16;
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes a whole Buffer / Uint8Array (e.g. a packed IP address). */
export function hashBuffer(data: Uint8Array, seed = 0): number {
  return murmur3(data, seed, 0, data.length);
}

// Strings are encoded into a shared scratch buffer so per-connection hashing (source IPs) does
// not allocate; it only grows, and JS is single-threaded so sharing is safe.
let scratch = Buffer.allocUnsafe(256);

/** Hashes the UTF-8 encoding of `text`, so it agrees with hashBuffer(Buffer.from(text)). */
export function hashString(text: string, seed = 0): number {
  // A UTF-16 code unit never needs more than 3 UTF-8 bytes, so this bound avoids truncation.
  const worstCase = text.length * 3;
  if (worstCase > scratch.length) {
    scratch = Buffer.allocUnsafe(Math.max(worstCase, scratch.length * 2));
  }
  const written = scratch.write(text, 0, 'utf8');
  return murmur3(scratch, seed, 0, written);
}
