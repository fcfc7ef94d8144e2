// One consistency-distillation optimizer step, free of global state (so a data-parallel wrapper can
// drop in): the models, the optimizer and the RNG are fields; the batch comes from the caller.
import * as torch from '@cdistill/torch';

import { cdLoss } from '../diffusion/consistency.js';
import { karrasSigmas, type EdmConfig } from '../diffusion/edm.js';
import { ditDenoiser, type DiT } from '../models/microdit/index.js';
import type { TrainConfig } from './config.js';
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
  ) {
    this.sigmas = karrasSigmas(cfg.numScales, edm);
    this.params = models.student.parameters();
    this.optimizer = new torch.optim.AdamW(this.params, {
      lr: cfg.lr,
      betas: cfg.betas,
      eps: cfg.eps,
      weightDecay: cfg.weightDecay,
    });
    this.lrAt = torch.optim.warmupConstant(cfg.lr, cfg.warmupSteps);
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
        const x0 = mb.latents.to(this.device);
        const y = mb.text.to(this.device);
        const index = torch.randint(0, cfg.numScales - cfg.skip, [b], { generator: this.rng }).to(this.device);
        const noise = torch.randn([...x0.shape], { generator: this.rng }).to(this.device);
        const w = cfg.guidanceEmbedding
          ? torch
              .rand([b], { generator: this.rng })
              .mul(cfg.guidanceRange[1] - cfg.guidanceRange[0])
              .add(cfg.guidanceRange[0])
              .to(this.device)
          : undefined;
        const wTeacher = w ?? cfg.guidance;
        const ac = this.autocastDtype();
        const sd = this.edm.sigmaData;
        const terms = torch.autocast({ device: this.device, dtype: ac ?? 'bfloat16', enabled: ac !== undefined }, () =>
          cdLoss(
            ditDenoiser(student, y, sd, { embeddedGuidance: w }),
            ditDenoiser(this.models.target ?? student, y, sd, { embeddedGuidance: w }),
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
    return { loss: lossSum / microBatches.length, gradNorm, lr };
  }
}
