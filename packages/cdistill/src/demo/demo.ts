// `cdistill demo` (= `npm run demo`): the whole system on the embedded default, with no downloads and
// no GPU. The bundled shapes teacher makes a dataset, a student is consistency-distilled from it,
// every sampler is scored by reading its images back into attributes, and one folder gets
// report.html and metrics.json.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

import { PACKAGE_ROOT } from '../assets.js';
import { writePromptList } from '../data/prompts.js';
import { loadModel } from '../models/load.js';
import { MANIFEST_FILE, readManifest } from '../models/manifest.js';
import { generateDataset } from '../pipeline/generate.js';
import { grid } from '../pipeline/sample.js';
import { writeReport } from '../report/index.js';
import { loadStudent, type Student } from '../pipeline/student.js';
import { train } from '../pipeline/train.js';
import { latentShapeOf } from '../sampling/sample.js';
import { TrainConfigSchema, type TrainConfig } from '../training/config.js';
import { writeJsonAtomic } from '../util/fs.js';
import { mulberry32 } from '../util/prng.js';
import {
  renderScene,
  samplePrompts,
  sampleScene,
  scoreImages,
  shapesTeacherManifest,
  type PromptSample,
} from '../worlds/shapes/index.js';
import {
  evalSetOf,
  evaluate,
  SAMPLERS,
  TUNED_SAMPLERS,
  type EvalSet,
  type SamplerEval,
  type SamplerName,
  type TunedSchedules,
} from './evaluate.js';
import { writeDemoPictures } from './pictures.js';
import { extraStudentFor, scoreExtraStudent } from './bundled-student.js';
import { demoHeadline } from './report-sections.js';
import { heldOutSet, SCHEDULE_GRID, scheduleRecords, tuneSchedules } from './tune-schedules.js';

/** The bundled teacher (trained by `cdistill train-teacher`, see README). */
export const BUNDLED_TEACHER = join(PACKAGE_ROOT, 'teachers', 'shapes');

export interface DemoSize {
  dataPrompts: number;
  generateSteps: number;
  /** Evaluation prompts that name all five attributes, and ones that leave at least one open. */
  evalFullPrompts: number;
  evalOpenPrompts: number;
  /** Samples (seeds) per evaluation prompt, so coverage sees what a sampler does with the open attributes. */
  evalSamples: number;
  batch: number;
  /** The demo's tuned distillation (the real-model defaults stay the seed's recipe). */
  distill: Partial<TrainConfig>;
}

// Sized for the 15-minute budget on 2 cores: the teacher's 30 Heun steps with CFG cost ~1.5 s per image
// on that machine (2026-12-02), so its share of the evaluation (256 images) is the largest single stage.
export const DEMO_FULL: DemoSize = {
  dataPrompts: 96,
  generateSteps: 30,
  evalFullPrompts: 32,
  evalOpenPrompts: 96,
  evalSamples: 2,
  // Sampling batch (the DiT sees twice this with CFG). Smaller is faster on one CPU core, where the
  // activations then stay in cache: Heun-30 cost 1,482 / 1,240 / 1,037 / 919 / 1,013 ms of CPU per
  // image at 64 / 32 / 16 / 8 / 4 (docs/benchmarks.md).
  batch: 8,
  distill: {
    numScales: 18,
    targetEma: 0.95,
    lr: 2e-5,
    warmupSteps: 20,
    steps: 150,
    batchSize: 32,
    gradAccumulation: 1,
    checkpointEvery: 50,
    validateEvery: 50,
    precision: 'fp32',
  },
};

export const DEMO_QUICK: DemoSize = {
  dataPrompts: 8,
  generateSteps: 4,
  evalFullPrompts: 2,
  evalOpenPrompts: 4,
  evalSamples: 2,
  batch: 8,
  distill: {
    numScales: 18,
    targetEma: 0.95,
    lr: 5e-5,
    warmupSteps: 1,
    steps: 3,
    batchSize: 4,
    gradAccumulation: 1,
    checkpointEvery: 3,
    validateEvery: 3,
    precision: 'fp32',
  },
};

/** The share of an open evaluation prompt's attributes that it names (lower than training's, so more stays open). */
export const EVAL_NAME_PROBABILITY = 0.4;

/** Where the comparison run with the seed's recipe goes, inside the demo folder. */
export const SEED_RECIPE_DIR = 'seed-recipe';
/** Where the variants of the demo's recipe go (one folder each, by name), inside the demo folder. */
export const VARIANTS_DIR = 'variants';
const RECIPE_SAMPLERS: readonly SamplerName[] = ['student_1', 'student_4'];

/**
 * The field's options, each one change to the demo's recipe, run on request (`demo --variants`) with
 * the same data, budget and scoring. `latentSize` is the number of elements of one latent (d in iCT).
 */
export const RECIPE_VARIANTS = {
  /** The teacher's ODE step from σ_{n} to σ_{n+1} is Heun's instead of Euler's. */
  'heun-step': () => ({ teacherSolver: 'heun' }),
  /** iCT's pseudo-Huber c = 0.00054·√d (Song & Dhariwal 2023). */
  'ict-huber': (latentSize: number) => ({ huberC: 0.00054 * Math.sqrt(latentSize) }),
  /** Skip-step k = 2: the teacher jumps two Karras levels (LCM's skipping step). */
  'skip-2': () => ({ skip: 2 }),
  /** c_skip(σ_min) = 1, c_out(σ_min) = 0, as openai/consistency_models. */
  'boundary-condition': () => ({ boundaryCondition: true }),
} satisfies Record<string, (latentSize: number) => Partial<TrainConfig>>;
export type RecipeVariant = keyof typeof RECIPE_VARIANTS;
export const RECIPE_VARIANT_NAMES = Object.keys(RECIPE_VARIANTS) as RecipeVariant[];

/**
 * The seed's recipe (TrainConfig's defaults: lr 1e-5, N 50, stop-grad target, 100 warmup steps) with
 * the demo's budget: the same steps, batch, guidance, seed and logging, so only the recipe differs.
 */
export function seedRecipeAtBudget(demoConfig: TrainConfig): TrainConfig {
  const c = demoConfig;
  return TrainConfigSchema.parse({
    steps: c.steps,
    batchSize: c.batchSize,
    gradAccumulation: c.gradAccumulation,
    guidance: c.guidance,
    seed: c.seed,
    checkpointEvery: c.checkpointEvery,
    validateEvery: c.validateEvery,
    precision: c.precision,
  });
}

/**
 * The fixed evaluation set: open prompts first, then fully named ones; each prompt `evalSamples` times
 * with its own seed, sample-major (entry s·P + k is prompt k's sample s), so the first P entries are P
 * different prompts and the same index means the same prompt and noise for every sampler.
 */
export function evalPrompts(size: DemoSize): { prompts: PromptSample[]; set: EvalSet } {
  const prompts = [
    ...samplePrompts(size.evalOpenPrompts, 102, { nameProbability: EVAL_NAME_PROBABILITY, openOnly: true }),
    ...samplePrompts(size.evalFullPrompts, 101, { nameProbability: 1 }),
  ];
  return { prompts, set: evalSetOf(prompts, size.evalSamples, 50_000) };
}

/** A loaded student as `evaluate` takes it. */
const evalStudent = (s: Student) => ({ net: s.student, boundaryCondition: s.config.boundaryCondition });

export interface DemoOptions {
  out: string;
  quick: boolean;
  teacher?: string;
  device: string;
  /** A CLIP BPE vocabulary other than the bundled one (for --quick's untrained teacher). */
  vocab?: string;
  /** Variants of the demo's recipe to distil and score too (outside the demo's 15-minute budget). */
  variants?: RecipeVariant[];
  /**
   * A distilled student (exported or a checkpoint) to score beside the demo's own; by default the
   * bundled one, when the demo runs the teacher it was distilled from (demo/bundled-student.ts).
   */
  student?: string;
}

/** One comparison run beside the demo's own: a recipe, its folder, and its change to the demo's recipe. */
interface RecipeRun {
  key: string;
  label: string;
  config: TrainConfig;
  dir: string;
  change?: Partial<TrainConfig>;
}

/** Elements in one of the model's latents (C·H·W), for the options that scale with it. */
function latentSizeOf(model: string, device: string): number {
  const m = loadModel(model, { device, dtype: 'float32' });
  const size = latentShapeOf(m).reduce((a, b) => a * b, 1);
  m.dispose();
  return size;
}

function teacherDir(o: DemoOptions, print: (l: string) => void): string {
  const dir = o.teacher ?? BUNDLED_TEACHER;
  if (existsSync(join(dir, MANIFEST_FILE))) return dir;
  if (!o.quick)
    throw new Error(
      `demo: no teacher at ${dir}. Train the bundled one with: cdistill train-teacher --world shapes --out ${dir}`,
    );
  // --quick checks the path, not quality: an untrained teacher of the same architecture will do.
  const random = join(o.out, 'teacher-untrained');
  mkdirSync(random, { recursive: true });
  writeJsonAtomic(
    join(random, MANIFEST_FILE),
    shapesTeacherManifest(0, o.vocab === undefined ? undefined : resolve(o.vocab)),
  );
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

  // 1. prompts drawn from the world's caption distribution → the teacher's dataset
  const data = samplePrompts(size.dataPrompts, 1);
  writePromptList(
    join(out, 'prompts_to_generate.json'),
    data.map((d) => d.prompt),
  );
  print(`demo: 1/4 the teacher generates ${data.length} images (${size.generateSteps} Heun steps, CFG ${guidance})`);
  await generateDataset(
    {
      model: teacher,
      prompts: data.map((d) => d.prompt),
      out: join(out, 'data'),
      steps: size.generateSteps,
      guidance,
      seed: 2024,
      batch: size.batch,
      shard: { index: 0, count: 1 },
      device: o.device,
      dtype: 'float32',
      solver: 'heun',
      textDtype: 'float32',
    },
    () => {},
  );

  // 2. consistency distillation: the demo's recipe, then the seed's (the real model's defaults) and any
  // requested variants of the demo's, on the same data and budget
  const config = TrainConfigSchema.parse({ ...size.distill, guidance, seed: 0 });
  print(
    `demo: 2/4 distilling the student (${config.steps} steps, N = ${config.numScales}, target EMA ${config.targetEma}, lr ${config.lr})`,
  );
  await train(
    {
      model: teacher,
      data: join(out, 'data'),
      out,
      config,
      device: o.device,
      resume: existsSync(join(out, 'checkpoints', 'latest.json')),
      quiet: false,
    },
    print,
  );
  const seedConfig = seedRecipeAtBudget(config);
  const latentSize = o.variants?.length ? latentSizeOf(teacher, o.device) : 0;
  const runs: RecipeRun[] = [
    { key: 'seed', label: "the seed's recipe", config: seedConfig, dir: join(out, SEED_RECIPE_DIR) },
    ...(o.variants ?? []).map((name) => {
      const change = RECIPE_VARIANTS[name](latentSize) as Partial<TrainConfig>;
      return {
        key: `demo + ${name}`,
        label: `the demo's recipe + ${name}`,
        config: TrainConfigSchema.parse({ ...config, ...change }),
        dir: join(out, VARIANTS_DIR, name),
        change,
      };
    }),
  ];
  for (const run of runs) {
    const c = run.config;
    print(
      `demo: 2/4 ${run.label} at the same budget (N = ${c.numScales}, target EMA ${c.targetEma}, lr ${c.lr}${run.change ? `, ${JSON.stringify(run.change)}` : ''})`,
    );
    await train(
      {
        model: teacher,
        data: join(out, 'data'),
        out: run.dir,
        config: c,
        device: o.device,
        resume: existsSync(join(run.dir, 'checkpoints', 'latest.json')),
        quiet: false,
      },
      print,
    );
  }
  if (existsSync(join(teacher, 'teacher_log.jsonl')))
    copyFileSync(join(teacher, 'teacher_log.jsonl'), join(out, 'teacher_log.jsonl'));

  // 3. evaluation on fixed prompts, several samples each, the same noise for every sampler
  const { prompts: evalList, set } = evalPrompts(size);
  print(
    `demo: 3/4 evaluating ${SAMPLERS.length + TUNED_SAMPLERS.length} samplers on ${evalList.length} prompts × ${size.evalSamples} samples (same noise for each)`,
  );
  const s = loadStudent(out, { device: o.device });
  // The few-step schedules beside karras(n), chosen on held-out prompts and noise only.
  const heldOut = heldOutSet(size, EVAL_NAME_PROBABILITY);
  print(
    `demo: 3/4 searching the schedules of ${TUNED_SAMPLERS.join(', ')} on ${heldOut.prompts.length} held-out images`,
  );
  const tuned = tuneSchedules(s.model, evalStudent(s), heldOut, {
    guidance,
    batch: size.batch,
    onSampler: (n, candidates) => print(`demo:   ${n}: ${candidates} candidate schedules`),
  });
  const schedules: TunedSchedules = Object.fromEntries(TUNED_SAMPLERS.map((n) => [n, tuned[n].sigmas]));
  const result = evaluate(s.model, evalStudent(s), set, {
    guidance,
    batch: size.batch,
    samplers: [...SAMPLERS, ...TUNED_SAMPLERS],
    schedules,
    onSampler: (n) => print(`demo:   ${n}`),
  });
  const runEvals = runs.map((run) => {
    const st = loadStudent(run.dir, { device: o.device });
    const r = evaluate(st.model, evalStudent(st), set, {
      guidance,
      batch: size.batch,
      samplers: RECIPE_SAMPLERS,
      reference: result.images.get('teacher_heun30'),
      onSampler: (n) => print(`demo:   ${n} (${run.label})`),
    });
    for (const t of r.images.values()) t.dispose();
    st.dispose();
    return r.eval;
  });
  const extraPath = extraStudentFor(o.student, teacher);
  if (extraPath) print(`demo: 3/4 the bundled student (${extraPath}), with its own schedule search`);
  const extra = extraPath
    ? scoreExtraStudent(extraPath, set, heldOut, {
        device: o.device,
        guidance,
        batch: size.batch,
        print,
        ...(result.images.has('teacher_heun30') ? { reference: result.images.get('teacher_heun30')! } : {}),
      })
    : undefined;
  // The ceiling at this sample size: the world's own draws for the same prompts, scored the same way.
  const worldRng = mulberry32(7);
  const world = scoreImages(
    set.specs.map((spec) => renderScene(sampleScene(worldRng, spec))),
    set.specs,
  );

  // 4. pictures, the steps grid and the report
  await writeDemoPictures(join(out, 'world'), evalList, set, new Map([...result.images, ...(extra?.images ?? [])]));
  for (const t of result.images.values()) t.dispose();
  for (const t of extra?.images.values() ?? []) t.dispose();
  s.dispose();
  await grid(
    {
      checkpoint: out,
      prompts: evalList.slice(0, 6).map((p) => p.prompt),
      stepsList: [1, 2, 4, 8],
      seed: 7,
      out: join(out, 'grid.png'),
      device: o.device,
      scale: 3,
    },
    () => {},
  );

  const pickRecipe = (e: Partial<Record<SamplerName, SamplerEval>>) =>
    Object.fromEntries(RECIPE_SAMPLERS.map((n) => [n, e[n]]));
  const recipe = (c: TrainConfig, e: Partial<Record<SamplerName, SamplerEval>>) => ({
    lr: c.lr,
    num_scales: c.numScales,
    target_ema: c.targetEma,
    warmup_steps: c.warmupSteps,
    ...pickRecipe(e),
  });
  const metrics = {
    seconds_total: (performance.now() - t0) / 1000,
    eval_set: {
      prompts: evalList.length,
      open_prompts: size.evalOpenPrompts,
      full_prompts: size.evalFullPrompts,
      samples_per_prompt: size.evalSamples,
      images: set.prompts.length,
    },
    eval: result.eval,
    schedules: {
      held_out_images: heldOut.prompts.length,
      objective: 'named × coverage',
      grid: SCHEDULE_GRID,
      ...scheduleRecords(tuned, TUNED_SAMPLERS),
    },
    world: {
      differing_px_median: world.differingPxMedian,
      valid: world.valid,
      named: world.named,
      coverage: world.coverage,
      coverage_by_attribute: world.coverageByAttribute,
    },
    ...(extra
      ? {
          bundled_student: {
            source: relative(process.cwd(), extra.source) || '.',
            step: extra.step,
            ...extra.recipe,
            eval: extra.eval,
            schedules: extra.schedules,
          },
        }
      : {}),
    recipes: {
      steps: config.steps,
      batch_size: config.batchSize * config.gradAccumulation,
      demo: recipe(config, result.eval),
      ...Object.fromEntries(
        runs.map((run, i) => [
          run.key,
          { ...(run.change ? { change: run.change } : {}), ...recipe(run.config, runEvals[i]!) },
        ]),
      ),
    },
  };
  const metricsPath = join(out, 'metrics.json');
  writeJsonAtomic(metricsPath, metrics);
  const report = await writeReport(out, { title: 'cdistill demo: shapes world', headline: await demoHeadline(out) });
  print(`demo: 4/4 done in ${metrics.seconds_total.toFixed(0)} s`);
  const pct = (x: number | undefined) => (x === undefined ? '—' : `${(x * 100).toFixed(1)}%`.padStart(6));
  const row = (n: string, e: SamplerEval) =>
    `  ${n.padEnd(15)} valid ${pct(e.valid)}  named ${pct(e.named)}  coverage ${pct(e.coverage)}  ${e.ms_per_image.toFixed(1).padStart(7)} ms/img`;
  for (const n of [...SAMPLERS, ...TUNED_SAMPLERS]) print(row(n, result.eval[n]!));
  runs.forEach((run, i) => {
    for (const n of RECIPE_SAMPLERS) print(row(`${n} (${run.label})`, runEvals[i]![n]!));
  });
  for (const [n, e] of Object.entries(extra?.eval ?? {})) print(row(`${n} (${extra!.step} CD steps)`, e));
  print(`  world's own samples: coverage ${pct(world.coverage)} (the ceiling at ${set.prompts.length} images)`);
  print(`report:  ${report}\nmetrics: ${metricsPath}`);
  return { report, metrics: metricsPath };
}
