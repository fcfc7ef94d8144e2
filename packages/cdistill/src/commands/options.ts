// Option parsers shared by the commands (commander calls them with the raw string).
import { InvalidArgumentError, Option } from 'commander';
import { checkDevice, defaultDevice } from '@cdistill/torch';

// Integers beyond 2^53 − 1 are not exact in JavaScript (1e30 "is" an integer): refuse them by name.
export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError(`expected a positive integer up to ${Number.MAX_SAFE_INTEGER}, got '${v}'`);
  return n;
}
export function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError(`expected a non-negative integer up to ${Number.MAX_SAFE_INTEGER}, got '${v}'`);
  return n;
}
/** cpu, cuda, cuda:N, checked against this libtorch and machine before any file is written. */
export function device(v: string): string {
  try {
    return checkDevice(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.slice(`--device ${v}: `.length));
  }
}
/**
 * A model dtype on a device: libtorch's CPU kernels have no float16 LayerNorm (1.13), so float16 on
 * the CPU would fail mid-run; it is refused up front.
 */
export function checkDtypeOnDevice(dtype: string, dev: string): void {
  if (dtype === 'float16' && dev === 'cpu') {
    throw new Error(
      "--dtype float16: libtorch's CPU kernels have no float16 LayerNorm; use --dtype bfloat16 or float32 on the CPU, or --device cuda",
    );
  }
}
export function finiteNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got '${v}'`);
  return n;
}
export function intList(v: string): number[] {
  const parts = v.split(',').map((s) => positiveInt(s.trim()));
  if (parts.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of integers, got '${v}'`);
  return parts;
}
export function numberList(v: string): number[] {
  return v.split(',').map((s) => finiteNumber(s.trim()));
}
export function numberPair(v: string): [number, number] {
  const l = numberList(v);
  if (l.length !== 2) throw new InvalidArgumentError(`expected two comma-separated numbers, got '${v}'`);
  return [l[0]!, l[1]!];
}
/** A comma-separated list whose every entry is one of `choices` ('all' = every one, in their order). */
export function choiceList<T extends string>(choices: readonly T[]): (v: string) => T[] {
  return (v) => {
    if (v.trim() === 'all') return [...choices];
    const parts = v.split(',').map((s) => s.trim());
    for (const p of parts)
      if (!choices.includes(p as T))
        throw new InvalidArgumentError(`'${p}' is not one of ${choices.join(', ')} (or 'all')`);
    return parts as T[];
  };
}
/** Repeatable options collect into an array. */
export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** --device, shared by every command: checked as it is parsed. */
export const deviceOption = (): Option =>
  new Option('--device <device>', 'cpu, cuda or cuda:N').default(defaultDevice()).argParser(device);
