// One step of teacher training: the DiT and the text tower learn jointly from (image, caption)
// pairs with the EDM loss; 10% of captions become the zero embedding so that CFG has an
// unconditional model. Free of global state, like CdTrainer.
import * as torch from '@cdistill/torch';

import { edmLoss, type EdmConfig } from '../diffusion/edm.js';
import type { ClipTextEncoder } from '../models/clip/encoder.js';
import type { DiT } from '../models/microdit/index.js';
import type { TeacherConfig } from './teacher-config.js';

type Tensor = torch.Tensor;

export class TeacherTrainer {
  readonly optimizer: torch.optim.AdamW;
  /** The text tower's own optimizer (its lr is lr × textLrScale); absent when the tower is frozen. */
  readonly textOptimizer: torch.optim.AdamW | undefined;
  readonly rng: torch.Generator;
  readonly params: Tensor[];
  private readonly lrAt: (step: number) => number;

  constructor(
    readonly dit: DiT,
    readonly text: ClipTextEncoder,
    readonly ema: { dit: DiT; tower: torch.nn.Module },
    readonly cfg: TeacherConfig,
    readonly edm: EdmConfig,
    readonly device: string,
  ) {
    const ditParams = dit.parameters();
    const textParams = cfg.textLrScale > 0 ? text.tower.parameters() : [];
    if (cfg.textLrScale === 0) text.tower.requiresGrad_(false);
    this.params = [...ditParams, ...textParams];
    this.optimizer = new torch.optim.AdamW(ditParams, { lr: cfg.lr, weightDecay: cfg.weightDecay });
    this.textOptimizer = textParams.length
      ? new torch.optim.AdamW(textParams, { lr: cfg.lr * cfg.textLrScale, weightDecay: cfg.weightDecay })
      : undefined;
    this.lrAt = torch.optim.warmupConstantLinearDecay(cfg.lr, cfg.warmupSteps, cfg.lrDecayFrom, cfg.steps);
    this.rng = new torch.Generator(cfg.seed + 7);
  }

  /**
   * 1. encode captions (with grad), drop some to zero; 2. EDM loss; 3. clip, AdamW; 4. EMA.
   * `posterior(x_σ, σ, kept)`, when given, is the exact E[x₀ | x_σ, caption] to match (kept[i] false: the
   * caption was dropped, so the unconditional mean).
   */
  step(
    step: number,
    x0: Tensor,
    captions: string[],
    posterior?: (xNoisy: Tensor, sigma: Tensor, kept: boolean[]) => Tensor,
  ): { loss: number; gradNorm: number; lr: number } {
    const loss = torch.tidy(() => {
      const ids = this.text.tokenize(captions);
      const y = this.text.tower.forward(ids).unsqueeze(1); // [B, 1, L, D], with grad
      const keep = torch
        .rand([captions.length], { generator: this.rng })
        .ge(this.cfg.captionDropout)
        .to('float32')
        .to(this.device)
        .reshape(-1, 1, 1, 1);
      const yDropped = y.mul(keep);
      const x = x0.to(this.device);
      const kept = posterior
        ? keep
            .flatten()
            .cpu()
            .toArray()
            .map((v) => v > 0)
        : [];
      const l = edmLoss(
        (xIn, cNoise, maskRatio) => this.dit.forward(xIn, cNoise, yDropped, { maskRatio, generator: this.rng }),
        x,
        this.edm,
        {
          generator: this.rng,
          maskRatio: this.cfg.maskRatio,
          patchSize: this.dit.config.patchSize,
          ...(posterior ? { target: (xn: Tensor, sigma: Tensor) => posterior(xn, sigma, kept) } : {}),
        },
      );
      this.optimizer.zeroGrad();
      this.textOptimizer?.zeroGrad();
      l.backward();
      return l.item();
    });
    const gradNorm = torch.optim.clipGradNorm(this.params, this.cfg.gradClip);
    const lr = this.lrAt(step);
    this.optimizer.lr = lr;
    this.optimizer.step();
    this.optimizer.zeroGrad();
    if (this.textOptimizer) {
      this.textOptimizer.lr = lr * this.cfg.textLrScale;
      this.textOptimizer.step();
      this.textOptimizer.zeroGrad();
    }
    torch.optim.lerpParameters(
      [...this.ema.dit.parameters(), ...this.ema.tower.parameters()],
      [...this.dit.parameters(), ...this.text.tower.parameters()],
      1 - this.cfg.ema,
    );
    return { loss, gradNorm, lr };
  }
}
