/**
 * One immutable set of runtime values (Envoy's Runtime::SnapshotImpl). MAIN builds it from the
 * layers (runtime-loader.ts) and posts its entries to the workers in the `runtime` slot; a
 * worker wraps them in a RuntimeSnapshotImpl once per update. Values are parsed on main (the
 * YAML parser stays there): an entry carries its raw string and every typed reading of it.
 */
import type { FractionalPercent, RuntimeLoader, RuntimeSnapshot } from '../../api/runtime.js';

/** One key's value, as Envoy's Snapshot::Entry: the raw string and what it parses as. */
export interface RuntimeEntry {
  /** As shown by GET /runtime. */
  readonly raw: string;
  /** A number ≥ 0, floored (Envoy's uint_value_). */
  readonly uint?: number;
  readonly double?: number;
  readonly bool?: boolean;
  readonly fraction?: FractionalPercent;
}

/** The `runtime` slot: the merged entries of every layer, later layers winning. */
export interface RuntimeSlotValue {
  readonly entries: Readonly<Record<string, RuntimeEntry>>;
}

export class RuntimeSnapshotImpl implements RuntimeSnapshot {
  readonly #values: ReadonlyMap<string, RuntimeEntry>;

  constructor(values: ReadonlyMap<string, RuntimeEntry>) {
    this.#values = values;
  }

  static fromSlot(value: RuntimeSlotValue): RuntimeSnapshotImpl {
    return new RuntimeSnapshotImpl(new Map(Object.entries(value.entries)));
  }

  get size(): number {
    return this.#values.size;
  }

  entry(key: string): RuntimeEntry | undefined {
    return key === '' ? undefined : this.#values.get(key);
  }

  getInteger(key: string, defaultValue: number): number {
    return this.entry(key)?.uint ?? defaultValue;
  }

  getDouble(key: string, defaultValue: number): number {
    return this.entry(key)?.double ?? defaultValue;
  }

  getBoolean(key: string, defaultValue: boolean): boolean {
    return this.entry(key)?.bool ?? defaultValue;
  }

  get(key: string): string | undefined {
    return this.entry(key)?.raw;
  }

  fractionEnabled(key: string, defaultValue: FractionalPercent, randomValue: number): boolean {
    const e = this.entry(key);
    let percent = defaultValue;
    if (e?.fraction) percent = e.fraction;
    else if (e?.uint !== undefined) {
      // An integer is a percentage (legacy semantics); above 100 it always matches.
      if (e.uint > 100) return true;
      percent = { numerator: e.uint, denominator: 100 };
    }
    return randomValue % percent.denominator < percent.numerator;
  }

  featureEnabled(key: string, defaultValue: number, randomValue: number, buckets = 100): boolean {
    return randomValue % buckets < Math.min(this.getInteger(key, defaultValue), buckets);
  }
}

/** No values: every read returns its default. */
export const EMPTY_RUNTIME_SNAPSHOT = new RuntimeSnapshotImpl(new Map());

/** A loader that never has values (tests, tables compiled without a runtime). */
export const NULL_RUNTIME_LOADER: RuntimeLoader = { snapshot: () => EMPTY_RUNTIME_SNAPSHOT };

/** WORKER: the `runtime` slot's current snapshot (replaced as a whole on each update). */
export class WorkerRuntime implements RuntimeLoader {
  #current: RuntimeSnapshotImpl = EMPTY_RUNTIME_SNAPSHOT;

  snapshot(): RuntimeSnapshotImpl {
    return this.#current;
  }

  apply(value: RuntimeSlotValue): void {
    this.#current = RuntimeSnapshotImpl.fromSlot(value);
  }
}
