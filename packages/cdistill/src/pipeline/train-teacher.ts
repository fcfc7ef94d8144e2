// `cdistill train-teacher`: trains a teacher (DiT + text tower, jointly) on a world or a data folder
// with micro_diffusion's EDM objective, resumably, and exports a model folder: cdistill-model.json,
// dit.safetensors and text.safetensors (the EMA weights, fp16), teacher_log.jsonl.
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import * as torch from '@cdistill/torch';

import { ClipTextEncoder } from '../models/clip/encoder.js';
import { loadModel } from '../models/load.js';
import { MANIFEST_FILE, type Manifest } from '../models/manifest.js';
import { TeacherTrainer } from '../training/teacher-trainer.js';
import type { TeacherConfig } from '../training/teacher-config.js';
import { truncateStepLog, writeJsonAtomic } from '../util/fs.js';
import { progress } from '../util/progress.js';
import { renderToTensor, samplePrompts, shapesTeacherManifest } from '../worlds/shapes/index.js';

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
}

const WEIGHTS_DTYPE: torch.DType = 'float16';

/** Batches of the world's (caption, image) distribution: renders in [−1, 1]; a fresh seeded draw per step. */
function worldBatch(step: number, cfg: TeacherConfig): { x0: torch.Tensor; captions: string[] } {
  const samples = samplePrompts(cfg.batchSize, cfg.seed * 1_000_003 + step);
  return { x0: renderToTensor(samples.map((s) => s.scene)), captions: samples.map((s) => s.prompt) };
}

export async function trainTeacher(o: TrainTeacherOptions, print: (l: string) => void): Promise<{ step: number; dir: string }> {
  const cfg = o.config;
  const work = join(o.out, 'work');
  mkdirSync(work, { recursive: true });
  // The untrained architecture. A vocabulary other than the bundled one travels with the model folder.
  const vocabName = o.vocab === undefined ? undefined : basename(o.vocab);
  if (o.vocab !== undefined && resolve(o.vocab) !== resolve(o.out, basename(o.vocab))) copyFileSync(o.vocab, join(o.out, basename(o.vocab)));
  const initManifest = shapesTeacherManifest(cfg.seed, vocabName);
  writeJsonAtomic(join(work, MANIFEST_FILE), { ...initManifest, text: { ...initManifest.text, ...(o.vocab !== undefined ? { vocab: resolve(o.vocab) } : {}) } });
  const model = loadModel(work, { device: o.device });
  const dit = model.dit.train().requiresGrad_(true);
  const tower = model.text.tower.requiresGrad_(true);
  const text = new ClipTextEncoder(model.text.tokenizer, tower);
  const ema = { dit: dit.copy().requiresGrad_(false), tower: tower.copy().requiresGrad_(false) };
  const edm = { ...model.edm, ...(cfg.pMean !== undefined ? { pMean: cfg.pMean } : {}), ...(cfg.pStd !== undefined ? { pStd: cfg.pStd } : {}) };
  const trainer = new TeacherTrainer(dit, text, ema, cfg, edm, o.device);
  // What must match to resume: everything but the schedule (length, σ distribution) and outputs,
  // so a run can be extended, cut short or continued in a second phase without starting over.
  const { steps: _steps, checkpointEvery: _every, exportWeights: _export, pMean: _pm, pStd: _ps, ...fixed } = cfg;
  const configJson = JSON.stringify({ world: o.world, ...fixed });

  // Resume: weights, EMA, optimizer moments, RNG and step from work/checkpoint.
  let step = 0;
  const ckpt = join(work, 'checkpoint');
  if (existsSync(join(ckpt, 'state.json'))) {
    const state = JSON.parse(readFileSync(join(ckpt, 'state.json'), 'utf8')) as { step: number; config: string; optimizer: torch.optim.AdamWMeta; textOptimizer?: torch.optim.AdamWMeta };
    const stored = JSON.parse(state.config) as Record<string, unknown>;
    for (const k of ['steps', 'checkpointEvery', 'exportWeights', 'pMean', 'pStd']) delete stored[k];
    if (JSON.stringify(stored) !== configJson) throw new Error(`${ckpt}: was trained with other options; use the same options or a new --out`);
    const load = (f: string) => torch.io.loadSafetensors(join(ckpt, f), { device: o.device });
    dit.loadStateDict(load('dit.safetensors'));
    tower.loadStateDict(load('text.safetensors'));
    ema.dit.loadStateDict(load('ema_dit.safetensors'));
    ema.tower.loadStateDict(load('ema_text.safetensors'));
    trainer.optimizer.loadState(state.optimizer, load('optimizer.safetensors'));
    if (trainer.textOptimizer) trainer.textOptimizer.loadState(state.textOptimizer!, load('text_optimizer.safetensors'));
    trainer.rng.setState(torch.io.loadSafetensors(join(ckpt, 'rng.safetensors')).get('rng')!);
    step = state.step;
    print(`train-teacher: resumed at step ${step}`);
  }
  const logPath = join(o.out, 'teacher_log.jsonl');
  truncateStepLog(logPath, step);

  const saveCheckpoint = () => {
    const tmp = `${ckpt}.tmp-${process.pid}`;
    mkdirSync(tmp, { recursive: true });
    torch.io.saveSafetensors(join(tmp, 'dit.safetensors'), dit.stateDict());
    torch.io.saveSafetensors(join(tmp, 'text.safetensors'), tower.stateDict());
    torch.io.saveSafetensors(join(tmp, 'ema_dit.safetensors'), ema.dit.stateDict());
    torch.io.saveSafetensors(join(tmp, 'ema_text.safetensors'), ema.tower.stateDict());
    torch.io.saveSafetensors(join(tmp, 'optimizer.safetensors'), trainer.optimizer.stateTensors());
    if (trainer.textOptimizer) torch.io.saveSafetensors(join(tmp, 'text_optimizer.safetensors'), trainer.textOptimizer.stateTensors());
    torch.io.saveSafetensors(join(tmp, 'rng.safetensors'), { rng: trainer.rng.getState() });
    writeJsonAtomic(join(tmp, 'state.json'), { step, config: configJson, optimizer: trainer.optimizer.meta(), ...(trainer.textOptimizer ? { textOptimizer: trainer.textOptimizer.meta() } : {}) });
    rmSync(`${ckpt}.old`, { recursive: true, force: true });
    if (existsSync(ckpt)) renameSync(ckpt, `${ckpt}.old`);
    renameSync(tmp, ckpt);
    rmSync(`${ckpt}.old`, { recursive: true, force: true });
  };

  const bar = o.quiet ? undefined : progress('train-teacher', cfg.steps, 'step', step);
  let ranHere = 0;
  const t0 = performance.now();
  while (step < cfg.steps) {
    if (o.stopAfter !== undefined && ranHere >= o.stopAfter) break;
    const s0 = performance.now();
    const batch = worldBatch(step, cfg);
    const m = trainer.step(step, batch.x0, batch.captions);
    batch.x0.dispose();
    if (!Number.isFinite(m.loss)) throw new Error(`train-teacher: the loss is ${m.loss} at step ${step + 1}; the last checkpoint in ${ckpt} is intact`);
    step += 1;
    ranHere += 1;
    appendFileSync(logPath, `${JSON.stringify({ step, loss: m.loss, lr: m.lr, grad_norm: m.gradNorm, step_time_s: (performance.now() - s0) / 1000 })}\n`);
    bar?.update(step, { loss: m.loss.toFixed(4) });
    if (step % cfg.checkpointEvery === 0 || step === cfg.steps) saveCheckpoint();
  }
  bar?.stop();
  if (step >= cfg.steps) {
    const weights = cfg.exportWeights === 'ema' ? ema : { dit, tower };
    const manifest = { ...initManifest, edm: { ...initManifest.edm, pMean: edm.pMean, pStd: edm.pStd } };
    exportTeacher(o.out, manifest, weights, vocabName, { steps: step, exported: cfg.exportWeights, secondsThisProcess: (performance.now() - t0) / 1000, config: cfg });
  }
  model.dispose();
  ema.dit.dispose();
  ema.tower.dispose();
  trainer.optimizer.dispose();
  trainer.textOptimizer?.dispose();
  return { step, dir: o.out };
}

/** The model folder: EMA weights in fp16 and a manifest pointing at them. */
function exportTeacher(dir: string, init: Manifest, ema: { dit: torch.nn.Module; tower: torch.nn.Module }, vocab: string | undefined, info: Record<string, unknown>): void {
  const half = (sd: Map<string, torch.Tensor>) => new Map([...sd].map(([k, t]) => [k, t.to(WEIGHTS_DTYPE)]));
  torch.tidy(() => {
    torch.io.saveSafetensors(join(dir, 'dit.safetensors'), half(ema.dit.stateDict()));
    torch.io.saveSafetensors(join(dir, 'text.safetensors'), half(ema.tower.stateDict()));
  });
  const manifest: Manifest = { ...init, dit: { ...init.dit, weights: 'dit.safetensors' }, text: { ...init.text, weights: 'text.safetensors', ...(vocab !== undefined ? { vocab } : {}) } };
  writeJsonAtomic(join(dir, MANIFEST_FILE), manifest);
  writeJsonAtomic(join(dir, 'train-teacher.json'), info);
}
