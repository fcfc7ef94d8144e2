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
  const a = ours.toOptions({ dtype: 'float64', device: 'cpu' });
  const b = ref.toOptions({ dtype: 'float64', device: 'cpu' });
  if (a.shape.join() !== b.shape.join())
    throw new Error(`shape [${a.shape.join(', ')}] vs reference [${b.shape.join(', ')}]`);
  const den = b.norm().item();
  const err = a.sub(b).norm().item() / (den === 0 ? 1 : den);
  for (const t of [a, b]) if (t !== ours && t !== ref) t.dispose();
  return err;
}

/** float32 ≤ 1e-4, float64 ≤ 1e-6 (reference/README.md). */
export function toleranceFor(dtype: torch.DType): number {
  return dtype === 'float64' ? 1e-6 : 1e-4;
}

export function check(name: string, ours: torch.Tensor, ref: torch.Tensor, tol: number): ParityCheck {
  const relErr = relativeError(ours, ref);
  return { check: name, relErr, tol, pass: relErr <= tol };
}
