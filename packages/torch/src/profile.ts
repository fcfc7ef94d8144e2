// Where the time goes, op by op: `profileOps` runs a function with a RecordFunction observer on (the
// hook torch.profiler is built on; native/op_profile.cc) and returns every op's call count and time,
// autograd's backward nodes and the ops they run included. The names are ATen's, as Python's
// torch.profiler prints them, so the two sides of a benchmark compare op by op.
import { native } from './native.js';

let profiling = false;

export interface OpTime {
  /** ATen's name (aten::mm), or an autograd node's (MmBackward0, autograd::engine::evaluate_function: …). */
  name: string;
  calls: number;
  /** Time inside the op but not inside an op it called, µs. */
  selfUs: number;
  /** Time inside the op, µs (an op that calls itself, as dispatch layers do, counts once per level). */
  totalUs: number;
}

/**
 * Runs `fn` (synchronous) and returns its result and the time per op name, largest self time first.
 * The observer costs a few hundred nanoseconds per op: compare large ops, not microsecond ones.
 */
export function profileOps<T>(fn: () => T): { result: T; ops: OpTime[] } {
  if (profiling) throw new Error('profileOps: already profiling on this thread');
  native.opProfileStart();
  profiling = true;
  let rows: [string, number, number, number][] | undefined;
  try {
    const result = fn();
    if (result instanceof Promise) throw new Error('profileOps: the function must be synchronous');
    rows = native.opProfileStop();
    const ops = rows
      .map(([name, calls, selfNs, totalNs]) => ({ name, calls, selfUs: selfNs / 1e3, totalUs: totalNs / 1e3 }))
      .sort((a, b) => b.selfUs - a.selfUs);
    return { result, ops };
  } finally {
    if (rows === undefined) native.opProfileStop();
    profiling = false;
  }
}
