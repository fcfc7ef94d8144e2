// Feature sets as the metrics take them: [N, D] tensors, moved to float64 on the CPU so that every
// statistic is computed at one precision wherever the features were made (bf16 on CUDA, fp32 on CPU).
import type { Tensor } from '@cdistill/torch';

/** `x` [N, D] as float64 on the CPU; throws, naming `what`, unless it is 2-D with at least `minRows` rows. */
export function asFeatures(x: Tensor, what: string, minRows: number): Tensor {
  if (x.ndim !== 2) throw new Error(`${what}: features must be [N, D], got [${x.shape.join(', ')}]`);
  if (x.size(0) < minRows) throw new Error(`${what}: needs at least ${minRows} feature rows, got ${x.size(0)}`);
  return x.toOptions({ dtype: 'float64', device: 'cpu' });
}
