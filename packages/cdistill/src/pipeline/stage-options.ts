// The defaults of the generate and bench stages, written once: `cdistill generate` / `cdistill bench`
// take their flag defaults from these schemas, and the pipeline config validates its `generate` and
// `bench` blocks with them (the seed's values: seed 2024, 30 Heun steps with CFG 5 from the manifest,
// PartiPrompts' first 200 prompts at 4 steps in batches of 4).
import { z } from 'zod';

import { PARTI_PROMPTS } from '../assets.js';
import { DEFAULT_CLIP } from '../models/clip/clip-source.js';

export const GenerateStageSchema = z
  .object({
    /** Teacher steps and CFG weight; default: the model manifest's sampling block (else 30 and 5). */
    steps: z.number().int().positive().optional(),
    guidance: z.number().optional(),
    seed: z.number().int().min(0).default(2024),
    batch: z.number().int().positive().default(16),
    solver: z.enum(['heun', 'euler']).default('heun'),
  })
  .strict();

export const BenchStageSchema = z
  .object({
    tsv: z.string().default(PARTI_PROMPTS),
    n: z.number().int().positive().default(200),
    steps: z.number().int().min(1).max(8).default(4),
    batch: z.number().int().positive().default(4),
    seed: z.number().int().min(0).default(2024),
    /** Also the teacher on the same prompts and noise (the comparison the report leads with). */
    teacher: z.boolean().default(true),
    teacherSteps: z.number().int().positive().default(30),
    teacherGuidance: z.number().default(5),
    /** CLIP score, and CLIP-feature FD/KID of the student against the teacher (pipeline/bench-metrics.ts). */
    metrics: z.boolean().default(false),
    /** The CLIP for the metrics: a folder with open_clip_config.json, or an hf:// repository. */
    clip: z.string().default(DEFAULT_CLIP),
    /** Images per CLIP forward pass. */
    metricsBatch: z.number().int().positive().default(16),
    /** FID Inception weights (pytorch-fid's pt_inception-2015-12-05-6726825d.pth): also FID/KID on its features. */
    inception: z.string().optional(),
  })
  .strict();

export const GENERATE_DEFAULTS = GenerateStageSchema.parse({});
export const BENCH_DEFAULTS = BenchStageSchema.parse({});
