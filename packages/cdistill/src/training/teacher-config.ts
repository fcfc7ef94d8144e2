// Options of `cdistill train-teacher`: micro_diffusion's EDM objective (log-normal σ, P_mean −0.6,
// P_std 1.2, weight (σ² + σd²)/(σ·σd)²) with caption dropout for CFG, and optional patch masking.
import { z } from 'zod';

import { AdamWMetaSchema } from './checkpoint.js';

export const TeacherConfigSchema = z
  .object({
    steps: z.number().int().positive().default(5000),
    batchSize: z.number().int().positive().default(32),
    /** 1e-3 (with the text tower at 0.1×) reached colour 100% and position 83% in 2,500 steps on the shapes world. */
    lr: z.number().positive().default(1e-3),
    weightDecay: z.number().min(0).default(0),
    warmupSteps: z.number().int().min(0).default(200),
    gradClip: z.number().positive().default(1.0),
    /** EMA decay of the exported weights (diffusion models sample much better from an EMA). */
    ema: z.number().min(0).max(1).default(0.999),
    /** Share of captions replaced by the zero embedding (the unconditional model CFG needs). */
    captionDropout: z.number().min(0).max(1).default(0.1),
    /** Patch masking ratio (micro_diffusion's cheap-training trick); 0 = off. */
    maskRatio: z.number().min(0).max(0.95).default(0),
    seed: z.number().int().min(0).default(0),
    checkpointEvery: z.number().int().positive().default(500),
    /**
     * Log-normal σ of the loss, overriding the model's (micro_diffusion: −0.6, 1.2). A world whose
     * captions fix the image needs more training at high σ, where the caption decides everything.
     */
    pMean: z.number().optional(),
    pStd: z.number().positive().optional(),
    /**
     * The text tower's learning rate as a multiple of `lr`; 0 freezes it at its seeded random init.
     * Trained from scratch at the DiT's rate, the tower collapses: while the DiT cannot yet use the
     * caption, the loss falls fastest by making every caption embed alike ("left" and "right" captions
     * ended 8% apart at 1×). At 0.1× they drift together more slowly, and part again once the DiT
     * starts to use them (step ~2,000 on the shapes world).
     */
    textLrScale: z.number().min(0).default(0.1),
    /**
     * What the denoiser learns to match: 'posterior-mean', the world's exact E[x₀ | x_σ, caption]
     * (worlds/shapes/posterior.ts; same minimiser, no target noise), or 'sample', the x₀ the batch was
     * noised from (the plain EDM loss, all a world without a closed form could use).
     */
    target: z.enum(['posterior-mean', 'sample']).default('posterior-mean'),
    /**
     * A curriculum for the shapes world: before this step every caption names all five attributes (the
     * closed world, where a caption fixes its image and conditioning is learned fastest), from it on
     * captions leave attributes open as the world defines (NAME_PROBABILITY). Measured: from the start
     * with open captions, a teacher had learned colour but not position after 12,000 steps, and one
     * trained against the posterior mean had learned neither after 3,500; the closed world learns all
     * five attributes in ~4,000 steps (docs/demo.md). The bundled teacher opened at 3,000, when colour,
     * size and background were learned and position and shape were forming.
     */
    openCaptionsFrom: z.number().int().min(0).default(3000),
    /**
     * From this step to the last the learning rate falls linearly to 0 (before it: warmup, then
     * constant). Steps before it are unchanged, so a run extended with a decay phase is the same as one
     * run with this option from the start. The decay is what turns blotchy, speckled shapes into clean
     * ones: the bundled teacher's last 1,500 steps. Past the last step (a short run): no decay.
     */
    lrDecayFrom: z.number().int().min(0).default(3500),
    /** Which weights the exported teacher gets: the EMA (default) or the last raw weights. */
    exportWeights: z.enum(['ema', 'raw']).default('ema'),
  })
  .strict();

export type TeacherConfig = z.infer<typeof TeacherConfigSchema>;

/** state.json of a teacher checkpoint: the step, the options that must match to resume, the optimizers' scalars. */
export const TeacherCheckpointStateSchema = z
  .object({
    step: z.number().int().nonnegative(),
    config: z.record(z.unknown()),
    optimizer: AdamWMetaSchema,
    textOptimizer: AdamWMetaSchema.optional(),
  })
  .strict();

/** train-teacher.json of an exported teacher: the steps it was trained for and the options it was trained with. */
export const TeacherExportInfoSchema = z
  .object({ steps: z.number().int().nonnegative(), config: z.record(z.unknown()) })
  .passthrough();
