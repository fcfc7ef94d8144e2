// Stage 3, `cdistill train`: consistency-distills a student (initialised from the teacher) on the
// teacher's dataset. Logs JSONL, writes validation grids and atomic checkpoints, resumes exactly
// (`--resume`), and stops on a non-finite loss with the last good checkpoint intact.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import * as torch from '@cdistill/torch';

import { downloadModel } from '../models/download.js';
import { loadModel, type TextToImageModel } from '../models/load.js';
import type { DiT } from '../models/microdit/index.js';
import { perBatchNoise } from '../sampling/noise.js';
import { studentSample } from '../sampling/sample.js';
import { CdTrainer } from '../training/cd-trainer.js';
import { latestCheckpoint, loadCheckpointPart, readCheckpointState, saveCheckpoint } from '../training/checkpoint.js';
import type { TrainConfig } from '../training/config.js';
import { encodeImageData, EpochSampler, loadCachedData, type TrainData } from '../training/data.js';
import { truncateStepLog, writeJsonAtomic } from '../util/fs.js';
import { progress } from '../util/progress.js';
import { tile, writeRgbPng } from './images.js';

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

export interface TrainResult {
  step: number;
  lastCheckpoint?: string;
  stoppedOnNonFinite?: boolean;
}

export class NonFiniteLossError extends Error {}

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

function loadInto(net: DiT | undefined, sd: Map<string, torch.Tensor> | undefined, what: string): void {
  if (!net) return;
  if (!sd) throw new Error(`resume: the checkpoint has no ${what}`);
  net.loadStateDict(sd);
  for (const t of sd.values()) t.dispose();
}

export async function train(o: TrainOptions, print: (l: string) => void): Promise<TrainResult> {
  const cfg = o.config;
  mkdirSync(join(o.out, 'validation'), { recursive: true });
  const configPath = join(o.out, 'config.json');
  const resolved = { model: o.model, data: o.data, device: o.device, ...cfg };
  const ckptDir = o.resume ? latestCheckpoint(o.out) : undefined;
  if (!o.resume && latestCheckpoint(o.out) !== undefined) throw new Error(`${o.out} already has checkpoints: pass --resume to continue, or use a new --out`);
  if (ckptDir) {
    const prev = readCheckpointState(ckptDir).config;
    if (JSON.stringify(prev) !== JSON.stringify(resolved)) throw new Error(`resume: ${configPath} differs from this run's config; resume with the same options`);
  }
  writeJsonAtomic(configPath, resolved);

  await downloadModel(o.model, { print });
  const model = loadModel(o.model, { device: o.device, dtype: 'float32' });
  const data: TrainData = loadCachedData(o.data) ?? (await encodeImageData(model, o.data));
  const models = buildModels(model, cfg, o.device);
  const trainer = new CdTrainer(models, cfg, model.edm, o.device);
  let sampler = new EpochSampler(data.size, cfg.seed);
  let step = 0;
  if (ckptDir) {
    const state = readCheckpointState(ckptDir);
    loadInto(models.student, loadCheckpointPart(ckptDir, 'student', o.device), 'student');
    loadInto(models.target, loadCheckpointPart(ckptDir, 'target', o.device), 'target');
    loadInto(models.ema, loadCheckpointPart(ckptDir, 'ema', o.device), 'ema');
    const opt = loadCheckpointPart(ckptDir, 'optimizer', o.device)!;
    trainer.optimizer.loadState(state.optimizer, opt);
    for (const t of opt.values()) t.dispose();
    trainer.rng.setState(loadCheckpointPart(ckptDir, 'rng')!.get('train')!);
    sampler = new EpochSampler(data.size, cfg.seed, state.sampler.epoch, state.sampler.offset);
    step = state.step;
    print(`train: resumed from ${ckptDir} at step ${step}`);
  }
  const logPath = join(o.out, 'log.jsonl');
  truncateStepLog(logPath, step);
  const validationPrompts = cfg.validationPrompts ?? data.captions.slice(0, 4);

  const checkpoint = () =>
    saveCheckpoint(
      o.out,
      { step, sampler: sampler.state(), optimizer: trainer.optimizer.meta(), config: resolved },
      {
        student: models.student.stateDict(),
        target: models.target?.stateDict(),
        ema: models.ema?.stateDict(),
        optimizer: trainer.optimizer.stateTensors(),
        rng: trainer.rng.getState(),
      },
    );

  const bar = o.quiet ? undefined : progress('train', cfg.steps, 'step', step);
  let lastCheckpoint = ckptDir;
  let ranHere = 0;
  try {
    while (step < cfg.steps) {
      if (o.stopAfter !== undefined && ranHere >= o.stopAfter) break;
      const t0 = performance.now();
      const micro = Array.from({ length: cfg.gradAccumulation }, () => {
        const idx = torch.tensor(sampler.next(cfg.batchSize), { dtype: 'int64' });
        const mb = { latents: data.latents.indexSelect(0, idx), text: data.text.indexSelect(0, idx) };
        idx.dispose();
        return mb;
      });
      const m = trainer.step(step, micro);
      for (const mb of micro) [mb.latents, mb.text].forEach((t) => t.dispose());
      if (!Number.isFinite(m.loss)) {
        throw new NonFiniteLossError(
          `train: the loss is ${m.loss} at step ${step + 1}; stopping. ` +
            (lastCheckpoint ? `The last good checkpoint is ${lastCheckpoint} (intact).` : 'No checkpoint was written yet.'),
        );
      }
      step += 1;
      ranHere += 1;
      const dt = (performance.now() - t0) / 1000;
      appendFileSync(logPath, `${JSON.stringify({ step, loss: m.loss, lr: m.lr, grad_norm: m.gradNorm, step_time_s: dt, samples_per_s: (cfg.batchSize * cfg.gradAccumulation) / dt })}\n`);
      bar?.update(step, { loss: m.loss.toExponential(3) });
      if (step % cfg.validateEvery === 0 || step === cfg.steps) await validate(model, models.ema ?? models.student, validationPrompts, cfg, join(o.out, 'validation', `step-${String(step).padStart(6, '0')}.png`));
      if (step % cfg.checkpointEvery === 0 || step === cfg.steps) lastCheckpoint = checkpoint();
    }
  } catch (e) {
    if (e instanceof NonFiniteLossError) {
      print(e.message);
      return { step, lastCheckpoint, stoppedOnNonFinite: true };
    }
    throw e;
  } finally {
    bar?.stop();
    data.dispose();
    for (const n of [models.student, models.target, models.ema]) n?.dispose();
    model.dispose();
    trainer.optimizer.dispose();
  }
  return { step, lastCheckpoint };
}

/** A grid of the validation prompts at `validationSteps` consistency steps, fixed seed. */
async function validate(model: TextToImageModel, net: DiT, prompts: string[], cfg: TrainConfig, path: string): Promise<void> {
  const images = torch.tidy(() => {
    const y = model.encodePrompts(prompts);
    const embedded = cfg.guidanceEmbedding ? cfg.guidance : undefined;
    const latents = studentSample(model, net, y, perBatchNoise(cfg.seed, prompts.length), { steps: cfg.validationSteps, embeddedGuidance: embedded });
    return model.decodeImages(latents);
  });
  await writeRgbPng(path, tile(images, Math.min(prompts.length, 8)));
  images.dispose();
}
