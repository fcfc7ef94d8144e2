// Stage 3, `cdistill train`: consistency-distills a student (initialised from the teacher) on the
// teacher's dataset. Logs JSONL, writes validation grids and atomic checkpoints, resumes exactly
// (`--resume`), and stops on a non-finite loss with the last good checkpoint intact.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import * as torch from '@cdistill/torch';

import { downloadModel } from '../models/download.js';
import { loadModel, type TextToImageModel } from '../models/load.js';
import type { DiT } from '../models/microdit/index.js';
import { perBatchNoise } from '../sampling/noise.js';
import { studentSample } from '../sampling/sample.js';
import { CdTrainer } from '../training/cd-trainer.js';
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
}

export type TrainResult = LoopResult;

/** RUN_DIR/checkpoints: where a CD run's checkpoints and latest.json live. */
export const checkpointsOf = (runDir: string) => join(runDir, 'checkpoints');

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
  mkdirSync(o.out, { recursive: true });
  return withLock(join(o.out, '.train.lock'), `run folder ${o.out}`, () => lockedTrain(o, print));
}

async function lockedTrain(o: TrainOptions, print: (l: string) => void): Promise<TrainResult> {
  const cfg = o.config;
  const root = checkpointsOf(o.out);
  mkdirSync(join(o.out, 'validation'), { recursive: true });
  const resolved: ResolvedTrainConfig = { model: o.model, data: o.data, device: o.device, ...cfg };
  const latest = latestCheckpoint(root);
  if (!o.resume && latest !== undefined)
    throw new Error(`${o.out} already has checkpoints: pass --resume to continue, or use a new --out`);
  const ckpt = o.resume && latest ? new Checkpoint(latest, CdCheckpointStateSchema) : undefined;
  if (ckpt) {
    const changes = configChanges(ckpt.state.config, resolved);
    if (changes.length)
      throw new Error(
        `${ckpt.dir}: this run's options differ from the checkpoint's (${changes.join(', ')}); resume with the same options, or use a new --out`,
      );
  }
  writeJsonAtomic(join(o.out, 'config.json'), resolved);

  await downloadModel(o.model, { print });
  const model = loadModel(o.model, { device: o.device, dtype: 'float32' });
  const data: TrainData = loadCachedData(o.data) ?? (await encodeImageData(model, o.data));
  if (cfg.batchSize > data.size)
    print(
      `train: --batch-size ${cfg.batchSize} is larger than the dataset (${data.size} examples): each batch repeats examples`,
    );
  const models = buildModels(model, cfg, o.device);
  const trainer = new CdTrainer(models, cfg, model.edm, o.device);
  let sampler = new EpochSampler(data.size, cfg.seed);
  let start = 0;
  if (ckpt) {
    ckpt.loadInto(models.student, 'student', o.device);
    if (models.target) ckpt.loadInto(models.target, 'target', o.device);
    if (models.ema) ckpt.loadInto(models.ema, 'ema', o.device);
    ckpt.loadOptimizer(trainer.optimizer, ckpt.state.optimizer, 'optimizer', o.device);
    trainer.rng.setState(ckpt.tensor('rng', 'train'));
    sampler = new EpochSampler(data.size, cfg.seed, ckpt.state.sampler.epoch, ckpt.state.sampler.offset);
    start = ckpt.state.step;
    print(`train: resumed from ${ckpt.dir} at step ${start}`);
  }
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
      ...(ckpt ? { resumedFrom: ckpt.dir } : {}),
      print,
      step: (step) => {
        const micro = Array.from({ length: cfg.gradAccumulation }, () => {
          const idx = torch.tensor(sampler.next(cfg.batchSize), { dtype: 'int64' });
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
          { sampler: sampler.state(), optimizer: trainer.optimizer.meta(), config: resolved },
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
    });
    return model.decodeImages(latents);
  });
  await writeRgbImage(path, tile(images, Math.min(prompts.length, 8)));
  images.dispose();
}
