// One VAE parity case: a diffusers folder plus an io file with `in.image`, `in.eps` and the
// expected `out.*` computed upstream in float64. Each stage is checked from the reference's own
// input to that stage (the decoder from `out.latents_scaled`), so an error points at one stage;
// `decoded_end_to_end` then checks the whole chain from the image. The reference outputs are
// stored in float32, so float64 runs bottom out near 3e-8, not at float64 round-off.
import * as torch from '@cdistill/torch';

import { AutoencoderKL } from '../models/vae/index.js';
import { relativeError, toleranceFor, type ParityCheck } from './checks.js';

export { relativeError };

export function runVaeParityCase(
  dir: string,
  ioPath: string,
  dtype: 'float32' | 'float64',
  o: { device?: string } = {},
): ParityCheck[] {
  const tol = toleranceFor(dtype);
  const name = dir.split('/').pop() as string;
  // Parity measures the model at the requested dtype, so no silent float32 decoder.
  const vae = AutoencoderKL.fromFolder(dir, { dtype, device: o.device, upcastDecoder: false });
  try {
    return torch.tidy(() =>
      torch.noGrad(() => {
        const io = torch.io.loadSafetensors(ioPath);
        const get = (name: string): torch.Tensor => {
          const t = io.get(name);
          if (t === undefined) throw new Error(`${ioPath}: no tensor '${name}'`);
          return t;
        };
        const dist = vae.encode(get('in.image'));
        const latents = vae.sampleLatents(dist, get('in.eps'));
        const decoded = vae.decode(get('out.latents_scaled'));
        // [check, ours, reference key]
        const results: [string, torch.Tensor, string][] = [
          ['mean', dist.mean, 'out.mean'],
          ['logvar', dist.logvar, 'out.logvar'],
          ['latents_scaled', latents, 'out.latents_scaled'],
          ['decoded', decoded, 'out.decoded'],
          [
            'image01',
            vae.toImage01(get('out.decoded').toOptions({ dtype: decoded.dtype, device: decoded.device })),
            'out.image01',
          ],
          ['decoded_end_to_end', vae.decode(latents), 'out.decoded'],
        ];
        return results.map(([check, ours, refKey]) => {
          const relErr = relativeError(ours, get(refKey));
          return { check: `${name} ${dtype} ${check} (vs ${refKey})`, relErr, tol, pass: relErr <= tol };
        });
      }),
    );
  } finally {
    vae.dispose();
  }
}
