// AdamW (decoupled weight decay), as torch.optim.AdamW with amsgrad off. The per-parameter update
// runs natively over the whole list in one call; the state lives in tensors this class owns.
// float32 CPU parameters get a one-pass kernel (native/adamw_cpu.cc) with the same rounding.
import { zerosLike } from '../factories.js';
import { native, type Handle } from '../native.js';
import { keep } from '../scope.js';
import type { Tensor } from '../tensor.js';

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /**
   * Update float32 CPU parameters in one pass per tensor instead of seven ATen ops (default true).
   * Bit-identical to the op-by-op update: it runs only where a self-check at first use says so.
   */
  fused?: boolean;
}

/** The optimizer's scalars, for checkpoints (tensors are saved separately by `stateTensors`). */
export interface AdamWMeta {
  step: number;
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

export class AdamW {
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly fused: boolean;
  /** Number of steps taken (the bias corrections use it). */
  stepCount = 0;
  private readonly expAvg: Tensor[];
  private readonly expAvgSq: Tensor[];

  constructor(
    readonly params: Tensor[],
    o: AdamWOptions = {},
  ) {
    this.lr = o.lr ?? 1e-3;
    this.betas = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 1e-2;
    this.fused = o.fused ?? true;
    this.expAvg = params.map((p) => keep(zerosLike(p)));
    this.expAvgSq = params.map((p) => keep(zerosLike(p)));
  }

  /** Sets every parameter's gradient to none (PyTorch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    native.zeroGrads(this.handles);
  }

  /** One update of every parameter that has a gradient (read natively: no JS handles per step). */
  step(): void {
    this.stepCount += 1;
    native.adamw(
      this.handles,
      this.expAvg.map((t) => t._h),
      this.expAvgSq.map((t) => t._h),
      this.stepCount,
      this.lr,
      this.betas[0],
      this.betas[1],
      this.eps,
      this.weightDecay,
      this.fused,
    );
  }

  private get handles(): Handle[] {
    return this.params.map((p) => p._h);
  }

  meta(): AdamWMeta {
    return { step: this.stepCount, lr: this.lr, betas: [...this.betas], eps: this.eps, weightDecay: this.weightDecay };
  }
  /** The moment tensors as `exp_avg.<i>` and `exp_avg_sq.<i>` (i = parameter index). */
  stateTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [i, t] of this.expAvg.entries()) out.set(`exp_avg.${i}`, t);
    for (const [i, t] of this.expAvgSq.entries()) out.set(`exp_avg_sq.${i}`, t);
    return out;
  }
  /** Restores what `meta` and `stateTensors` saved; every tensor must be present with its shape. */
  loadState(meta: AdamWMeta, tensors: Map<string, Tensor>): void {
    const problems: string[] = [];
    const restore = (list: Tensor[], prefix: string) =>
      list.forEach((t, i) => {
        const src = tensors.get(`${prefix}.${i}`);
        if (src === undefined) problems.push(`missing ${prefix}.${i}`);
        else if (src.numel !== t.numel) problems.push(`${prefix}.${i}: ${src.numel} elements, expected ${t.numel}`);
        else native.copyAll([t._h], [src.reshape([...t.shape])._h]);
      });
    restore(this.expAvg, 'exp_avg');
    restore(this.expAvgSq, 'exp_avg_sq');
    if (problems.length > 0) throw new Error(`AdamW.loadState: ${problems.join('; ')}`);
    this.stepCount = meta.step;
    this.lr = meta.lr;
  }
  dispose(): void {
    for (const t of [...this.expAvg, ...this.expAvgSq]) t.dispose();
  }
}

/** Whether AdamW's one-pass float32 CPU kernel passed its self-check on this machine (else the ops run). */
export function fusedAdamWAvailable(): boolean {
  return native.adamwFusedCpuAvailable();
}
