// The training loop both trainers share: run optimizer steps from `start` to `steps`, log each step as
// one JSON line, validate and checkpoint on schedule, and stop cleanly on a non-finite loss, naming the
// last good checkpoint (which stays intact). What one step does is the caller's (CdTrainer,
// TeacherTrainer); so are the checkpoint's contents.
import { appendFileSync } from 'node:fs';

import { truncateStepLog } from '../util/fs.js';
import { progress } from '../util/progress.js';

export interface StepMetrics {
  loss: number;
  gradNorm: number;
  lr: number;
}

export interface LoopOptions {
  /** The command, for messages and the progress bar ('train', 'train-teacher'). */
  label: string;
  /** Total optimizer steps of the run, and how many are done already (a resumed run). */
  steps: number;
  start: number;
  /** Stop (as if killed) after this many steps in this process: tests of resume. */
  stopAfter?: number;
  /** JSON-lines log; lines after `start` (from a run that died after its last checkpoint) are dropped first. */
  logPath: string;
  /** Images per optimizer step, for the log's samples_per_s. */
  samplesPerStep: number;
  checkpointEvery: number;
  validateEvery?: number;
  quiet?: boolean;
  /**
   * Whether this process writes the log, checkpoints and validation images (default true). In a
   * data-parallel run only rank 0 does; the others take the same steps and write nothing.
   */
  writer?: boolean;
  /** The checkpoint the run resumed from, if any (named when a NaN stops the run). */
  resumedFrom?: string;
  /** Optimizer step number `step` (0-based); returns its metrics. */
  step(step: number): StepMetrics;
  /** Writes a checkpoint after `step` steps; returns its folder. */
  checkpoint(step: number): string;
  validate?(step: number): Promise<void>;
  print(line: string): void;
}

export interface LoopResult {
  step: number;
  lastCheckpoint?: string;
  stoppedOnNonFinite?: boolean;
}

export async function runTrainingLoop(o: LoopOptions): Promise<LoopResult> {
  const writer = o.writer ?? true;
  if (writer) truncateStepLog(o.logPath, o.start);
  const bar = o.quiet || !writer ? undefined : progress(o.label, o.steps, 'step', o.start);
  let step = o.start;
  let lastCheckpoint = o.resumedFrom;
  let ranHere = 0;
  try {
    while (step < o.steps) {
      if (o.stopAfter !== undefined && ranHere >= o.stopAfter) break;
      const t0 = performance.now();
      const m = o.step(step);
      if (!Number.isFinite(m.loss)) {
        if (writer)
          o.print(
            `${o.label}: the loss is ${m.loss} at step ${step + 1}; stopping. ` +
              (lastCheckpoint
                ? `The last good checkpoint is ${lastCheckpoint} (intact).`
                : 'No checkpoint was written yet.'),
          );
        return { step, ...(lastCheckpoint ? { lastCheckpoint } : {}), stoppedOnNonFinite: true };
      }
      step += 1;
      ranHere += 1;
      const dt = (performance.now() - t0) / 1000;
      if (!writer) continue;
      appendFileSync(
        o.logPath,
        `${JSON.stringify({ step, loss: m.loss, lr: m.lr, grad_norm: m.gradNorm, step_time_s: dt, samples_per_s: o.samplesPerStep / dt })}\n`,
      );
      bar?.update(step, { loss: m.loss.toExponential(3) });
      if (o.validate && o.validateEvery && (step % o.validateEvery === 0 || step === o.steps)) await o.validate(step);
      if (step % o.checkpointEvery === 0 || step === o.steps) lastCheckpoint = o.checkpoint(step);
    }
  } finally {
    bar?.stop();
  }
  return { step, ...(lastCheckpoint ? { lastCheckpoint } : {}) };
}
