// `cdistill compare <dirA> <dirB>`: CLIP-feature Fréchet distance and KID between two folders of
// images (student vs teacher, or either vs a folder of reference pictures); no prompts needed.
import { frechetDistance } from '../metrics/frechet.js';
import { kernelDistance } from '../metrics/kid.js';
import { writeJsonAtomic } from '../util/fs.js';
import { ClipFeaturizer, imageFilesIn } from './clip-features.js';

export interface CompareOptions {
  clip: string;
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
  clip_model: string;
  fd: number;
  kid: number;
}

export async function compare(
  dirA: string,
  dirB: string,
  o: CompareOptions,
  print: (l: string) => void,
): Promise<CompareResult> {
  const filesA = imageFilesIn(dirA);
  const filesB = imageFilesIn(dirB);
  const f = await ClipFeaturizer.load(o.clip, { device: o.device, batch: o.batch, quiet: o.quiet });
  try {
    const a = await f.imageFeatures(filesA, `CLIP features ${dirA}`);
    const b = await f.imageFeatures(filesB, `CLIP features ${dirB}`);
    try {
      const r: CompareResult = {
        a: { dir: dirA, images: filesA.length },
        b: { dir: dirB, images: filesB.length },
        clip_model: o.clip,
        fd: frechetDistance(a, b),
        kid: kernelDistance(a, b, { seed: o.seed }),
      };
      if (o.out !== undefined) writeJsonAtomic(o.out, r);
      print(`compare: ${filesA.length} vs ${filesB.length} images: FD ${r.fd.toFixed(4)}, KID ${r.kid.toFixed(5)}`);
      return r;
    } finally {
      a.dispose();
      b.dispose();
    }
  } finally {
    f.dispose();
  }
}
