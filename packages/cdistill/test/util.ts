// Paths to the shared reference data: compiled tests run from packages/cdistill/dist/test/, the repo
// root is four levels up, and shared/ sits beside the repo.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const sharedDir = join(repoRoot, '..', 'shared');
export const referenceDir = join(sharedDir, 'reference');
export const vocabPath = join(sharedDir, 'data', 'bpe_simple_vocab_16e6.txt.gz');
