// What every parity case reports: one line per compared output.
import type * as torch from '@cdistill/torch';

export interface ParityCheck {
  /** e.g. "microdit_small float32 out.heun_steps6_cfg5" */
  check: string;
  relErr: number;
  tol: number;
  pass: boolean;
}

/** The reference README's measure: ‖ours − ref‖₂ / ‖ref‖₂, computed in float64. */
export function relativeError(ours: torch.Tensor, ref: torch.Tensor): number {
  const a = ours.to('float64');
  const b = ref.to('float64');
  if (a.shape.join() !== b.shape.join()) throw new Error(`shape [${a.shape.join(', ')}] vs reference [${b.shape.join(', ')}]`);
  const den = b.norm().item();
  return a.sub(b).norm().item() / (den === 0 ? 1 : den);
}

/** float32 ≤ 1e-4, float64 ≤ 1e-6 (reference/README.md). */
export function toleranceFor(dtype: torch.DType): number {
  return dtype === 'float64' ? 1e-6 : 1e-4;
}

export function check(name: string, ours: torch.Tensor, ref: torch.Tensor, tol: number): ParityCheck {
  const relErr = relativeError(ours, ref);
  return { check: name, relErr, tol, pass: relErr <= tol };
}
