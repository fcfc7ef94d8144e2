// `cdistill compare <dirA> <dirB>`: Fréchet distance and KID between two folders of images (student
// vs teacher, or either vs a folder of reference pictures); no prompts needed. In CLIP feature space
// by default, and in the FID Inception's (the FID papers quote) when its weights are given.
import type * as torch from '@cdistill/torch';

import { frechetDistance } from '../metrics/frechet.js';
import { kernelDistance } from '../metrics/kid.js';
import { writeJsonAtomic } from '../util/fs.js';
import { ClipFeaturizer, imageFilesIn } from './clip-features.js';
import { InceptionFeaturizer } from './inception-features.js';

export interface CompareOptions {
  /** A CLIP folder or hf:// repository; false skips the CLIP features. */
  clip: string | false;
  /** FID Inception weights (pt_inception-2015-12-05-6726825d.pth): also FID and KID on its features. */
  inception?: string;
  device: string;
  batch: number;
  seed: number;
  /** Also write the result here (JSON). */
  out?: string;
  quiet?: boolean;
}

export interface CompareResult {
  a: { dir: string; images: number };
  b: { dir: string; images: number };
  /** CLIP-feature distances (absent with --no-clip). */
  clip_model?: string;
  fd?: number;
  kid?: number;
  /** Inception-feature distances: `fid` is the FID of the papers (for these two sets). */
  inception?: { weights: string; fid: number; kid: number };
}

interface Featurizer {
  imageFeatures(paths: readonly string[], label: string): Promise<torch.Tensor>;
  dispose(): void;
}

/** Both folders' features from one extractor, then FD and KID between them. */
async function distances(
  f: Featurizer,
  kind: string,
  files: [string[], string[]],
  dirs: [string, string],
  seed: number,
): Promise<{ fd: number; kid: number }> {
  try {
    const a = await f.imageFeatures(files[0], `${kind} features ${dirs[0]}`);
    try {
      const b = await f.imageFeatures(files[1], `${kind} features ${dirs[1]}`);
      try {
        return { fd: frechetDistance(a, b), kid: kernelDistance(a, b, { seed }) };
      } finally {
        b.dispose();
      }
    } finally {
      a.dispose();
    }
  } finally {
    f.dispose();
  }
}

export async function compare(
  dirA: string,
  dirB: string,
  o: CompareOptions,
  print: (l: string) => void,
): Promise<CompareResult> {
  if (o.clip === false && o.inception === undefined)
    throw new Error('compare: nothing to compute: --no-clip needs --inception <weights>');
  const files: [string[], string[]] = [imageFilesIn(dirA), imageFilesIn(dirB)];
  const dirs: [string, string] = [dirA, dirB];
  const fo = { device: o.device, batch: o.batch, quiet: o.quiet };
  const r: CompareResult = { a: { dir: dirA, images: files[0].length }, b: { dir: dirB, images: files[1].length } };
  const head = `compare: ${files[0].length} vs ${files[1].length} images`;
  if (o.clip !== false) {
    const d = await distances(await ClipFeaturizer.load(o.clip, fo), 'CLIP', files, dirs, o.seed);
    Object.assign(r, { clip_model: o.clip, fd: d.fd, kid: d.kid });
    print(`${head}: CLIP FD ${d.fd.toFixed(4)}, KID ${d.kid.toFixed(5)}`);
  }
  if (o.inception !== undefined) {
    const d = await distances(InceptionFeaturizer.load(o.inception, fo), 'Inception', files, dirs, o.seed);
    r.inception = { weights: o.inception, fid: d.fd, kid: d.kid };
    print(`${head}: Inception FID ${d.fd.toFixed(4)}, KID ${d.kid.toFixed(5)}`);
  }
  if (o.out !== undefined) writeJsonAtomic(o.out, r);
  return r;
}
