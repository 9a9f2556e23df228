/**
 * Earliest-deadline-first scheduling over host indices, in the spirit of Envoy's edf_scheduler.h.
 * Every scheduled index has a weight and a deadline. A pick takes the index with the earliest
 * deadline and moves its deadline on by 1/weight. Over time each index is picked in proportion
 * to its weight, and the turns are interleaved rather than bunched.
 *
 * - Exact deadlines: while an entry keeps its weight, its deadline is computed rather than
 *   accumulated. After `k` turns it is due at join + (k + 1) / weight, where `join` is the clock
 *   when it joined. Float error cannot build up, and equal rational deadlines compare equal.
 * - Deterministic ties: a tie goes to the lower sequence number. An entry takes the next number
 *   when it joins (add, pickAndAdd) and keeps it while it takes turns at the same weight (pick).
 *   Ties are therefore first come, first served, and never depend on the heap layout.
 * - No allocation on the pick path: every array is sized once, in the constructor.
 */

// Deadlines only grow; rebasing them towards zero keeps small 1/weight steps representable.
const REBASE_THRESHOLD = 2 ** 20;

export class EdfScheduler {
  private readonly heap: Int32Array;
  private readonly deadlines: Float64Array;
  private readonly sequences: Float64Array;
  private readonly joined: Float64Array;
  private readonly weights: Float64Array;
  private readonly turns: Float64Array;
  private count = 0;
  /** Deadline of the most recent pick; entries join the schedule at this time. */
  private clock = 0;
  private nextSequence = 0;
  private picksSinceRebase = 0;

  /** Indices must be in [0, capacity). */
  constructor(capacity: number) {
    this.heap = new Int32Array(capacity);
    this.deadlines = new Float64Array(capacity);
    this.sequences = new Float64Array(capacity);
    this.joined = new Float64Array(capacity);
    this.weights = new Float64Array(capacity);
    this.turns = new Float64Array(capacity);
  }

  /** How many indices are scheduled. */
  get size(): number {
    return this.count;
  }

  /** Empties the schedule and sets the clock back to 0. */
  clear(): void {
    this.count = 0;
    this.clock = 0;
    this.nextSequence = 0;
    this.picksSinceRebase = 0;
  }

  /**
   * Schedules `index`, which must not already be scheduled, with `weight` > 0. It joins at the
   * current clock as if it had already taken `turnsTaken` turns, so it is due at
   * clock + (turnsTaken + 1) / weight.
   */
  add(index: number, weight: number, turnsTaken = 0): void {
    this.joined[index] = this.clock;
    this.weights[index] = weight;
    this.turns[index] = turnsTaken;
    this.deadlines[index] = this.clock + (turnsTaken + 1) / weight;
    this.sequences[index] = this.nextSequence++;
    this.heap[this.count] = index;
    this.siftUp(this.count++);
  }

  /** The index that the next pick will return, or -1 when the schedule is empty. */
  peek(): number {
    return this.count > 0 ? this.heap[0]! : -1;
  }

  /** Turns that `index` has taken since it last joined, including the `turnsTaken` it joined with. */
  turnsTaken(index: number): number {
    return this.turns[index]!;
  }

  /**
   * Picks the earliest index and schedules its next turn at the same weight. It keeps its
   * sequence number. Returns -1 when the schedule is empty.
   */
  pick(): number {
    if (this.count === 0) return -1;
    const i = this.heap[0]!;
    const now = this.deadlines[i]!;
    const taken = this.turns[i]! + 1;
    this.turns[i] = taken;
    this.deadlines[i] = this.joined[i]! + (taken + 1) / this.weights[i]!;
    this.siftDown(0);
    this.advanceClock(now);
    return i;
  }

  /**
   * Picks the earliest index and adds it back with `weight`, due at now + 1 / weight. It takes
   * a new sequence number, so it goes behind every entry already due at the same time. Returns
   * -1 when the schedule is empty. This is Envoy's pickAndAdd.
   */
  pickAndAdd(weight: number): number {
    if (this.count === 0) return -1;
    const i = this.heap[0]!;
    const now = this.deadlines[i]!;
    this.joined[i] = now;
    this.weights[i] = weight;
    this.turns[i] = 0;
    this.deadlines[i] = now + 1 / weight;
    this.sequences[i] = this.nextSequence++;
    this.siftDown(0);
    this.advanceClock(now);
    return i;
  }

  /** Picks the earliest index and drops it from the schedule. Returns -1 when the schedule is empty. */
  pickAndRemove(): number {
    if (this.count === 0) return -1;
    const i = this.heap[0]!;
    const now = this.deadlines[i]!;
    if (--this.count > 0) {
      this.heap[0] = this.heap[this.count]!;
      this.siftDown(0);
    }
    this.advanceClock(now);
    return i;
  }

  private advanceClock(now: number): void {
    this.clock = now;
    // Rebasing is O(size). Requiring `size` picks between rebases keeps it O(1) amortized.
    if (now > REBASE_THRESHOLD && ++this.picksSinceRebase >= this.count) {
      for (let k = 0; k < this.count; k++) {
        const j = this.heap[k]!;
        this.deadlines[j] = this.deadlines[j]! - now;
        this.joined[j] = this.joined[j]! - now;
      }
      this.clock = 0;
      this.picksSinceRebase = 0;
    }
  }

  /** Earlier deadline first; on a tie, the lower sequence number. */
  private before(a: number, b: number): boolean {
    const da = this.deadlines[a]!;
    const db = this.deadlines[b]!;
    return da < db || (da === db && this.sequences[a]! < this.sequences[b]!);
  }

  private siftUp(pos: number): void {
    const heap = this.heap;
    const item = heap[pos]!;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      if (!this.before(item, heap[parent]!)) break;
      heap[pos] = heap[parent]!;
      pos = parent;
    }
    heap[pos] = item;
  }

  private siftDown(pos: number): void {
    const heap = this.heap;
    const size = this.count;
    const item = heap[pos]!;
    for (;;) {
      let child = 2 * pos + 1;
      if (child >= size) break;
      if (child + 1 < size && this.before(heap[child + 1]!, heap[child]!)) child++;
      if (!this.before(heap[child]!, item)) break;
      heap[pos] = heap[child]!;
      pos = child;
    }
    heap[pos] = item;
  }
}
