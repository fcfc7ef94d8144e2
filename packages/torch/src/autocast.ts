// Mixed precision: inside `autocast`, CUDA matmuls and convolutions run in bf16/fp16 with fp32
// accumulation where PyTorch's autocast lists say so. On CPU it is a no-op by design (CPU training
// stays fp32), so code written for both devices needs no branches.
import { dtypeCode, type DType } from './dtype.js';
import { native } from './native.js';

export interface AutocastOptions {
  device: string;
  dtype?: Extract<DType, 'bfloat16' | 'float16'>;
  enabled?: boolean;
}

export function autocast<T>(o: AutocastOptions, fn: () => T): T {
  const onCuda = o.device.startsWith('cuda');
  if (!onCuda || o.enabled === false) return fn();
  const code = dtypeCode(o.dtype ?? 'bfloat16');
  const before = native.setAutocast('cuda', true, code);
  try {
    const result = fn();
    if (result instanceof Promise) throw new Error('autocast: the function must be synchronous');
    return result;
  } finally {
    native.setAutocast('cuda', before, code);
  }
}
