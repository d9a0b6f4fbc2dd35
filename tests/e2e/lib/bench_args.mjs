// What the benchmarks (bench.mjs, long_tasks_bench.mjs, cancel_bench.mjs) share: their command-line
// arguments and the medians and numbers of their tables.

/** The value after `name` on the command line (`--runs 3`), or `fallback`. */
export function argument(name, fallback) {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : fallback;
}

/** The median of the finite values (NaN when there is none). */
export function median(values) {
  const sorted = [...values].filter(Number.isFinite).sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `value` to `digits` decimals, or `n/a`. */
export function fmt(value, digits) {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}
