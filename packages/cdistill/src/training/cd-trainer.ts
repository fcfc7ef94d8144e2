// One consistency-distillation optimizer step, free of global state: the models, the optimizer, the
// RNG and the data-parallel group (if any) are fields; the batch comes from the caller.
//
// Data parallel: the caller passes this rank's share of each global micro-batch; the random draws
// (σ index, noise, guidance weight) are made for the whole global batch on every rank, from the same
// seeded generator, and each rank keeps its rows. So the samples, their noise and the generator state
// do not depend on the world size: W ranks × b/W compute what 1 rank × b computes, up to the order of
// floating-point sums, and a run can resume with another world size.
import * as torch from '@cdistill/torch';

import { cdLoss } from '../diffusion/consistency.js';
import { karrasSigmas, type EdmConfig } from '../diffusion/edm.js';
import { ditDenoiser, type DiT } from '../models/microdit/index.js';
import type { TrainConfig } from './config.js';
import type { DataParallel } from './data-parallel.js';
import type { StepMetrics } from './loop.js';

type Tensor = torch.Tensor;

export interface Models {
  student: DiT;
  teacher: DiT;
  /** EMA target network (targetEma > 0); the student itself otherwise. */
  target?: DiT;
  /** EMA sampling copy (config.ema). */
  ema?: DiT;
}

export class CdTrainer {
  readonly sigmas: number[];
  readonly optimizer: torch.optim.AdamW;
  readonly rng: torch.Generator;
  private readonly lrAt: (step: number) => number;
  private readonly params: Tensor[];

  constructor(
    readonly models: Models,
    readonly cfg: TrainConfig,
    readonly edm: EdmConfig,
    readonly device: string,
    /** The data-parallel group; undefined = one process. */
    readonly dp?: DataParallel,
  ) {
    this.sigmas = karrasSigmas(cfg.numScales, edm);
    this.params = models.student.parameters();
    this.optimizer = new torch.optim.AdamW(this.params, {
      lr: cfg.lr,
      betas: cfg.betas,
      eps: cfg.eps,
      weightDecay: cfg.weightDecay,
    });
    this.lrAt = torch.optim.warmupConstantLinearDecay(cfg.lr, cfg.warmupSteps, cfg.lrDecayFrom ?? cfg.steps, cfg.steps);
    this.rng = new torch.Generator(cfg.seed + 1);
  }

  private autocastDtype(): 'bfloat16' | 'float16' | undefined {
    return this.cfg.precision === 'bf16' ? 'bfloat16' : this.cfg.precision === 'fp16' ? 'float16' : undefined;
  }

  /**
   * 1. for each micro-batch: n ~ U{0..N−1−k}, ε ~ N(0, I); loss = CD loss / accumulation; backward
   * 2. clip the gradient norm; set the learning rate for this step; AdamW
   * 3. move the EMA target and the EMA sampling copy towards the student
   */
  step(step: number, microBatches: { latents: Tensor; text: Tensor }[]): StepMetrics {
    const { student, teacher } = this.models;
    const cfg = this.cfg;
    let lossSum = 0;
    this.optimizer.zeroGrad();
    for (const mb of microBatches) {
      torch.tidy(() => {
        const b = mb.latents.size(0);
        const world = this.dp?.worldSize ?? 1;
        // Drawn for the global batch, this rank's rows kept (see the top of this file).
        const mine = (t: Tensor) => (world === 1 ? t : t.narrow(0, (this.dp?.rank ?? 0) * b, b));
        const x0 = mb.latents.to(this.device);
        const y = mb.text.to(this.device);
        const index = mine(torch.randint(0, cfg.numScales - cfg.skip, [b * world], { generator: this.rng })).to(
          this.device,
        );
        const noise = mine(torch.randn([b * world, ...x0.shape.slice(1)], { generator: this.rng })).to(this.device);
        const w = cfg.guidanceEmbedding
          ? mine(torch.rand([b * world], { generator: this.rng }))
              .mul(cfg.guidanceRange[1] - cfg.guidanceRange[0])
              .add(cfg.guidanceRange[0])
              .to(this.device)
          : undefined;
        const wTeacher = w ?? cfg.guidance;
        const ac = this.autocastDtype();
        const sd = this.edm.sigmaData;
        // The student and its target share one parametrization; the teacher keeps EDM's.
        const boundarySigma = cfg.boundaryCondition ? this.edm.sigmaMin : undefined;
        const terms = torch.autocast({ device: this.device, dtype: ac ?? 'bfloat16', enabled: ac !== undefined }, () =>
          cdLoss(
            ditDenoiser(student, y, sd, { embeddedGuidance: w, boundarySigma }),
            ditDenoiser(this.models.target ?? student, y, sd, { embeddedGuidance: w, boundarySigma }),
            ditDenoiser(teacher, y, sd, { guidance: wTeacher }),
            { latents: x0, noise, index },
            { sigmas: this.sigmas, solver: cfg.teacherSolver, loss: cfg.loss, huberC: cfg.huberC, skip: cfg.skip },
          ),
        );
        const loss = terms.loss.float();
        lossSum += loss.item();
        loss.div(microBatches.length).backward();
      });
    }
    // The mean over ranks of each gradient: the gradient of the global batch's mean loss, since every
    // rank's loss is a mean over an equal share. The norm below is then the global one on every rank.
    const loss = this.dp
      ? this.dp.averageGradients(this.params, lossSum / microBatches.length, step)
      : lossSum / microBatches.length;
    const gradNorm = torch.optim.clipGradNorm(this.params, cfg.gradClip);
    const lr = this.lrAt(step);
    this.optimizer.lr = lr;
    this.optimizer.step();
    this.optimizer.zeroGrad();
    const studentParams = this.params;
    if (this.models.target && cfg.targetEma > 0)
      torch.optim.lerpParameters(this.models.target.parameters(), studentParams, 1 - cfg.targetEma);
    if (this.models.ema && cfg.ema !== undefined)
      torch.optim.lerpParameters(this.models.ema.parameters(), studentParams, 1 - cfg.ema);
    return { loss, gradNorm, lr };
  }
}
