/**
 * The dtype vocabulary (from ../dtype.ts, the one source) and its mapping to the codes used inside
 * safetensors headers. Names follow PyTorch's spelling (`torch.float32` → 'float32').
 */
import { BYTES_PER_ELEMENT, DTYPES, isDType, type DType } from '../dtype.js';

export { DTYPES, isDType, type DType };

/** The subset of safetensors dtype codes that map onto {@link DType}. */
export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Bytes per element. `bool` is one byte in both torch and safetensors. */
export const DTYPE_BYTE_SIZE: Readonly<Record<DType, number>> = BYTES_PER_ELEMENT;

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
