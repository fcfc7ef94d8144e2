// The `cdistill` command tree (built separately from running it, so tests can inspect --help).
import { Command, Option } from 'commander';
import { defaultDevice } from '@cdistill/torch';

import { readPipelineConfig, runPipeline } from '../pipeline/run-pipeline.js';
import { generateOne } from './generate-one.js';
import { inspect } from './inspect.js';
import { finiteNumber, nonNegativeInt, positiveInt } from './options.js';
import { parity, type ParityDType } from './parity.js';
import { registerStages } from './stages.js';

export function buildProgram(print: (line: string) => void): Command {
  const program = new Command();
  program.name('cdistill').description('Consistency distillation of text-to-image diffusion models (MicroDiT) on libtorch').showHelpAfterError();

  program
    .command('parity')
    .description('run every golden case under a folder (MicroDiT, VAE, tokenizer, text tower) and report relative errors')
    .argument('<folder>', 'folder with cases in the shared/reference layout')
    .option('--vocab <path>', 'bpe_simple_vocab_16e6.txt.gz for tokenizer cases (default: found near the folder)')
    .addOption(new Option('--dtype <dtype>', 'precision to run in').choices(['float32', 'float64', 'both']).default('both'))
    .action((folder: string, o: { vocab?: string; dtype: string }) => {
      const dtypes = (o.dtype === 'both' ? ['float32', 'float64'] : [o.dtype]) as ParityDType[];
      const { failed } = parity(folder, { vocab: o.vocab, dtypes }, print);
      process.exitCode = failed > 0 ? 1 : 0;
    });

  program
    .command('inspect')
    .description('list every tensor of a .safetensors/.pt/.bin file or a diffusers/open_clip folder, and name its architecture')
    .argument('<path>', 'checkpoint file or model folder')
    .action((path: string) => inspect(path, print));

  program
    .command('generate-one')
    .description('generate one image with a teacher: text encoder → MicroDiT Heun sampler with CFG → VAE → PNG')
    .requiredOption('--model <path>', 'model manifest (cdistill-model.json) or its folder')
    .requiredOption('--prompt <text>', 'the prompt')
    .requiredOption('--out <file.png>', 'output PNG path')
    .option('--steps <n>', "sampling steps (default: the model manifest's, else 30)", positiveInt)
    .option('--guidance <w>', "classifier-free guidance weight (default: the manifest's, else 5)", finiteNumber)
    .addOption(new Option('--solver <name>', 'teacher ODE solver').choices(['heun', 'euler']).default('heun'))
    .option('--seed <n>', 'random seed', nonNegativeInt, 2024)
    .option('--device <device>', 'cpu, cuda or cuda:N', defaultDevice())
    .addOption(new Option('--dtype <dtype>', 'model precision').choices(['float32', 'bfloat16', 'float16', 'float64']).default('float32'))
    .action((o) => generateOne(o, print));

  registerStages(program, print);

  program
    .command('pipeline')
    .description('run prompts → generate → train → grid → bench → report from one config, skipping finished stages')
    .requiredOption('--config <file>', 'pipeline config JSON (out, model, device, prompts, generate, train, grid, bench)')
    .action(async (o: { config: string }) => runPipeline(readPipelineConfig(o.config), print));

  return program;
}
