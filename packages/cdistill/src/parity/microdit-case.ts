// A MicroDiT golden case (reference/README.md, microdit/): `<case>.json` with `dit_config`, teacher
// and student weights, and `<case>.io.safetensors` with inputs and expected outputs. Runs every
// output the io file names, so new cases in the same layout need no new code.
import { existsSync } from 'node:fs';

import * as torch from '@cdistill/torch';
import { z } from 'zod';

import { cdLoss } from '../diffusion/consistency.js';
import { consistencySample } from '../diffusion/consistency.js';
import { denoiser, guidedNetwork, heunSampler, karrasSigmas, MICRODIT_EDM, samplingSigmas } from '../diffusion/edm.js';
import { DiT, parseDitConfig } from '../models/microdit/index.js';
import { readJsonWith } from '../util/json.js';
import { check, toleranceFor, type ParityCheck } from './checks.js';

type Tensor = torch.Tensor;

function load(path: string): Map<string, Tensor> {
  if (!existsSync(path)) throw new Error(`parity case: ${path} is missing`);
  return torch.io.loadSafetensors(path);
}

export function runMicroDiTCase(jsonPath: string, dtype: torch.DType): ParityCheck[] {
  const base = jsonPath.replace(/\.json$/, '');
  const name = base.split('/').pop() as string;
  const cfg = parseDitConfig(
    readJsonWith(z.object({ dit_config: z.unknown() }), jsonPath, 'MicroDiT case').dit_config,
    jsonPath,
  );
  const io = load(`${base}.io.safetensors`);
  const get = (k: string): Tensor => {
    const t = io.get(k);
    if (t === undefined) throw new Error(`${base}.io.safetensors: no tensor '${k}'`);
    return t.dtype === 'int64' ? t : t.to(dtype);
  };
  const build = (weights: string) => {
    const m = new DiT(cfg, { dtype });
    m.loadStateDict(load(weights));
    return m.eval();
  };
  const teacher = build(`${base}.teacher.safetensors`);
  const forward = (m: DiT) => (x: Tensor, t: Tensor, y: Tensor) => m.forward(x, t, y).sample;
  const tol = toleranceFor(dtype);
  const out: ParityCheck[] = [];
  const has = (k: string) => io.has(k);
  const add = (k: string, ours: () => Tensor) => {
    if (has(k)) out.push(check(`${name} ${dtype} ${k}`, torch.tidy(ours), get(k), tol));
  };
  const sd = MICRODIT_EDM.sigmaData;
  const x = get('in.x');
  const t = get('in.t');
  const y = get('in.y');

  torch.noGrad(() => {
    add('out.raw_out', () => forward(teacher)(x, t, y));
    add('out.raw_out_cfg3', () => guidedNetwork(forward(teacher), y, 3)(x, t));
    if (has('out.sigma')) {
      const sigma = get('out.sigma');
      add('out.denoised', () => denoiser(guidedNetwork(forward(teacher), y, 1), sd, dtype)(x, sigma));
      add('out.denoised_cfg5', () => denoiser(guidedNetwork(forward(teacher), y, 5), sd, dtype)(x, sigma));
    }
    if (has('out.heun_z')) {
      const z = get('out.heun_z');
      add('out.heun_steps6_cfg5', () =>
        heunSampler(denoiser(guidedNetwork(forward(teacher), y, 5), sd, dtype), z, samplingSigmas(6)),
      );
      if (has('out.cs_noises')) {
        const noises = get('out.cs_noises');
        add('out.cs_steps4', () =>
          consistencySample(denoiser(guidedNetwork(forward(teacher), y, 1), sd, dtype), z, karrasSigmas(4), (i) =>
            noises.select(0, i),
          ),
        );
      }
    }
  });

  if (has('out.cd_loss')) {
    const student = build(`${base}.student.safetensors`);
    const sigmas = karrasSigmas(get('out.cd_sigmas').numel);
    add('out.cd_sigmas', () => torch.tensor(sigmas, { dtype }));
    const teacherD = denoiser(guidedNetwork(forward(teacher), y, 5), sd, dtype);
    const studentD = denoiser(guidedNetwork(forward(student), y, 1), sd, dtype);
    const terms = cdLoss(
      studentD,
      studentD,
      teacherD,
      { latents: get('out.cd_latents'), noise: get('out.cd_noise'), index: get('out.cd_index') },
      { sigmas },
    );
    add('out.cd_x_t', () => terms.xT);
    add('out.cd_pred', () => terms.pred.detach());
    add('out.cd_target', () => terms.target);
    add('out.cd_loss', () => terms.loss.detach().reshape(1));
    terms.loss.backward();
    const params = new Map(student.namedParameters());
    for (const k of io.keys()) {
      if (!k.startsWith('out.cd_grad.')) continue;
      const pname = k.slice('out.cd_grad.'.length);
      const p = params.get(pname);
      if (p === undefined) throw new Error(`${base}.io.safetensors: '${k}' names no student parameter`);
      add(k, () => p.grad ?? torch.zerosLike(p));
    }
    student.dispose();
  }
  teacher.dispose();
  return out;
}
