// The pipeline stages as commands: prompts, generate, train, export-student, sample, grid, bench, compare, report.
import { type Command, Option } from 'commander';

import { localFile } from '../hub/download.js';
import { readPromptList, sampleJourneyDbPrompts, writePromptList } from '../data/prompts.js';
import { checkShardSet } from '../data/shard-set.js';
import { bench } from '../pipeline/bench.js';
import { compare } from '../pipeline/compare.js';
import { BENCH_DEFAULTS, GENERATE_DEFAULTS } from '../pipeline/stage-options.js';
import { EXPORT_DTYPES } from '../pipeline/student.js';
import { exportStudent } from '../pipeline/export-student.js';
import { generateDataset, parseShard } from '../pipeline/generate.js';
import { writeReport } from '../report/index.js';
import { grid, sample } from '../pipeline/sample.js';
import { launchLocalRanks, withoutOption } from '../pipeline/launch-local.js';
import { train } from '../pipeline/train.js';
import { readLaunchEnv } from '../util/torchrun-env.js';
import { samplePrompts } from '../worlds/shapes/index.js';
import { defaultTrainConfig, TrainConfigSchema, TrainOptionsSchema, type TrainConfig } from '../training/config.js';
import { parseWith, readJson } from '../util/json.js';
import {
  checkDtypeOnDevice,
  collect,
  deviceOption,
  finiteNumber,
  intList,
  nonNegativeInt,
  numberList,
  numberPair,
  positiveInt,
} from './options.js';

type Print = (line: string) => void;

/** Prompts from repeated --prompt flags and/or a --prompts file (JSON list or one per line). */
function promptsFrom(o: { prompt?: string[]; prompts?: string }): string[] {
  const list = [...(o.prompt ?? []), ...(o.prompts ? readPromptList(o.prompts) : [])];
  if (list.length === 0) throw new Error('give --prompt "..." (repeatable) or --prompts <file>');
  return list;
}

export function registerStages(program: Command, print: Print): void {
  program
    .command('prompts')
    .description(
      "sample N prompts (seeded, without replacement) from a JourneyDB annotation file, a text list or a JSON list; or (--world) from an embedded world's caption distribution",
    )
    .option(
      '--from <file>',
      'annotations: .jsonl, .jsonl.gz, .tgz holding a .jsonl, .txt or .json list; or hf://datasets/<owner>/<repo>/<path>',
    )
    .addOption(
      new Option('--world <name>', "captions drawn as the demo's training captions are, instead of --from").choices([
        'shapes',
      ]),
    )
    .requiredOption('--out <file>', 'output JSON list (prompts_to_generate.json)')
    .option('--n <n>', 'number of prompts', positiveInt, 5000)
    .option('--seed <n>', 'sampling seed', nonNegativeInt, 0)
    .option('--field <path>', 'prompt field of each JSONL object (dotted paths allowed)', 'prompt')
    .action(async (o: { from?: string; world?: string; out: string; n: number; seed: number; field: string }) => {
      if ((o.from === undefined) === (o.world === undefined))
        throw new Error('prompts: give one of --from <file> and --world shapes');
      if (o.world !== undefined) {
        // With replacement: the world has fewer distinct captions than a training set wants draws.
        writePromptList(
          o.out,
          samplePrompts(o.n, o.seed).map((d) => d.prompt),
        );
        print(`prompts: ${o.n} captions of the ${o.world} world (seed ${o.seed}) written to ${o.out}`);
        return;
      }
      const { prompts, stats } = await sampleJourneyDbPrompts(await localFile(o.from!, { print }), {
        n: o.n,
        seed: o.seed,
        field: o.field,
      });
      writePromptList(o.out, prompts);
      print(
        `prompts: ${prompts.length} written to ${o.out} (${stats.lines} lines read; skipped ${stats.skippedBlank} blank, ${stats.skippedInvalid} invalid, ${stats.skippedNoField} without '${o.field}')${stats.short ? `; only ${stats.valid} valid prompts, fewer than --n` : ''}`,
      );
    });

  program
    .command('generate')
    .description('the teacher makes one image per prompt: images/, captions.json, latents/ shards with text embeddings')
    .requiredOption('--model <model>', 'teacher: a built-in model name, a manifest or its folder')
    .requiredOption('--prompts <file>', 'prompts_to_generate.json')
    .requiredOption('--out <dir>', 'DATA_DIR')
    .option('--steps <n>', "Heun steps (default: the manifest's, else 30)", positiveInt)
    .option('--guidance <w>', "CFG weight (default: the manifest's, else 5)", finiteNumber)
    .option('--seed <n>', 'base seed; image i uses seed + i', nonNegativeInt, GENERATE_DEFAULTS.seed)
    .option('--batch <n>', 'images per batch', positiveInt, GENERATE_DEFAULTS.batch)
    .option('--shard <i/n>', 'generate only indices with index % n == i', '0/1')
    .addOption(
      new Option('--solver <name>', 'teacher ODE solver').choices(['heun', 'euler']).default(GENERATE_DEFAULTS.solver),
    )
    .addOption(
      new Option('--dtype <dtype>', 'teacher precision').choices(['float32', 'bfloat16', 'float16']).default('float32'),
    )
    .addOption(
      new Option('--text-dtype <dtype>', 'storage dtype of cached text embeddings')
        .choices(['float16', 'float32', 'bfloat16'])
        .default('float16'),
    )
    .addOption(deviceOption())
    .action(async (o) => {
      checkDtypeOnDevice(o.dtype, o.device);
      const r = await generateDataset({ ...o, prompts: readPromptList(o.prompts), shard: parseShard(o.shard) }, print);
      print(`generate: ${r.generated} images made this run; ${o.out} holds ${r.total} of this shard's prompts`);
    });

  program
    .command('check-shards')
    .description(
      'check that generate --shard outputs (one folder, or one per shard) are complete and consistent: one plan, every shard once, every image made',
    )
    .argument('<folders...>', 'DATA_DIR(s) written by generate')
    .action((folders: string[]) => {
      const s = checkShardSet(folders);
      print(
        `check-shards: complete: ${s.count} shard${s.count === 1 ? '' : 's'}, ${s.prompts} images, in ${s.folders.join(', ')}`,
      );
    });

  const d = defaultTrainConfig();
  program
    .command('train')
    .description('consistency-distill a student from the teacher on DATA_DIR (defaults = the seed recipe)')
    .requiredOption('--model <model>', 'teacher: a built-in model name, a manifest or its folder')
    .requiredOption('--data <dir>', 'DATA_DIR from `generate` (or images + captions.json)')
    .requiredOption('--out <dir>', 'RUN_DIR')
    .option('--config <file>', 'JSON file of training options (flags override it)')
    .option('--resume', "continue from RUN_DIR's latest checkpoint", false)
    .option('--dry-run', 'print the resolved config and stop', false)
    .option('--steps <n>', 'optimizer steps', positiveInt, d.steps)
    .option('--num-scales <n>', 'Karras discretisation N', positiveInt, d.numScales)
    .option('--guidance <w>', 'teacher CFG weight', finiteNumber, d.guidance)
    .addOption(
      new Option('--teacher-solver <name>', 'teacher ODE step').choices(['euler', 'heun']).default(d.teacherSolver),
    )
    .option(
      '--target-ema <mu>',
      'EMA decay of the target network (0 = the student, stop-grad)',
      finiteNumber,
      d.targetEma,
    )
    .option('--ema <mu>', 'keep an EMA copy of the student for sampling, with this decay', finiteNumber)
    .option('--skip <k>', 'skip-step: the teacher jumps k Karras levels', positiveInt, d.skip)
    .option(
      '--boundary-condition',
      "consistency-model parametrization: c_skip(σ_min) = 1, c_out(σ_min) = 0 (the seed keeps EDM's)",
      d.boundaryCondition,
    )
    .addOption(new Option('--loss <kind>', 'distance').choices(['huber', 'l2']).default(d.loss))
    .option('--huber-c <c>', 'pseudo-Huber c', finiteNumber, d.huberC)
    .option('--lr <lr>', 'AdamW learning rate', finiteNumber, d.lr)
    .option('--betas <b1,b2>', 'AdamW betas', numberPair, d.betas)
    .option('--eps <eps>', 'AdamW eps', finiteNumber, d.eps)
    .option('--weight-decay <wd>', 'AdamW decoupled weight decay', finiteNumber, d.weightDecay)
    .option('--warmup-steps <n>', 'linear warmup steps, then constant', nonNegativeInt, d.warmupSteps)
    .option(
      '--lr-decay-from <step>',
      'from this step the learning rate falls linearly to 0 at the last step (default: constant)',
      nonNegativeInt,
    )
    .option('--grad-clip <norm>', 'gradient-norm clip', finiteNumber, d.gradClip)
    .option(
      '--batch-size <n>',
      'micro-batch size, global: with several ranks each takes an equal share',
      positiveInt,
      d.batchSize,
    )
    .option('--grad-accumulation <n>', 'micro-batches per optimizer step', positiveInt, d.gradAccumulation)
    .option('--seed <n>', 'training seed (data order, σ indices, noise)', nonNegativeInt, d.seed)
    .option('--validate-every <n>', 'validation grid every n steps', positiveInt, d.validateEvery)
    .option('--checkpoint-every <n>', 'checkpoint every n steps', positiveInt, d.checkpointEvery)
    .option('--validation-prompt <text>', 'validation prompt (repeatable; default: the first 4 captions)', collect)
    .option('--validation-steps <n>', 'consistency steps of validation images', positiveInt, d.validationSteps)
    .option(
      '--guidance-embedding',
      'LCM-style w-conditioning: one student for a range of guidance weights',
      d.guidanceEmbedding,
    )
    .option(
      '--guidance-range <lo,hi>',
      'range w is sampled from with --guidance-embedding',
      numberPair,
      d.guidanceRange,
    )
    .addOption(
      new Option('--precision <p>', 'autocast on CUDA (fp32 on CPU regardless)')
        .choices(['bf16', 'fp16', 'fp32'])
        .default(d.precision),
    )
    .addOption(
      new Option('--teacher-dtype <dtype>', 'teacher weights on CUDA')
        .choices(['bfloat16', 'float16', 'float32'])
        .default(d.teacherDtype),
    )
    .addOption(deviceOption())
    .option(
      '--nproc <n>',
      'start n ranks on this machine (data parallel; --device cuda gives rank r cuda:r); without it, the torchrun variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) say whether this process is one rank of several',
      positiveInt,
    )
    .option('--stop-after <n>', 'stop after n steps in this process, as if killed (for tests of resume)', positiveInt)
    .action(async (o, cmd: Command) => {
      const { nproc, stopAfter, ...flags } = o;
      const config = resolveTrainConfig(flags, cmd);
      if (o.dryRun) {
        print(JSON.stringify(config, null, 2));
        return;
      }
      const world = readLaunchEnv();
      if (nproc !== undefined && nproc > 1) {
        if (world) throw new Error('--nproc starts the ranks itself; under a launcher (RANK is set) leave it out');
        // Every rank runs this same command line without --nproc, with its torchrun environment.
        process.exitCode = await launchLocalRanks({ nproc, argv: withoutOption(process.argv.slice(1), '--nproc') });
        return;
      }
      const r = await train(
        {
          model: o.model,
          data: o.data,
          out: o.out,
          config,
          device: o.device,
          resume: o.resume,
          ...(world ? { world } : {}),
          ...(stopAfter !== undefined ? { stopAfter } : {}),
        },
        print,
      );
      if (r.stoppedOnNonFinite) process.exitCode = 1;
      // A rank other than 0 writes no checkpoint, so it has none to name.
      else print(`train: done at step ${r.step}${r.lastCheckpoint ? `; checkpoint ${r.lastCheckpoint}` : ''}`);
    });

  program
    .command('export-student')
    .description(
      "a distilled student as a small folder to ship: its weights and the teacher it samples with (not the run's target, optimizer or RNG state); sample, grid, bench and demo --student take it",
    )
    .requiredOption('--checkpoint <path>', 'a checkpoint folder, or RUN_DIR for its latest')
    .requiredOption('--out <dir>', 'the folder to write (cdistill-student.json, student.safetensors)')
    .addOption(
      new Option('--dtype <dtype>', 'precision of the stored weights').choices(EXPORT_DTYPES).default('float16'),
    )
    .option('--ema', "export the run's EMA copy of the student", false)
    .action(async (o) => {
      await exportStudent(o, print);
    });

  program
    .command('sample')
    .description('the student makes images in 1..8 consistency steps')
    .requiredOption('--checkpoint <path>', 'a checkpoint folder, RUN_DIR for its latest, or an exported student')
    .option('--prompt <text>', 'prompt (repeatable)', collect)
    .option('--prompts <file>', 'JSON list or text file of prompts')
    .requiredOption('--out <path>', 'x.png for one prompt, else a folder')
    .option('--steps <n>', 'consistency steps (1..8)', positiveInt, 4)
    .option('--seed <n>', 'noise seed of the batch', nonNegativeInt, 0)
    .option('--sigmas <list>', 'explicit descending sigma list instead of karras(steps)', numberList)
    .option(
      '--guidance-embedding-w <w>',
      'the w fed to a student trained with --guidance-embedding (default: the w it was distilled at); no CFG',
      finiteNumber,
    )
    .option('--ema', 'use the EMA copy of the student', false)
    .addOption(deviceOption())
    .action(async (o) => {
      const { guidanceEmbeddingW, ...rest } = o;
      await sample(
        {
          ...rest,
          prompts: promptsFrom(o),
          ...(guidanceEmbeddingW !== undefined ? { embeddedGuidance: guidanceEmbeddingW } : {}),
        },
        print,
      );
    });

  program
    .command('grid')
    .description('the steps-comparison figure: prompts × {1, 2, 4, 8} steps (grid.png + grid.json)')
    .requiredOption('--checkpoint <path>', 'a checkpoint folder, RUN_DIR for its latest, or an exported student')
    .option('--prompt <text>', 'prompt (repeatable)', collect)
    .option('--prompts <file>', 'JSON list or text file of prompts')
    .requiredOption('--out <file.png>', 'output PNG (grid.json is written beside it)')
    .option('--steps <list>', 'step counts, the columns', intList, [1, 2, 4, 8])
    .option('--seed <n>', 'noise seed (row i uses seed + i)', nonNegativeInt, 0)
    .option('--scale <k>', 'enlarge the figure k× (nearest neighbour)', positiveInt, 1)
    .option('--ema', 'use the EMA copy of the student', false)
    .addOption(deviceOption())
    .action(async (o) => {
      await grid({ ...o, prompts: promptsFrom(o), stepsList: o.steps }, print);
    });

  program
    .command('bench')
    .description(
      'PartiPrompts through the student and the teacher (--no-teacher: the student only): NNNN.png, prompts.txt, summary.json',
    )
    .requiredOption('--checkpoint <path>', 'a checkpoint folder, RUN_DIR for its latest, or an exported student')
    .option('--tsv <file>', 'prompt file, column Prompt (default: the bundled PartiPrompts.tsv)', BENCH_DEFAULTS.tsv)
    .requiredOption('--out <dir>', 'output folder (the teacher writes to <dir>-teacher)')
    .option('--n <n>', 'first N prompts', positiveInt, BENCH_DEFAULTS.n)
    .option('--steps <n>', 'student consistency steps', positiveInt, BENCH_DEFAULTS.steps)
    .option('--batch <n>', 'batch size', positiveInt, BENCH_DEFAULTS.batch)
    .option(
      '--seed <n>',
      'base seed; the batch starting at prompt i uses seed + i',
      nonNegativeInt,
      BENCH_DEFAULTS.seed,
    )
    .option('--no-teacher', 'skip the teacher (by default it runs on the same prompts and noise, for the comparison)')
    .option('--teacher-steps <n>', 'teacher Heun steps', positiveInt, BENCH_DEFAULTS.teacherSteps)
    .option('--teacher-guidance <w>', 'teacher CFG weight', finiteNumber, BENCH_DEFAULTS.teacherGuidance)
    .option('--ema', 'use the EMA copy of the student', false)
    .option('--metrics', 'then CLIP score per setting and CLIP-feature FD/KID student vs teacher (metrics.json)', false)
    .option(
      '--clip <spec>',
      'CLIP for --metrics: a folder with open_clip_config.json, or hf://<owner>/<repo>',
      BENCH_DEFAULTS.clip,
    )
    .option(
      '--metrics-batch <n>',
      'images per CLIP (and Inception) forward pass',
      positiveInt,
      BENCH_DEFAULTS.metricsBatch,
    )
    .option(
      '--inception <weights>',
      'with --metrics, also FID/KID vs the teacher on FID Inception features (pt_inception-2015-12-05-6726825d.pth)',
    )
    .addOption(deviceOption())
    .action(async (o) => {
      await bench(o, print);
    });

  program
    .command('compare')
    .description('Fréchet distance and KID between two folders of images (CLIP features; FID with --inception)')
    .argument('<dir-a>', 'a folder of images (png, jpg, webp)')
    .argument('<dir-b>', 'another folder of images')
    .option('--clip <spec>', 'a folder with open_clip_config.json, or hf://<owner>/<repo>', BENCH_DEFAULTS.clip)
    .option('--no-clip', 'no CLIP features (with --inception)')
    .option('--inception <weights>', 'also FID/KID on FID Inception features (pt_inception-2015-12-05-6726825d.pth)')
    .option('--batch <n>', 'images per forward pass', positiveInt, BENCH_DEFAULTS.metricsBatch)
    .option('--seed <n>', "seed of KID's random subsets", nonNegativeInt, 0)
    .option('--out <file.json>', 'also write the numbers here')
    .addOption(deviceOption())
    .action(async (a: string, b: string, o) => {
      await compare(a, b, o, print);
    });

  program
    .command('report')
    .description('write one self-contained report.html for a run folder')
    .argument('<run-dir>', 'RUN_DIR (config.json, log.jsonl, validation/, grid.png, bench/, metrics.json)')
    .option('--out <path>', 'output file (default: RUN_DIR/report.html)')
    .option('--title <title>', 'page title')
    .action(async (dir: string, o: { out?: string; title?: string }) => {
      print(await writeReport(dir, o));
    });
}

/** Config file, then flags given on the command line; zod fills and checks the rest. */
export function resolveTrainConfig(o: Record<string, unknown>, cmd: Command): TrainConfig {
  const fromFile = (typeof o.config === 'string' ? readJson(o.config, 'training config') : {}) as Record<
    string,
    unknown
  >;
  const keys = Object.keys(TrainOptionsSchema.shape) as (keyof TrainConfig)[];
  const flags: Record<string, unknown> = {};
  for (const k of keys) {
    const flag = k === 'validationPrompts' ? 'validationPrompt' : k;
    if (cmd.getOptionValueSource(flag) === 'cli') flags[k] = o[flag];
    else if (!(k in fromFile) && o[flag] !== undefined) flags[k] = o[flag];
  }
  return parseWith(
    TrainConfigSchema,
    { ...fromFile, ...flags },
    typeof o.config === 'string' ? o.config : 'train options',
  );
}
