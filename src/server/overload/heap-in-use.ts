/**
 * The heap in use by this process as the fixed_heap monitor counts it: V8's heapUsed plus
 * `external` (memory of Buffers and other objects outside the V8 heap; a proxy's data lives
 * there). Envoy counts what tcmalloc has handed out; these two are Node's nearest equivalent.
 * Any process (main reads its own; workers report theirs).
 */
export function heapInUse(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}
