// Option parsers shared by the commands (commander calls them with the raw string).
import { InvalidArgumentError } from 'commander';

export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got '${v}'`);
  return n;
}
export function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got '${v}'`);
  return n;
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
  return [l[0] as number, l[1] as number];
}
/** Repeatable options collect into an array. */
export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}
