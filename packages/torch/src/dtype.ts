// Element types. The order of DTYPES is the native code of each (see native/handle.cc kDTypes).

export const DTYPES = [
  'float32',
  'float16',
  'bfloat16',
  'float64',
  'int64',
  'int32',
  'int16',
  'int8',
  'uint8',
  'bool',
] as const;
export type DType = (typeof DTYPES)[number];

const CODES = new Map<DType, number>(DTYPES.map((d, i) => [d, i]));

export function dtypeCode(d: DType): number {
  const code = CODES.get(d);
  if (code === undefined) throw new Error(`unknown dtype '${String(d)}' (known: ${DTYPES.join(', ')})`);
  return code;
}

export function dtypeFromCode(code: number): DType {
  const d = DTYPES[code];
  if (d === undefined) throw new Error(`native dtype code ${code} has no TypeScript name`);
  return d;
}

export const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

const NAMES: ReadonlySet<string> = new Set(DTYPES);
export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && NAMES.has(value);
}

export function isFloating(d: DType): boolean {
  return d === 'float32' || d === 'float16' || d === 'bfloat16' || d === 'float64';
}
