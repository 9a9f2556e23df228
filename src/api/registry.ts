/**
 * A named registry that refuses a name twice (Envoy: "Double registration for name").
 * Plug-ins register in src/extensions/all.ts, in one place, in a fixed order.
 */
export class Registry<T> {
  readonly #entries = new Map<string, T>();
  readonly #kind: string;
  constructor(kind: string) {
    this.#kind = kind;
  }
  register(name: string, entry: T): void {
    if (this.#entries.has(name)) throw new Error(`double registration of ${this.#kind} "${name}"`);
    this.#entries.set(name, entry);
  }
  get(name: string): T | undefined {
    return this.#entries.get(name);
  }
  values(): T[] {
    return [...this.#entries.values()];
  }
  names(): string[] {
    return [...this.#entries.keys()];
  }
}
