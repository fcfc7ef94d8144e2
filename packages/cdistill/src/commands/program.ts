// The `cdistill` command tree (built separately from running it, so tests can inspect --help).
import { Command, Option } from 'commander';
import { setNumThreads } from '@cdistill/torch';

import { demo, RECIPE_VARIANT_NAMES } from '../demo/demo.js';
import { hubFile, hubFolder } from '../hub/download.js';
import { isHubUri, parseHubUri } from '../hub/uri.js';
import { BUILTIN_MODELS, builtinNames } from '../models/builtin.js';
import { downloadModel } from '../models/download.js';
import { formatIssues } from '../models/manifest.js';
import { readPipelineConfig, runPipeline } from '../pipeline/run-pipeline.js';
import { trainTeacher } from '../pipeline/train-teacher.js';
import { TeacherConfigSchema } from '../training/teacher-config.js';
import { generateOne } from './generate-one.js';
import { inspect } from './inspect.js';
import { checkDtypeOnDevice, choiceList, deviceOption, finiteNumber, nonNegativeInt, positiveInt } from './options.js';
import { parity, type ParityDType } from './parity.js';
import { registerStages } from './stages.js';

export function buildProgram(print: (line: string) => void): Command {
  const program = new Command();
  program
    .name('cdistill')
    .description('Consistency distillation of text-to-image diffusion models (MicroDiT) on libtorch')
    .showHelpAfterError('(cdistill <command> --help lists its options)');

  program
    .command('parity')
    .description(
      'run every golden case under a folder (MicroDiT, VAE, tokenizer, text tower) and report relative errors',
    )
    .argument('<folder>', "folder of golden cases laid out as the repository's reference/ (reference/README.md)")
    .option(
      '--vocab <path>',
      'bpe_simple_vocab_16e6.txt.gz for tokenizer cases (default: one near the folder, else the bundled one)',
    )
    .addOption(
      new Option('--dtype <dtype>', 'precision to run in').choices(['float32', 'float64', 'both']).default('both'),
    )
    .action((folder: string, o: { vocab?: string; dtype: string }) => {
      const dtypes = (o.dtype === 'both' ? ['float32', 'float64'] : [o.dtype]) as ParityDType[];
      const { failed } = parity(folder, { vocab: o.vocab, dtypes }, print);
      process.exitCode = failed > 0 ? 1 : 0;
    });

  program
    .command('inspect')
    .description(
      'list every tensor of a .safetensors/.pt/.bin file or a diffusers/open_clip folder, and name its architecture',
    )
    .argument('<path>', 'checkpoint file or model folder')
    .action((path: string) => inspect(path, print));

  program
    .command('generate-one')
    .description('generate one image with a teacher: text encoder → MicroDiT Heun sampler with CFG → VAE → PNG')
    .requiredOption(
      '--model <model>',
      'a built-in model name (cdistill models), a manifest (cdistill-model.json) or its folder',
    )
    .requiredOption('--prompt <text>', 'the prompt')
    .requiredOption('--out <file>', 'output image: .png, .jpg/.jpeg or .webp (the format follows the extension)')
    .option('--steps <n>', "sampling steps (default: the model manifest's, else 30)", positiveInt)
    .option('--guidance <w>', "classifier-free guidance weight (default: the manifest's, else 5)", finiteNumber)
    .addOption(new Option('--solver <name>', 'teacher ODE solver').choices(['heun', 'euler']).default('heun'))
    .option('--seed <n>', 'random seed', nonNegativeInt, 2024)
    .addOption(deviceOption())
    .addOption(
      new Option('--dtype <dtype>', 'model precision')
        .choices(['float32', 'bfloat16', 'float16', 'float64'])
        .default('float32'),
    )
    .action((o) => {
      checkDtypeOnDevice(o.dtype, o.device);
      return generateOne(o, print);
    });

  program
    .command('download')
    .description("fetch a model's hf:// parts (or one hf:// file or folder) into the Hugging Face cache")
    .argument(
      '<model>',
      `a built-in model (${builtinNames().join(', ')}), a manifest, or an hf://[datasets/]<owner>/<repo>/<path>[@<revision>]`,
    )
    .addHelpText(
      'after',
      "\nThe cache is Python huggingface_hub's: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub, so files\n" +
        'downloaded from Python are reused. HF_TOKEN authenticates gated repositories; HF_ENDPOINT names a mirror;\n' +
        'HF_HUB_OFFLINE=1 uses only the cache. A killed download resumes; every file is checked against the hash the Hub reports.',
    )
    .action(async (model: string) => {
      if (isHubUri(model)) {
        const ref = parseHubUri(model);
        const path = await hubFile(ref, { print }).catch(async (e: Error) =>
          e.message.includes('is a folder') ? hubFolder(ref, undefined, { print }) : Promise.reject(e),
        );
        print(`download: ${model} → ${path}`);
        return;
      }
      const paths = await downloadModel(model, { print });
      for (const [key, path] of paths) print(`download: ${key} → ${path}`);
      print(
        `download: ${model}: ${paths.size === 0 ? 'nothing on the Hub to fetch' : `${paths.size} part${paths.size === 1 ? '' : 's'} in the cache`}`,
      );
    });

  program
    .command('models')
    .description('list the built-in models (use their names with --model)')
    .action(() => {
      for (const [name, m] of Object.entries(BUILTIN_MODELS))
        print(`${name.padEnd(26)} ${m.about}\n${' '.repeat(27)}${m.manifest.dit.weights}`);
    });

  registerStages(program, print);

  const t = TeacherConfigSchema.parse({});
  program
    .command('train-teacher')
    .description(
      "train a teacher (DiT + text tower jointly) on a world with micro_diffusion's EDM objective; exports a model folder",
    )
    .addOption(new Option('--world <name>', 'the world to learn').choices(['shapes']).default('shapes'))
    .requiredOption('--out <dir>', 'model folder to write (resumes if it holds a checkpoint)')
    .option('--vocab <file>', 'CLIP BPE vocabulary (default: the bundled bpe_simple_vocab_16e6.txt.gz)')
    .option(
      '--init-from <dir>',
      'continue a teacher this command exported, when --out holds no checkpoint (its weights, from its step; fresh optimizer)',
    )
    .option('--steps <n>', 'optimizer steps', positiveInt, t.steps)
    .option('--batch-size <n>', 'images per step', positiveInt, t.batchSize)
    .option('--lr <lr>', 'AdamW learning rate', finiteNumber, t.lr)
    .option('--weight-decay <wd>', 'AdamW weight decay', finiteNumber, t.weightDecay)
    .option(
      '--text-lr-scale <x>',
      "the text tower's learning rate as a multiple of --lr (0 = frozen at its random init)",
      finiteNumber,
      t.textLrScale,
    )
    .option('--warmup-steps <n>', 'linear warmup steps', nonNegativeInt, t.warmupSteps)
    .option('--grad-clip <norm>', 'gradient-norm clip', finiteNumber, t.gradClip)
    .option('--ema <mu>', 'EMA decay of the exported weights', finiteNumber, t.ema)
    .option('--caption-dropout <p>', 'share of captions replaced by the zero embedding', finiteNumber, t.captionDropout)
    .option('--mask-ratio <r>', 'patch masking ratio (0 = off)', finiteNumber, t.maskRatio)
    .option('--seed <n>', 'seed of weights, data and noise', nonNegativeInt, t.seed)
    .option('--checkpoint-every <n>', 'checkpoint every n steps', positiveInt, t.checkpointEvery)
    .option(
      '--p-mean <m>',
      "log-normal σ mean of the loss (default: the model's; shapes 0.5, MicroDiT -0.6)",
      finiteNumber,
    )
    .option(
      '--p-std <s>',
      "log-normal σ std of the loss (default: the model's; shapes 1.5, MicroDiT 1.2)",
      finiteNumber,
    )
    .option(
      '--lr-decay-from <step>',
      'from this step the learning rate falls linearly to 0 at the last step (none if past the last step)',
      nonNegativeInt,
      t.lrDecayFrom,
    )
    .option(
      '--open-captions-from <step>',
      'before this step every caption names all attributes; from it on captions leave some open',
      nonNegativeInt,
      t.openCaptionsFrom,
    )
    .addOption(
      new Option('--target <kind>', "what the denoiser matches: the world's exact posterior mean, or the sampled x0")
        .choices(['posterior-mean', 'sample'])
        .default(t.target),
    )
    .addOption(
      new Option('--export-weights <which>', 'weights the exported teacher gets')
        .choices(['ema', 'raw'])
        .default(t.exportWeights),
    )
    .option('--threads <n>', 'CPU threads for libtorch', positiveInt)
    .addOption(deviceOption())
    .action(async (o) => {
      if (o.threads) setNumThreads(o.threads);
      const { world, out, vocab, device, initFrom, threads: _t, ...rest } = o;
      const parsed = TeacherConfigSchema.safeParse(rest);
      if (!parsed.success) throw new Error(formatIssues('train-teacher options', parsed.error));
      const r = await trainTeacher({ world, out, vocab, device, initFrom, config: parsed.data }, print);
      if (r.stoppedOnNonFinite) process.exitCode = 1;
      else print(`train-teacher: ${r.step} steps; model folder ${r.dir}`);
    });

  program
    .command('demo')
    .description(
      'the embedded default end to end on this machine: bundled shapes teacher → dataset → distilled student → evaluation → report.html + metrics.json',
    )
    .option('--out <dir>', 'output folder', 'demo-out')
    .option('--quick', 'a one-minute run that checks the path, not quality', false)
    .option('--teacher <dir>', 'teacher model folder (default: the bundled shapes teacher)')
    .option('--vocab <file>', 'CLIP BPE vocabulary (default: the bundled bpe_simple_vocab_16e6.txt.gz)')
    .option(
      '--variants <names>',
      `also distil and score these one-change variants of the demo's recipe, comma-separated (${RECIPE_VARIANT_NAMES.join(', ')}, or all); each adds 2–4 minutes on a 2-core CPU`,
      choiceList(RECIPE_VARIANT_NAMES),
    )
    .option(
      '--student <dir>',
      "a distilled student (export-student's folder or a checkpoint) to score beside the demo's own (default: the bundled one, when the teacher is the bundled teacher)",
    )
    // One thread by default: on the 2-core machine the demo's small DiT sampled 1.18× faster with one
    // libtorch thread than with two (docs/benchmarks.md).
    .option('--threads <n>', 'CPU threads for libtorch', positiveInt, 1)
    .addOption(deviceOption())
    .action(async (o) => {
      setNumThreads(o.threads);
      await demo(
        {
          out: o.out,
          quick: o.quick,
          teacher: o.teacher,
          device: o.device,
          vocab: o.vocab,
          variants: o.variants,
          student: o.student,
        },
        print,
      );
    });

  program
    .command('pipeline')
    .description('run prompts → generate → train → grid → bench → report from one config, skipping finished stages')
    .requiredOption(
      '--config <file>',
      'pipeline config JSON (out, model, device, prompts, generate, train, grid, bench)',
    )
    .action(async (o: { config: string }) => runPipeline(readPipelineConfig(o.config), print));

  return program;
}
