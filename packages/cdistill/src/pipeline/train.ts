// Stage 3, `cdistill train`: consistency-distills a student (initialised from the teacher) on the
// teacher's dataset. Logs JSONL, writes validation grids and atomic checkpoints, resumes exactly
// (`--resume`), and stops on a non-finite loss with the last good checkpoint intact.
//
// Data parallel (a launch environment, training/data-parallel.ts): every rank loads the model, the data
// and the checkpoint, rank 0's weights are broadcast, each rank takes its share of every global batch,
// and rank 0 alone takes the folder's lock and writes the config, log, checkpoints and validation
// images. --batch-size is the global micro-batch, so a run resumes with another world size unchanged.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import * as torch from '@cdistill/torch';

import { checkShardSet } from '../data/shard-set.js';
import { downloadModel } from '../models/download.js';
import { loadModel, type TextToImageModel } from '../models/load.js';
import type { DiT } from '../models/microdit/index.js';
import { perBatchNoise } from '../sampling/noise.js';
import { studentSample } from '../sampling/sample.js';
import { CdTrainer } from '../training/cd-trainer.js';
import { type DataParallel, joinWorld, rankDevice } from '../training/data-parallel.js';
import type { LaunchEnv } from '../util/torchrun-env.js';
import { Checkpoint, configChanges, latestCheckpoint, saveCheckpoint } from '../training/checkpoint.js';
import { CdCheckpointStateSchema, type ResolvedTrainConfig, type TrainConfig } from '../training/config.js';
import { encodeImageData, EpochSampler, loadCachedData, type TrainData } from '../training/data.js';
import { runTrainingLoop, type LoopResult } from '../training/loop.js';
import { writeJsonAtomic } from '../util/fs.js';
import { withLock } from '../util/lock.js';
import { tile, writeRgbImage } from './images.js';

export interface TrainOptions {
  model: string;
  data: string;
  out: string;
  config: TrainConfig;
  device: string;
  resume: boolean;
  /** Stop (as if killed) after this many steps in this process; tests of resume. */
  stopAfter?: number;
  quiet?: boolean;
  /** The torchrun environment when this process is one rank of several (util/torchrun-env.ts). */
  world?: LaunchEnv;
}

export type TrainResult = LoopResult;

/** RUN_DIR/checkpoints: where a CD run's checkpoints and latest.json live. */
export const checkpointsOf = (runDir: string) => join(runDir, 'checkpoints');

/** A model path made absolute; a built-in model name (no file or folder of that name) as it is. */
const modelSpec = (model: string) => (existsSync(model) ? resolve(model) : model);

/** The student starts as a copy of the teacher (and so do the target and EMA networks). */
function buildModels(model: TextToImageModel, cfg: TrainConfig, device: string) {
  const teacher = model.dit;
  const student = teacher.copy();
  student.train().requiresGrad_(true);
  if (cfg.guidanceEmbedding) student.enableGuidanceEmbedding();
  teacher.requiresGrad_(false).eval();
  if (device.startsWith('cuda') && cfg.teacherDtype !== 'float32') teacher.to({ dtype: cfg.teacherDtype });
  const target = cfg.targetEma > 0 ? student.copy().requiresGrad_(false).eval() : undefined;
  const ema = cfg.ema !== undefined ? student.copy().requiresGrad_(false).eval() : undefined;
  return { student, teacher, target, ema };
}

export async function train(o: TrainOptions, print: (l: string) => void): Promise<TrainResult> {
  // A folder from `generate` is trained on only when every shard of its plan is in it, made once (before
  // any folder is written or any rank joins).
  if (existsSync(join(o.data, 'generate.json'))) checkShardSet([o.data]);
  const world = o.world && o.world.worldSize > 1 ? o.world : undefined;
  if (world && o.config.batchSize % world.worldSize !== 0)
    throw new Error(
      `--batch-size ${o.config.batchSize} does not split over ${world.worldSize} ranks: it is the global micro-batch, each rank takes an equal share; use a multiple of ${world.worldSize}`,
    );
  // Before the lock: a rank that fails here makes its peers fail at the rendezvous, naming it.
  const dp = world ? joinWorld(world, rankDevice(o.device, world)) : undefined;
  try {
    if (dp && dp.rank !== 0) return await lockedTrain(o, print, dp);
    mkdirSync(o.out, { recursive: true });
    return await withLock(join(o.out, '.train.lock'), `run folder ${o.out}`, () => lockedTrain(o, print, dp));
  } finally {
    dp?.destroy();
  }
}

async function lockedTrain(o: TrainOptions, print: (l: string) => void, dp?: DataParallel): Promise<TrainResult> {
  const cfg = o.config;
  const root = checkpointsOf(o.out);
  const writer = (dp?.rank ?? 0) === 0;
  const device = rankDevice(o.device, o.world);
  if (writer) mkdirSync(join(o.out, 'validation'), { recursive: true });
  // Paths are recorded absolute: a student is loaded later (sample, bench, demo) from its checkpoint's
  // config, often from another working directory. A built-in model name stays a name.
  const resolved: ResolvedTrainConfig = { model: modelSpec(o.model), data: resolve(o.data), device: o.device, ...cfg };
  const latest = latestCheckpoint(root);
  if (!o.resume && latest !== undefined)
    throw new Error(`${o.out} already has checkpoints: pass --resume to continue, or use a new --out`);
  const ckpt = o.resume && latest ? new Checkpoint(latest, CdCheckpointStateSchema) : undefined;
  if (ckpt) {
    // Runs recorded before paths were made absolute hold them as given, relative to the working directory.
    const stored = ckpt.state.config;
    const changes = configChanges({ ...stored, model: modelSpec(stored.model), data: resolve(stored.data) }, resolved);
    if (changes.length)
      throw new Error(
        `${ckpt.dir}: this run's options differ from the checkpoint's (${changes.join(', ')}); resume with the same options, or use a new --out`,
      );
  }
  if (writer) writeJsonAtomic(join(o.out, 'config.json'), resolved);

  await downloadModel(o.model, { print });
  const model = loadModel(o.model, { device, dtype: 'float32' });
  const data: TrainData = loadCachedData(o.data) ?? (await encodeImageData(model, o.data));
  if (cfg.batchSize > data.size && writer)
    print(
      `train: --batch-size ${cfg.batchSize} is larger than the dataset (${data.size} examples): each batch repeats examples`,
    );
  const models = buildModels(model, cfg, device);
  const trainer = new CdTrainer(models, cfg, model.edm, device, dp);
  let sampler = new EpochSampler(data.size, cfg.seed);
  let start = 0;
  if (ckpt) {
    ckpt.loadInto(models.student, 'student', device);
    if (models.target) ckpt.loadInto(models.target, 'target', device);
    if (models.ema) ckpt.loadInto(models.ema, 'ema', device);
    ckpt.loadOptimizer(trainer.optimizer, ckpt.state.optimizer, 'optimizer', device);
    trainer.rng.setState(ckpt.tensor('rng', 'train'));
    sampler = new EpochSampler(data.size, cfg.seed, ckpt.state.sampler.epoch, ckpt.state.sampler.offset);
    start = ckpt.state.step;
    const was = ckpt.state.worldSize ?? 1;
    const now = dp?.worldSize ?? 1;
    if (writer)
      print(
        `train: resumed from ${ckpt.dir} at step ${start}${was !== now ? ` (written by ${was} rank${was === 1 ? '' : 's'}, now ${now})` : ''}`,
      );
  }
  // Every rank built or loaded the same weights; the broadcast makes it so whatever the files or
  // initialisers did, as DDP does when it wraps a model.
  dp?.broadcastModules([models.student, models.target, models.ema], 'the initial weights');
  const validationPrompts = cfg.validationPrompts ?? data.captions.slice(0, 4);

  try {
    return await runTrainingLoop({
      label: 'train',
      steps: cfg.steps,
      start,
      ...(o.stopAfter !== undefined ? { stopAfter: o.stopAfter } : {}),
      logPath: join(o.out, 'log.jsonl'),
      samplesPerStep: cfg.batchSize * cfg.gradAccumulation,
      checkpointEvery: cfg.checkpointEvery,
      validateEvery: cfg.validateEvery,
      quiet: o.quiet ?? false,
      writer,
      ...(ckpt ? { resumedFrom: ckpt.dir } : {}),
      print,
      step: (step) => {
        const micro = Array.from({ length: cfg.gradAccumulation }, () => {
          // The same seeded global order on every rank; each takes its share of it.
          const global = sampler.next(cfg.batchSize);
          const idx = torch.tensor(dp ? dp.share(global) : global, { dtype: 'int64' });
          const mb = { latents: data.latents.indexSelect(0, idx), text: data.text.indexSelect(0, idx) };
          idx.dispose();
          return mb;
        });
        try {
          return trainer.step(step, micro);
        } finally {
          for (const mb of micro) for (const t of [mb.latents, mb.text]) t.dispose();
        }
      },
      validate: (step) =>
        validate(
          model,
          models.ema ?? models.student,
          validationPrompts,
          cfg,
          join(o.out, 'validation', `step-${String(step).padStart(6, '0')}.png`),
        ),
      checkpoint: (step) =>
        saveCheckpoint(
          root,
          step,
          {
            student: models.student.stateDict(),
            target: models.target?.stateDict(),
            ema: models.ema?.stateDict(),
            optimizer: trainer.optimizer.stateTensors(),
            rng: new Map([['train', trainer.rng.getState()]]),
          },
          {
            sampler: sampler.state(),
            optimizer: trainer.optimizer.meta(),
            config: resolved,
            worldSize: dp?.worldSize ?? 1,
          },
        ),
    });
  } finally {
    data.dispose();
    for (const n of [models.student, models.target, models.ema]) n?.dispose();
    model.dispose();
    trainer.optimizer.dispose();
  }
}

/** A grid of the validation prompts at `validationSteps` consistency steps, fixed seed. */
async function validate(
  model: TextToImageModel,
  net: DiT,
  prompts: string[],
  cfg: TrainConfig,
  path: string,
): Promise<void> {
  const images = torch.tidy(() => {
    const y = model.encodePrompts(prompts);
    const embedded = cfg.guidanceEmbedding ? cfg.guidance : undefined;
    const latents = studentSample(model, net, y, perBatchNoise(cfg.seed, prompts.length), {
      steps: cfg.validationSteps,
      embeddedGuidance: embedded,
      boundaryCondition: cfg.boundaryCondition,
    });
    return model.decodeImages(latents);
  });
  await writeRgbImage(path, tile(images, Math.min(prompts.length, 8)));
  images.dispose();
}
