// `cdistill demo` (= `npm run demo`): the whole system on the embedded default, with no downloads and
// no GPU. The bundled shapes teacher makes a dataset, a student is consistency-distilled from it,
// every sampler is scored by reading its images back into attributes, and one folder gets
// report.html and metrics.json.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as torch from '@cdistill/torch';

import { writePromptList } from '../data/prompts.js';
import { MANIFEST_FILE, readManifest } from '../models/manifest.js';
import { generateDataset } from '../pipeline/generate.js';
import { tile, writeRgbPng } from '../pipeline/images.js';
import { writeReport } from '../pipeline/report.js';
import { grid } from '../pipeline/sample.js';
import { loadStudent } from '../pipeline/student.js';
import { train } from '../pipeline/train.js';
import { TrainConfigSchema, type TrainConfig } from '../training/config.js';
import { writeJsonAtomic } from '../util/fs.js';
import { renderToTensor, samplePrompts, shapesTeacherManifest } from '../worlds/shapes/index.js';
import { evaluate, type EvalSet, type SamplerEval, type SamplerName } from './evaluate.js';

/** The bundled teacher (trained by `cdistill train-teacher`, see README). */
export const BUNDLED_TEACHER = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'teachers', 'shapes');

export interface DemoSize {
  dataPrompts: number;
  generateSteps: number;
  evalTrainPrompts: number;
  evalHeldOutPrompts: number;
  batch: number;
  /** The demo's tuned distillation (the real-model defaults stay the seed's recipe). */
  distill: Partial<TrainConfig>;
}

export const DEMO_FULL: DemoSize = {
  dataPrompts: 256,
  generateSteps: 30,
  evalTrainPrompts: 64,
  evalHeldOutPrompts: 32,
  batch: 64,
  distill: { numScales: 18, targetEma: 0.95, lr: 2e-5, warmupSteps: 20, steps: 250, batchSize: 32, gradAccumulation: 1, checkpointEvery: 50, validateEvery: 50, precision: 'fp32' },
};

export const DEMO_QUICK: DemoSize = {
  dataPrompts: 8,
  generateSteps: 4,
  evalTrainPrompts: 6,
  evalHeldOutPrompts: 2,
  batch: 8,
  distill: { numScales: 18, targetEma: 0.95, lr: 5e-5, warmupSteps: 1, steps: 3, batchSize: 4, gradAccumulation: 1, checkpointEvery: 3, validateEvery: 3, precision: 'fp32' },
};

/** Where the comparison run with the seed's recipe goes, inside the demo folder. */
export const SEED_RECIPE_DIR = 'seed-recipe';
const RECIPE_SAMPLERS: readonly SamplerName[] = ['student_1', 'student_4'];

/**
 * The seed's recipe (TrainConfig's defaults: lr 1e-5, N 50, stop-grad target, 100 warmup steps) with
 * the demo's budget: the same steps, batch, guidance, seed and logging, so only the recipe differs.
 */
export function seedRecipeAtBudget(demoConfig: TrainConfig): TrainConfig {
  const c = demoConfig;
  return TrainConfigSchema.parse({
    steps: c.steps, batchSize: c.batchSize, gradAccumulation: c.gradAccumulation, guidance: c.guidance, seed: c.seed,
    checkpointEvery: c.checkpointEvery, validateEvery: c.validateEvery, precision: c.precision,
  });
}

export interface DemoOptions {
  out: string;
  quick: boolean;
  teacher?: string;
  device: string;
  /** A CLIP BPE vocabulary other than the bundled one (for --quick's untrained teacher). */
  vocab?: string;
}

function teacherDir(o: DemoOptions, print: (l: string) => void): string {
  const dir = o.teacher ?? BUNDLED_TEACHER;
  if (existsSync(join(dir, MANIFEST_FILE))) return dir;
  if (!o.quick) {
    throw new Error(
      `demo: no teacher at ${dir}. Train the bundled one with: cdistill train-teacher --world shapes --out ${dir}`,
    );
  }
  // --quick checks the path, not quality: an untrained teacher of the same architecture will do.
  const random = join(o.out, 'teacher-untrained');
  mkdirSync(random, { recursive: true });
  writeJsonAtomic(join(random, MANIFEST_FILE), shapesTeacherManifest(0, o.vocab === undefined ? undefined : resolve(o.vocab)));
  print(`demo: no teacher at ${dir}; --quick uses an untrained one`);
  return random;
}

export async function demo(o: DemoOptions, print: (l: string) => void): Promise<{ report: string; metrics: string }> {
  const t0 = performance.now();
  const size = o.quick ? DEMO_QUICK : DEMO_FULL;
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const teacher = teacherDir(o, print);
  const guidance = readManifest(teacher).manifest.sampling?.guidance ?? 3;

  // 1. prompts of the world's training split → the teacher's dataset
  const data = samplePrompts(size.dataPrompts, 1, { split: 'train' });
  writePromptList(join(out, 'prompts_to_generate.json'), data.map((d) => d.prompt));
  print(`demo: 1/4 the teacher generates ${data.length} images (${size.generateSteps} Heun steps, CFG ${guidance})`);
  await generateDataset(
    { model: teacher, prompts: data.map((d) => d.prompt), out: join(out, 'data'), steps: size.generateSteps, guidance, seed: 2024, batch: size.batch, shard: { index: 0, count: 1 }, device: o.device, dtype: 'float32', solver: 'heun', textDtype: 'float32' },
    () => {},
  );

  // 2. consistency distillation
  const config = TrainConfigSchema.parse({ ...size.distill, guidance, seed: 0 });
  print(`demo: 2/4 distilling the student (${config.steps} steps, N = ${config.numScales}, target EMA ${config.targetEma}, lr ${config.lr})`);
  const resume = existsSync(join(out, 'checkpoints', 'latest.json'));
  await train({ model: teacher, data: join(out, 'data'), out, config, device: o.device, resume, quiet: false }, print);
  // 2b. the seed's recipe (the real model's defaults) on the same data, steps and batch, for comparison
  const seedConfig = seedRecipeAtBudget(config);
  const seedOut = join(out, SEED_RECIPE_DIR);
  print(`demo: 2/4 the seed's recipe at the same budget (N = ${seedConfig.numScales}, target EMA ${seedConfig.targetEma}, lr ${seedConfig.lr})`);
  await train({ model: teacher, data: join(out, 'data'), out: seedOut, config: seedConfig, device: o.device, resume: existsSync(join(seedOut, 'checkpoints', 'latest.json')), quiet: false }, print);
  if (existsSync(join(teacher, 'teacher_log.jsonl'))) copyFileSync(join(teacher, 'teacher_log.jsonl'), join(out, 'teacher_log.jsonl'));

  // 3. evaluation on fixed prompts the dataset did not use, including held-out combinations
  const evalSamples = [...samplePrompts(size.evalTrainPrompts, 101, { split: 'train' }), ...samplePrompts(size.evalHeldOutPrompts, 102, { split: 'heldout' })];
  const set: EvalSet = { prompts: evalSamples.map((s) => s.prompt), scenes: evalSamples.map((s) => s.scene), seeds: evalSamples.map((_, i) => 50_000 + i) };
  print(`demo: 3/4 evaluating 7 samplers on ${set.prompts.length} prompts (same noise for each)`);
  const s = loadStudent(out, { device: o.device });
  const result = evaluate(s.model, s.student, set, { guidance, batch: size.batch, onSampler: (n) => print(`demo:   ${n}`) });
  // The comparison students: 1 and 4 steps only, PSNR against the same teacher images.
  const scoreStudent = (model: typeof s.model, dit: typeof s.student, label: string) => {
    const r = evaluate(model, dit, set, {
      guidance, batch: size.batch, only: RECIPE_SAMPLERS, reference: result.images.get('teacher_heun30'), onSampler: (n) => print(`demo:   ${n} (${label})`),
    });
    for (const t of r.images.values()) t.dispose();
    return r;
  };
  const seedStudent = loadStudent(seedOut, { device: o.device });
  const seedResult = scoreStudent(seedStudent.model, seedStudent.student, "seed's recipe");
  seedStudent.dispose();
  // Where both started: the student is initialised from the teacher's DiT, so consistency sampling
  // with the teacher's own weights (unguided) is the score before any distillation step.
  const before = scoreStudent(s.model, s.model.dit, 'before distillation');

  // 4. pictures and the report: ground truth beside teacher and student images for the same prompts
  const show = Math.min(16, set.prompts.length);
  mkdirSync(join(out, 'world'), { recursive: true });
  const truth = renderToTensor(set.scenes.slice(0, show));
  await writeRgbPng(join(out, 'world', '1-ground-truth.png'), torch.tidy(() => tile(truth.add(1).div(2), 8)), 3);
  truth.dispose();
  const pictures = ['teacher_heun30', 'teacher_euler4', 'student_4', 'student_1'] as const;
  for (const [k, name] of pictures.entries()) {
    const imgs = result.images.get(name)!;
    await writeRgbPng(join(out, 'world', `${k + 2}-${name}.png`), torch.tidy(() => tile(imgs.narrow(0, 0, show), 8)), 3);
  }
  writeJsonAtomic(join(out, 'world', 'prompts.json'), set.prompts.slice(0, show));
  for (const t of result.images.values()) t.dispose();
  s.dispose();
  await grid({ checkpoint: out, prompts: set.prompts.slice(0, 6), stepsList: [1, 2, 4, 8], seed: 7, out: join(out, 'grid.png'), device: o.device, scale: 3 }, () => {});

  const scores = (e: Partial<Record<SamplerName, SamplerEval>>) => Object.fromEntries(RECIPE_SAMPLERS.map((n) => [n, e[n]]));
  const recipe = (c: TrainConfig, e: Partial<Record<SamplerName, SamplerEval>>) => ({
    lr: c.lr, num_scales: c.numScales, target_ema: c.targetEma, warmup_steps: c.warmupSteps, ...scores(e),
  });
  const metrics = {
    seconds_total: (performance.now() - t0) / 1000,
    eval: result.eval,
    recipes: { steps: config.steps, batch_size: config.batchSize * config.gradAccumulation, before_distillation: scores(before.eval), demo: recipe(config, result.eval), seed: recipe(seedConfig, seedResult.eval) },
  };
  const metricsPath = join(out, 'metrics.json');
  writeJsonAtomic(metricsPath, metrics);
  const report = await writeReport(out, { title: 'cdistill demo: shapes world' });
  print(`demo: 4/4 done in ${metrics.seconds_total.toFixed(0)} s`);
  const row = (n: keyof typeof result.eval) => `${n.padEnd(15)} all ${(result.eval[n].all * 100).toFixed(1).padStart(5)}%  ${result.eval[n].ms_per_image.toFixed(1)} ms/img`;
  for (const n of Object.keys(result.eval) as (keyof typeof result.eval)[]) print(`  ${row(n)}`);
  for (const n of RECIPE_SAMPLERS) {
    print(`  ${n} with the seed's recipe: all ${(seedResult.eval[n].all * 100).toFixed(1)}%; before distillation: ${(before.eval[n].all * 100).toFixed(1)}%`);
  }
  print(`report:  ${report}\nmetrics: ${metricsPath}`);
  return { report, metrics: metricsPath };
}
