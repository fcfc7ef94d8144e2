// Consistency-distillation run configuration. The defaults are the seed's recipe exactly (Karras N 50,
// Euler teacher step with CFG 5, stop-grad target, pseudo-Huber c 0.001, AdamW 1e-5 after 100 warmup
// steps, clip 1, batch 2 × 4, 10,000 steps; README "The real model"); every value can be overridden from a JSON file or a flag, and the resolved config is
// written to RUN_DIR/config.json.
import { z } from 'zod';

import { AdamWMetaSchema } from './checkpoint.js';

/** The options as fields (for flags: one per key); TrainConfigSchema adds the checks across fields. */
export const TrainOptionsSchema = z
  .object({
    /** Karras discretisation size N (σmax → σmin, ρ = 7). */
    numScales: z.number().int().min(2).default(50),
    guidance: z.number().default(5.0),
    teacherSolver: z.enum(['euler', 'heun']).default('euler'),
    /** EMA decay μ of the target network; 0 = the student itself without gradient (the seed). */
    targetEma: z.number().min(0).max(1).default(0),
    /** EMA decay of a sampling copy of the student; undefined = none. */
    ema: z.number().min(0).max(1).optional(),
    /** Skip-step k: the teacher jumps k Karras levels. */
    skip: z.number().int().min(1).default(1),
    /**
     * The consistency-model boundary parametrization (c_skip(σ_min) = 1, c_out(σ_min) = 0, as
     * openai/consistency_models): the student is D(x, σ_min) = x by construction. The seed does not apply it.
     */
    boundaryCondition: z.boolean().default(false),
    loss: z.enum(['huber', 'l2']).default('huber'),
    huberC: z.number().positive().default(0.001),
    lr: z.number().positive().default(1e-5),
    betas: z
      .tuple([
        z.number().min(0, 'each beta must be in [0, 1)').lt(1, 'each beta must be in [0, 1)'),
        z.number().min(0, 'each beta must be in [0, 1)').lt(1, 'each beta must be in [0, 1)'),
      ])
      .default([0.9, 0.999]),
    eps: z.number().positive().default(1e-8),
    /** torch.optim.AdamW's default, which the seed keeps (it passes no weight_decay). */
    weightDecay: z.number().min(0).default(0.01),
    warmupSteps: z.number().int().min(0).default(100),
    /**
     * From this step the learning rate falls linearly to 0 at the last step; undefined = constant after
     * warmup (the seed). A constant rate keeps moving the low-σ end late in a long run (docs/demo.md,
     * "Distilled longer").
     */
    lrDecayFrom: z.number().int().min(0).optional(),
    gradClip: z.number().positive().default(1.0),
    batchSize: z.number().int().positive().default(2),
    gradAccumulation: z.number().int().positive().default(4),
    steps: z.number().int().positive().default(10_000),
    seed: z.number().int().min(0).default(0),
    validateEvery: z.number().int().positive().default(500),
    checkpointEvery: z.number().int().positive().default(1000),
    validationPrompts: z.array(z.string().min(1)).optional(),
    validationSteps: z.number().int().positive().default(4),
    /** LCM-style w-conditioning: the student learns one model for guidance weights in this range. */
    guidanceEmbedding: z.boolean().default(false),
    guidanceRange: z.tuple([z.number(), z.number()]).default([2, 8]),
    /** Mixed precision on CUDA (fp32 on CPU regardless). */
    precision: z.enum(['bf16', 'fp16', 'fp32']).default('bf16'),
    teacherDtype: z.enum(['bfloat16', 'float16', 'float32']).default('bfloat16'),
  })
  .strict();

export const TrainConfigSchema = TrainOptionsSchema.superRefine((c, ctx) => {
  if (c.skip >= c.numScales) {
    ctx.addIssue({
      code: 'custom',
      path: ['skip'],
      message: `must be smaller than numScales (skip ${c.skip}, N = ${c.numScales}): the teacher steps from σ[n] to σ[n + skip] among N levels`,
    });
  }
  if (c.guidanceRange[0] > c.guidanceRange[1]) {
    ctx.addIssue({
      code: 'custom',
      path: ['guidanceRange'],
      message: `the lower end ${c.guidanceRange[0]} is above the upper end ${c.guidanceRange[1]}`,
    });
  }
});

export type TrainConfig = z.infer<typeof TrainConfigSchema>;

export function defaultTrainConfig(): TrainConfig {
  return TrainConfigSchema.parse({});
}

/** The config a CD run records in RUN_DIR/config.json and in every checkpoint: the options plus what they ran on. */
export const ResolvedTrainConfigSchema = TrainOptionsSchema.extend({
  model: z.string(),
  data: z.string(),
  device: z.string(),
}).strict();
export type ResolvedTrainConfig = z.infer<typeof ResolvedTrainConfigSchema>;

/** state.json of a CD checkpoint: the step, the data sampler's position, the optimizer's scalars, the run's config. */
export const CdCheckpointStateSchema = z
  .object({
    step: z.number().int().nonnegative(),
    sampler: z.object({ epoch: z.number().int().nonnegative(), offset: z.number().int().nonnegative() }).strict(),
    optimizer: AdamWMetaSchema,
    config: ResolvedTrainConfigSchema,
    /** How many ranks wrote it (absent before data parallelism: 1); a resume may use another number. */
    worldSize: z.number().int().positive().optional(),
  })
  .strict();
