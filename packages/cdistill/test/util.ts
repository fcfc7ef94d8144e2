// Paths to the repository's golden reference cases (reference/) and the package's bundled data:
// compiled tests run from packages/cdistill/dist/test/, the repo root is four levels up.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const referenceDir = join(repoRoot, 'reference');
export { BUNDLED_VOCAB as vocabPath, PARTI_PROMPTS as partiPromptsPath } from '../src/assets.js';

/** The compiled CLI, for tests that run it as a child process. */
export const cliPath = join(repoRoot, 'packages', 'cdistill', 'dist', 'src', 'cli.js');

/** Runs the CLI with `args` and kills it with SIGKILL (no chance to clean up) once `ready()` holds. */
export async function killWhen(args: string[], ready: () => boolean): Promise<void> {
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: 'ignore' });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const deadline = Date.now() + 60_000;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error('the child never reached the kill point');
    if (child.exitCode !== null) throw new Error('the child finished before it could be killed: make the run longer');
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  await exited;
}
