#!/usr/bin/env node
// The `cdistill` command: one subcommand per pipeline stage and tool. Each command's options, with
// their defaults, are listed by `cdistill <command> --help`.
import { buildProgram } from './commands/program.js';

const print = (line: string) => process.stdout.write(`${line}\n`);

try {
  await buildProgram(print).parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`cdistill: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
