// The CPU time the browser's worker threads use, read from /proc (Linux): a busy worker cannot be
// asked whether it is computing, but its thread's CPU time says so. Also the page-side record of
// when a Cancel click took effect, which the cancel test and benchmark read beside it.

import fs from 'node:fs';

/** Whether this system can tell (it has /proc). */
export const CAN_READ_WORKER_CPU = fs.existsSync('/proc/self/task');

/** The parent pid of `pid`, or null. */
function parentPid(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** Whether `pid` descends from this Node process (browsers launched by other processes do not count). */
function isOurs(pid) {
  let current = Number(pid);
  for (let depth = 0; depth < 8 && current > 1; depth += 1) {
    current = parentPid(current);
    if (current === process.pid) return true;
    if (current === null) return false;
  }
  return false;
}

/**
 * CPU time (ms) used so far by each dedicated worker thread (named `DedicatedWorker`) of the
 * renderer processes this Node process launched, by `pid/tid`; null where /proc is not there.
 */
export function workerCpuMs() {
  if (!CAN_READ_WORKER_CPU) return null;
  const byThread = new Map();
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let cmdline = '';
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmdline.includes('--type=renderer') || !isOurs(pid)) continue;
    let tasks = [];
    try {
      tasks = fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        if (!name.startsWith('DedicatedWorker')) continue;
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        // utime and stime, in kernel clock ticks of 10 ms (USER_HZ = 100).
        byThread.set(`${pid}/${tid}`, (Number(fields[11]) + Number(fields[12])) * 10);
      } catch {
        // The thread ended meanwhile.
      }
    }
  }
  return byThread;
}

/** CPU time (ms) the worker threads used between two readings (threads that ended used none since). */
export function cpuBetween(before, after) {
  if (!before || !after) return null;
  let ms = 0;
  for (const [thread, total] of after) ms += total - (before.get(thread) ?? 0);
  return ms;
}

/** Runs in the page before its scripts: records the Cancel click and the status leaving `loading`. */
export function recordCancel() {
  window.__cancel = { clickMs: null, stoppedMs: null, label: null };
  document.addEventListener(
    'click',
    (event) => {
      if (event.target?.closest?.('[data-testid="cancel"]')) {
        window.__cancel.clickMs = performance.now();
        window.__cancel.label = document.querySelector('[data-testid="status"]')?.textContent?.trim() ?? '';
      }
    },
    true,
  );
  new MutationObserver(() => {
    const c = window.__cancel;
    const state = document.querySelector('[data-testid="status"]')?.getAttribute('data-state');
    if (c.clickMs !== null && c.stoppedMs === null && state !== 'loading') c.stoppedMs = performance.now();
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
}
