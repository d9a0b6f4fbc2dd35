// The page's main-thread tasks as Chromium's trace records them, with their CPU time: on a loaded
// machine the system alone can keep the main thread off the CPU for longer than a task's work, so
// the CPU time (`tdur`) says how long a task really worked where its wall time (`dur`) does not.

import assert from 'node:assert/strict';

/**
 * The trace's top-level slices of every thread (tasks, and the microtask checkpoints Blink runs
 * after them, where the app's WebAssembly futures run), each with its wall and CPU time, and the
 * page's marks.
 */
export const TRACE_CATEGORIES = ['toplevel', 'blink.user_timing', '__metadata'];

/**
 * The main thread's tasks in a Chromium trace, as `{ start, end, cpu }` in the page's
 * performance.now() milliseconds: the outermost `toplevel` slices of the thread that recorded the
 * page's mark named `markName` at page time `markAt`.
 */
export function mainThreadTasks(trace, markName, markAt) {
  const events = trace.traceEvents ?? trace;
  const mark = events.find((event) => event.name === markName);
  assert.ok(mark, `the trace holds the page's time mark ${markName}`);
  const offsetMs = mark.ts / 1000 - markAt;
  const tasks = events
    .filter((event) => event.ph === 'X' && event.pid === mark.pid && event.tid === mark.tid && event.cat.split(',').includes('toplevel'))
    .map((event) => ({ start: event.ts / 1000 - offsetMs, end: (event.ts + event.dur) / 1000 - offsetMs, cpu: (event.tdur ?? event.dur) / 1000 }))
    .sort((a, b) => a.start - b.start || b.end - a.end);
  // Only the outermost of nested tasks.
  const outer = [];
  for (const task of tasks) {
    const last = outer.at(-1);
    if (last && task.end <= last.end) continue;
    outer.push(task);
  }
  return outer;
}
