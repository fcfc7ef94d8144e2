// `cdistill train-teacher`: trains a teacher (DiT + text tower, jointly) on a world or a data folder
// with micro_diffusion's EDM objective, resumably, and exports a model folder: cdistill-model.json,
// dit.safetensors and text.safetensors (the EMA weights, fp16), teacher_log.jsonl.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import * as torch from '@cdistill/torch';

import { ClipTextEncoder } from '../models/clip/encoder.js';
import { loadModel } from '../models/load.js';
import { MANIFEST_FILE, type Manifest } from '../models/manifest.js';
import { Checkpoint, configChanges, latestCheckpoint, saveCheckpoint } from '../training/checkpoint.js';
import { runTrainingLoop, type LoopResult } from '../training/loop.js';
import {
  TeacherCheckpointStateSchema,
  type TeacherConfig,
  TeacherExportInfoSchema,
} from '../training/teacher-config.js';
import { TeacherTrainer } from '../training/teacher-trainer.js';
import { writeJsonAtomic } from '../util/fs.js';
import { readJsonWith } from '../util/json.js';
import { withLock } from '../util/lock.js';
import {
  NAME_PROBABILITY,
  posteriorMean,
  renderToTensor,
  samplePrompts,
  shapesTeacherManifest,
  type Spec,
} from '../worlds/shapes/index.js';

export interface TrainTeacherOptions {
  /** 'shapes' (the built-in world) — the only world for now. */
  world: 'shapes';
  out: string;
  /** A CLIP BPE vocabulary other than the bundled one; copied into the model folder. */
  vocab?: string;
  config: TeacherConfig;
  device: string;
  stopAfter?: number;
  quiet?: boolean;
  /**
   * A model folder this command exported earlier, to continue from when `out` holds no checkpoint:
   * its weights (the exported ones, fp16) become both the weights and the EMA, training starts at the
   * step its train-teacher.json records, and the optimizer starts fresh. For a run whose checkpoints
   * are gone; with a checkpoint, resume is exact and this is not used.
   */
  initFrom?: string;
}

const WEIGHTS_DTYPE: torch.DType = 'float16';

/** Batches of the world's (caption, image) distribution: renders in [−1, 1]; a fresh seeded draw per step. */
function worldBatch(step: number, cfg: TeacherConfig): { x0: torch.Tensor; captions: string[]; specs: Spec[] } {
  const samples = samplePrompts(cfg.batchSize, cfg.seed * 1_000_003 + step, {
    nameProbability: step < cfg.openCaptionsFrom ? 1 : NAME_PROBABILITY,
  });
  return {
    x0: renderToTensor(samples.map((s) => s.scene)),
    captions: samples.map((s) => s.prompt),
    specs: samples.map((s) => s.spec),
  };
}

export async function trainTeacher(
  o: TrainTeacherOptions,
  print: (l: string) => void,
): Promise<LoopResult & { dir: string }> {
  mkdirSync(o.out, { recursive: true });
  return withLock(join(o.out, '.train-teacher.lock'), `teacher folder ${o.out}`, () => lockedTrainTeacher(o, print));
}

async function lockedTrainTeacher(
  o: TrainTeacherOptions,
  print: (l: string) => void,
): Promise<LoopResult & { dir: string }> {
  const cfg = o.config;
  const work = join(o.out, 'work');
  mkdirSync(work, { recursive: true });
  // The untrained architecture. A vocabulary other than the bundled one travels with the model folder.
  const vocabName = o.vocab === undefined ? undefined : basename(o.vocab);
  if (o.vocab !== undefined && resolve(o.vocab) !== resolve(o.out, basename(o.vocab)))
    copyFileSync(o.vocab, join(o.out, basename(o.vocab)));
  const initManifest = shapesTeacherManifest(cfg.seed, vocabName);
  writeJsonAtomic(join(work, MANIFEST_FILE), {
    ...initManifest,
    text: { ...initManifest.text, ...(o.vocab !== undefined ? { vocab: resolve(o.vocab) } : {}) },
  });
  const model = loadModel(work, { device: o.device });
  const dit = model.dit.train().requiresGrad_(true);
  const tower = model.text.tower.requiresGrad_(true);
  const text = new ClipTextEncoder(model.text.tokenizer, tower);
  const ema = { dit: dit.copy().requiresGrad_(false), tower: tower.copy().requiresGrad_(false) };
  const edm = {
    ...model.edm,
    ...(cfg.pMean !== undefined ? { pMean: cfg.pMean } : {}),
    ...(cfg.pStd !== undefined ? { pStd: cfg.pStd } : {}),
  };
  const trainer = new TeacherTrainer(dit, text, ema, cfg, edm, o.device);
  // What must match to resume: everything but the schedule (length, σ distribution) and outputs,
  // so a run can be extended, cut short or continued in a second phase without starting over.
  const SCHEDULE = ['steps', 'checkpointEvery', 'exportWeights', 'pMean', 'pStd', 'openCaptionsFrom', 'lrDecayFrom'];
  const fixed = { world: o.world, ...cfg };

  // Resume: weights, EMA, optimizer moments, RNG and step from the latest checkpoint.
  const root = join(work, 'checkpoints');
  const latest = latestCheckpoint(root);
  const ckpt = latest ? new Checkpoint(latest, TeacherCheckpointStateSchema) : undefined;
  if (ckpt) {
    const changes = configChanges(ckpt.state.config, fixed, SCHEDULE);
    if (changes.length)
      throw new Error(
        `${ckpt.dir}: this run's options differ from the checkpoint's (${changes.join(', ')}); resume with the same options, or use a new --out`,
      );
    ckpt.loadInto(dit, 'dit', o.device);
    ckpt.loadInto(tower, 'text', o.device);
    ckpt.loadInto(ema.dit, 'ema_dit', o.device);
    ckpt.loadInto(ema.tower, 'ema_text', o.device);
    ckpt.loadOptimizer(trainer.optimizer, ckpt.state.optimizer, 'optimizer', o.device);
    if (trainer.textOptimizer) {
      if (!ckpt.state.textOptimizer)
        throw new Error(
          `${ckpt.dir}: state.json has no textOptimizer, but the text tower is trained (--text-lr-scale ${cfg.textLrScale})`,
        );
      ckpt.loadOptimizer(trainer.textOptimizer, ckpt.state.textOptimizer, 'text_optimizer', o.device);
    }
    trainer.rng.setState(ckpt.tensor('rng', 'rng'));
    print(`train-teacher: resumed at step ${ckpt.state.step}`);
  }
  const initStep =
    !ckpt && o.initFrom !== undefined
      ? initFromExport(o.initFrom, cfg, SCHEDULE, { dit, tower, ema }, o.device, print)
      : undefined;

  const t0 = performance.now();
  const result = await runTrainingLoop({
    label: 'train-teacher',
    steps: cfg.steps,
    start: ckpt?.state.step ?? initStep ?? 0,
    ...(o.stopAfter !== undefined ? { stopAfter: o.stopAfter } : {}),
    logPath: join(o.out, 'teacher_log.jsonl'),
    samplesPerStep: cfg.batchSize,
    checkpointEvery: cfg.checkpointEvery,
    quiet: o.quiet ?? false,
    ...(ckpt ? { resumedFrom: ckpt.dir } : {}),
    print,
    step: (step) => {
      const batch = worldBatch(step, cfg);
      try {
        const posterior =
          cfg.target === 'posterior-mean'
            ? (xn: torch.Tensor, sigma: torch.Tensor, kept: boolean[]) =>
                posteriorMean(
                  xn,
                  sigma,
                  batch.specs.map((spec, i) => (kept[i] ? spec : {})),
                )
            : undefined;
        return trainer.step(step, batch.x0, batch.captions, posterior);
      } finally {
        batch.x0.dispose();
      }
    },
    checkpoint: (step) =>
      saveCheckpoint(
        root,
        step,
        {
          dit: dit.stateDict(),
          text: tower.stateDict(),
          ema_dit: ema.dit.stateDict(),
          ema_text: ema.tower.stateDict(),
          optimizer: trainer.optimizer.stateTensors(),
          text_optimizer: trainer.textOptimizer?.stateTensors(),
          rng: new Map([['rng', trainer.rng.getState()]]),
        },
        {
          config: fixed,
          optimizer: trainer.optimizer.meta(),
          ...(trainer.textOptimizer ? { textOptimizer: trainer.textOptimizer.meta() } : {}),
        },
        { keepOnlyLatest: true },
      ),
  });
  const step = result.step;
  if (step >= cfg.steps) {
    const weights = cfg.exportWeights === 'ema' ? ema : { dit, tower };
    const manifest = { ...initManifest, edm: { ...initManifest.edm, pMean: edm.pMean, pStd: edm.pStd } };
    exportTeacher(o.out, manifest, weights, vocabName, {
      steps: step,
      exported: cfg.exportWeights,
      secondsThisProcess: (performance.now() - t0) / 1000,
      config: cfg,
    });
  }
  model.dispose();
  ema.dit.dispose();
  ema.tower.dispose();
  trainer.optimizer.dispose();
  trainer.textOptimizer?.dispose();
  return { ...result, dir: o.out };
}

/**
 * Loads an exported teacher's weights into the model and its EMA and returns the step it was exported
 * at. Refused when its recipe differs from this run's (the schedule may change, as on resume) or when
 * --steps does not go past that step.
 */
function initFromExport(
  dir: string,
  cfg: TeacherConfig,
  schedule: readonly string[],
  into: { dit: torch.nn.Module; tower: torch.nn.Module; ema: { dit: torch.nn.Module; tower: torch.nn.Module } },
  device: string,
  print: (l: string) => void,
): number {
  const infoPath = join(dir, 'train-teacher.json');
  if (!existsSync(infoPath))
    throw new Error(`${infoPath}: missing; --init-from takes a model folder written by train-teacher`);
  const info = readJsonWith(TeacherExportInfoSchema, infoPath, 'train-teacher.json');
  const changes = configChanges(info.config, cfg, schedule);
  if (changes.length)
    throw new Error(
      `${infoPath}: this run's options differ from the ones that trained it (${changes.join(', ')}); continue with the same options`,
    );
  if (cfg.steps <= info.steps)
    throw new Error(`${infoPath}: trained for ${info.steps} steps already; --steps must be more than that`);
  const init = loadModel(dir, { device });
  try {
    torch.tidy(() => {
      for (const target of [into.dit, into.ema.dit]) target.loadStateDict(init.dit.stateDict());
      for (const target of [into.tower, into.ema.tower]) target.loadStateDict(init.text.tower.stateDict());
    });
  } finally {
    init.dispose();
  }
  print(`train-teacher: continuing ${dir} from step ${info.steps} (its exported weights; fresh optimizer moments)`);
  return info.steps;
}

/** The model folder: EMA weights in fp16 and a manifest pointing at them. */
function exportTeacher(
  dir: string,
  init: Manifest,
  ema: { dit: torch.nn.Module; tower: torch.nn.Module },
  vocab: string | undefined,
  info: Record<string, unknown>,
): void {
  const half = (sd: Map<string, torch.Tensor>) => new Map([...sd].map(([k, t]) => [k, t.to(WEIGHTS_DTYPE)]));
  torch.tidy(() => {
    torch.io.saveSafetensors(join(dir, 'dit.safetensors'), half(ema.dit.stateDict()));
    torch.io.saveSafetensors(join(dir, 'text.safetensors'), half(ema.tower.stateDict()));
  });
  const manifest: Manifest = {
    ...init,
    dit: { ...init.dit, weights: 'dit.safetensors' },
    text: { ...init.text, weights: 'text.safetensors', ...(vocab !== undefined ? { vocab } : {}) },
  };
  writeJsonAtomic(join(dir, MANIFEST_FILE), manifest);
  writeJsonAtomic(join(dir, 'train-teacher.json'), info);
}
