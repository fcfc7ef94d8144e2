/**
 * The dtype vocabulary shared by the whole project, and its mapping to the
 * codes used inside safetensors headers.
 *
 * Names follow PyTorch's canonical spelling (`torch.float32` → 'float32') so
 * that error messages read naturally to people coming from Python.
 */

export type DType =
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'float64'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

/** The subset of safetensors dtype codes that map onto {@link DType}. */
export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** All supported dtypes, in a stable order (useful for iteration in tests and messages). */
export const DTYPES: readonly DType[] = Object.freeze([
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
]);

/** Bytes per element. `bool` is one byte in both torch and safetensors. */
export const DTYPE_BYTE_SIZE: Readonly<Record<DType, number>> = Object.freeze({
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
});

const TO_SAFETENSORS: Readonly<Record<DType, SafetensorsDType>> = Object.freeze({
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
});

// A Map rather than an object literal so that lookups of hostile header
// strings such as "__proto__" or "constructor" can never hit Object.prototype.
const FROM_SAFETENSORS: ReadonlyMap<string, DType> = new Map(
  (Object.entries(TO_SAFETENSORS) as [DType, SafetensorsDType][]).map(([d, code]) => [code, d]),
);

const DTYPE_SET: ReadonlySet<string> = new Set(DTYPES);

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && DTYPE_SET.has(value);
}

export function dtypeByteSize(dtype: DType): number {
  return DTYPE_BYTE_SIZE[dtype];
}

export function dtypeToSafetensors(dtype: DType): SafetensorsDType {
  return TO_SAFETENSORS[dtype];
}

/** Returns undefined for codes we do not support (e.g. 'F8_E4M3', 'U16'); callers word the error. */
export function dtypeFromSafetensors(code: string): DType | undefined {
  return FROM_SAFETENSORS.get(code);
}
