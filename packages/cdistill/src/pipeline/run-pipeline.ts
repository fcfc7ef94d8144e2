// `cdistill pipeline --config run.json`: prompts → generate → train → grid → bench → report into
// one folder, skipping every stage whose output is already complete (and resuming the others).
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import * as torch from '@cdistill/torch';
import { z } from 'zod';

import { localFile } from '../hub/download.js';
import { readPromptList, sampleJourneyDbPrompts, writePromptList } from '../data/prompts.js';
import { readJsonWith } from '../util/json.js';
import { withLock } from '../util/lock.js';
import { Checkpoint, latestCheckpoint } from '../training/checkpoint.js';
import { CdCheckpointStateSchema, TrainConfigSchema } from '../training/config.js';
import { bench, benchMetricsOnly } from './bench.js';
import { BenchStageSchema, GenerateStageSchema } from './stage-options.js';
import { generateDataset } from './generate.js';
import { writeReport } from '../report/index.js';
import { grid } from './sample.js';
import { scanLatentShards } from '../data/teacher-dataset.js';
import { checkpointsOf, train } from './train.js';

export const PipelineConfigSchema = z
  .object({
    /** Root folder: prompts_to_generate.json, data/, run/ (report, grid, bench) go inside. */
    out: z.string(),
    model: z.string(),
    device: z.string().default('cpu'),
    prompts: z.union([
      z.object({ file: z.string() }).strict(),
      z
        .object({
          from: z.string(),
          n: z.number().int().positive().default(5000),
          seed: z.number().int().min(0).default(0),
          field: z.string().default('prompt'),
        })
        .strict(),
    ]),
    generate: GenerateStageSchema.default({}),
    train: TrainConfigSchema.default({}),
    grid: z
      .object({
        prompts: z.array(z.string().min(1)).min(1),
        steps: z.array(z.number().int().min(1).max(8)).default([1, 2, 4, 8]),
        seed: z.number().int().min(0).default(0),
      })
      .strict()
      .optional(),
    bench: BenchStageSchema.optional(),
  })
  .strict();

export type PipelineConfig = z.infer<typeof PipelineConfigSchema>;

export function readPipelineConfig(path: string): PipelineConfig {
  return readJsonWith(PipelineConfigSchema, path, 'pipeline config');
}

export async function runPipeline(c: PipelineConfig, print: (l: string) => void): Promise<void> {
  torch.checkDevice(c.device);
  mkdirSync(resolve(c.out), { recursive: true });
  return withLock(join(resolve(c.out), '.pipeline.lock'), `pipeline folder ${resolve(c.out)}`, () =>
    lockedPipeline(c, print),
  );
}

async function lockedPipeline(c: PipelineConfig, print: (l: string) => void): Promise<void> {
  const root = resolve(c.out);
  const promptsFile = join(root, 'prompts_to_generate.json');
  const dataDir = join(root, 'data');
  const runDir = join(root, 'run');
  const skip = (stage: string, why: string) => print(`pipeline: ${stage}: skipped (${why})`);
  mkdirSync(root, { recursive: true });

  // 1. prompts
  if (existsSync(promptsFile)) skip('prompts', `${promptsFile} exists`);
  else if ('file' in c.prompts) writePromptList(promptsFile, readPromptList(c.prompts.file));
  else {
    const { prompts, stats } = await sampleJourneyDbPrompts(await localFile(c.prompts.from, { print }), c.prompts);
    writePromptList(promptsFile, prompts);
    print(
      `pipeline: prompts: ${prompts.length} sampled (${stats.skippedBlank + stats.skippedInvalid + stats.skippedNoField} lines skipped)`,
    );
  }
  const prompts = readPromptList(promptsFile);

  // 2. generate
  if (scanLatentShards(dataDir).size >= prompts.length) skip('generate', `all ${prompts.length} images exist`);
  else {
    await generateDataset(
      {
        model: c.model,
        prompts,
        out: dataDir,
        ...c.generate,
        shard: { index: 0, count: 1 },
        device: c.device,
        dtype: 'float32',
        textDtype: 'float16',
      },
      print,
    );
  }

  // 3. train
  const latest = latestCheckpoint(checkpointsOf(runDir));
  if (latest && new Checkpoint(latest, CdCheckpointStateSchema).state.step >= c.train.steps)
    skip('train', `checkpoint at step ${c.train.steps} exists`);
  else
    await train(
      { model: c.model, data: dataDir, out: runDir, config: c.train, device: c.device, resume: latest !== undefined },
      print,
    );

  // 4. steps comparison
  if (c.grid) {
    const gridPath = join(runDir, 'grid.png');
    if (existsSync(gridPath)) skip('grid', `${gridPath} exists`);
    else
      await grid(
        {
          checkpoint: runDir,
          prompts: c.grid.prompts,
          stepsList: c.grid.steps,
          seed: c.grid.seed,
          out: gridPath,
          device: c.device,
        },
        print,
      );
  }

  // 5. benchmark
  if (c.bench) {
    const benchDir = join(runDir, 'bench');
    const o = { checkpoint: runDir, out: benchDir, device: c.device, ...c.bench };
    if (!existsSync(join(benchDir, 'summary.json'))) await bench(o, print);
    else if (c.bench.metrics && !existsSync(join(benchDir, 'metrics.json'))) {
      // Images from an earlier run without metrics: measure them rather than make them again.
      print(`pipeline: bench: images exist (${benchDir}/summary.json); computing the metrics only`);
      await benchMetricsOnly(o, print);
    } else skip('bench', `${benchDir}/summary.json exists`);
  }

  // 6. report (always rewritten: it is cheap and reflects what exists now)
  print(`pipeline: report: ${await writeReport(runDir, { title: `cdistill: ${c.model}` })}`);
}
