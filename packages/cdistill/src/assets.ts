// Data files the package ships (packages/cdistill/data, see its README): found here, relative to the
// installed package, so a clone, `npm link` and a global install all see the same files and nothing
// outside the package is read.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** packages/cdistill: this file runs from packages/cdistill/dist/src/. */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DATA_DIR = join(PACKAGE_ROOT, 'data');

/** The CLIP BPE merges' file name, as OpenCLIP and manifests name it. */
export const VOCAB_NAME = 'bpe_simple_vocab_16e6.txt.gz';
/** The CLIP BPE vocabulary (openai/CLIP, MIT). */
export const BUNDLED_VOCAB = join(DATA_DIR, VOCAB_NAME);
/** PartiPrompts (google-research/parti, Apache-2.0): `cdistill bench`'s default prompt file. */
export const PARTI_PROMPTS = join(DATA_DIR, 'PartiPrompts.tsv');
