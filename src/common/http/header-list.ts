/**
 * A mutable header list in the flat form the HTTP/1 parser produces and the encoder consumes
 * ([name0, value0, name1, value1, …], names lower-case). The proxy edits requests and responses
 * in this form so that a forwarded head is re-encoded without ever building a map: most
 * requests carry a dozen fields, where a linear scan beats hashing.
 *
 * Implements route-table.ts's MutableHeaders (for applyHeaderMutations) and its header lookups
 * (for route matching). Worker-side.
 */
import type { MutableHeaders } from '../router/route-table.js';

export class HeaderList implements MutableHeaders {
  /** The flat list; owned by this object (the parser's array is taken, not copied). */
  readonly flat: string[];

  constructor(flat: string[]) {
    this.flat = flat;
  }

  has(name: string): boolean {
    const f = this.flat;
    for (let i = 0; i < f.length; i += 2) if (f[i] === name) return true;
    return false;
  }

  /** Every value of `name` joined with ",", as Envoy's header matchers see them; undefined when absent. */
  get(name: string): string | undefined {
    const f = this.flat;
    let out: string | undefined;
    for (let i = 0; i < f.length; i += 2) {
      if (f[i] === name) out = out === undefined ? f[i + 1]! : out + ',' + f[i + 1]!;
    }
    return out;
  }

  /** The first value of `name`, or undefined. */
  first(name: string): string | undefined {
    const f = this.flat;
    for (let i = 0; i < f.length; i += 2) if (f[i] === name) return f[i + 1];
    return undefined;
  }

  set(name: string, value: string): void {
    const f = this.flat;
    let found = false;
    for (let i = 0; i < f.length; ) {
      if (f[i] === name) {
        if (!found) {
          f[i + 1] = value;
          found = true;
          i += 2;
        } else {
          f.splice(i, 2);
        }
      } else {
        i += 2;
      }
    }
    if (!found) f.push(name, value);
  }

  append(name: string, value: string): void {
    this.flat.push(name, value);
  }

  remove(name: string): void {
    const f = this.flat;
    for (let i = 0; i < f.length; ) {
      if (f[i] === name) f.splice(i, 2);
      else i += 2;
    }
  }

  /**
   * remove() for every name in `names`, in one pass (the hop-by-hop fields of each forwarded
   * head): one scan and no splice when none is present, which is the common case.
   */
  removeAll(names: ReadonlySet<string>): void {
    const f = this.flat;
    const n = f.length;
    let i = 0;
    while (i < n && !names.has(f[i]!)) i += 2;
    if (i === n) return;
    let out = i;
    for (i += 2; i < n; i += 2) {
      if (names.has(f[i]!)) continue;
      f[out] = f[i]!;
      f[out + 1] = f[i + 1]!;
      out += 2;
    }
    f.length = out;
  }

  /** Whether some field's name starts with `prefix` (lower case). */
  hasNamePrefix(prefix: string): boolean {
    const f = this.flat;
    for (let i = 0; i < f.length; i += 2) if (f[i]!.startsWith(prefix)) return true;
    return false;
  }
}
