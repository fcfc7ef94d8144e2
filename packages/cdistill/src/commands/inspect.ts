// `cdistill inspect <file-or-folder>`: every tensor's name, dtype, shape and bytes, read from headers
// and pickles only (no tensor data), and which known architecture it is. Unsafe pickles are refused
// by the unpickler with the offending global named; nothing in them runs.
import { existsSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

import * as torch from '@cdistill/torch';

import { detectArchitecture } from '../models/detect.js';

interface Entry {
  name: string;
  dtype: torch.DType;
  shape: readonly number[];
}

const FOLDER_WEIGHTS = [
  'diffusion_pytorch_model.safetensors',
  'diffusion_pytorch_model.bin',
  'open_clip_model.safetensors',
  'open_clip_pytorch_model.bin',
  'model.safetensors',
  'pytorch_model.bin',
];

export function weightsFileOf(path: string): string {
  if (!statSync(path).isDirectory()) return path;
  for (const f of FOLDER_WEIGHTS) if (existsSync(join(path, f))) return join(path, f);
  throw new Error(`${path}: no weights file found (looked for ${FOLDER_WEIGHTS.join(', ')})`);
}

export function listTensors(file: string): Entry[] {
  const ext = extname(file).toLowerCase();
  if (ext === '.safetensors')
    return torch.io.readSafetensorsHeader(file).entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape }));
  if (['.pt', '.pth', '.bin', '.ckpt'].includes(ext)) {
    const ckpt = torch.io.readTorchCheckpoint(file);
    return [...torch.io.flattenStateDict(ckpt.value, file)].map(([name, t]) => ({
      name,
      dtype: t.dtype,
      shape: t.shape,
    }));
  }
  throw new Error(`${file}: unknown checkpoint format '${ext}' (expected .safetensors, .pt, .pth, .bin or .ckpt)`);
}

export function inspect(path: string, print: (line: string) => void): void {
  if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
  const file = weightsFileOf(path);
  const entries = listTensors(file);
  const width = Math.max(4, ...entries.map((e) => e.name.length));
  let total = 0;
  let params = 0;
  print(`${'name'.padEnd(width)}  ${'dtype'.padEnd(8)}  ${'shape'.padEnd(20)}  bytes`);
  for (const e of entries) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    const bytes = n * torch.BYTES_PER_ELEMENT[e.dtype];
    total += bytes;
    params += n;
    print(`${e.name.padEnd(width)}  ${e.dtype.padEnd(8)}  ${`[${e.shape.join(', ')}]`.padEnd(20)}  ${bytes}`);
  }
  print(
    `${entries.length} tensors, ${params.toLocaleString('en-US')} elements, ${(total / 2 ** 20).toFixed(1)} MiB (${file})`,
  );
  print(`architecture: ${detectArchitecture(new Map(entries.map((e) => [e.name, e.shape])))}`);
}
