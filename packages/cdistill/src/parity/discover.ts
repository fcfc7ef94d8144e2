// Finds parity cases under a folder, recursively, by the layouts of reference/README.md:
//   MicroDiT    <case>.json with "dit_config" (+ .teacher/.student/.io.safetensors)
//   VAE         <name>/config.json beside <name>.io.safetensors
//   tokenizer   *tokenizer*cases*.json
//   text tower  <name>.json with "config" (+ <name>.safetensors|.pt and <name>.io.safetensors)
//   CLIP model  <name>.json with "clip_config" (+ <name>.safetensors and <name>.io.safetensors)
//   Inception   <name>.json with "inception_config" (+ <name>.pth|.pt|.safetensors and <name>.io.safetensors)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

export type ParityCase =
  | { kind: 'microdit'; json: string }
  | { kind: 'vae'; dir: string; io: string }
  | { kind: 'tokenizer'; json: string }
  | { kind: 'clip-text'; json: string }
  | { kind: 'clip-model'; json: string }
  | { kind: 'inception'; json: string };

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
}

function jsonKeys(path: string): string[] {
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.keys(v) : [];
  } catch {
    return [];
  }
}

export function discoverCases(root: string): ParityCase[] {
  if (!existsSync(root)) throw new Error(`parity: ${root} does not exist`);
  const files: string[] = [];
  walk(root, files);
  const cases: ParityCase[] = [];
  for (const f of files) {
    const name = basename(f);
    if (name === 'config.json') {
      const dir = f.slice(0, -'/config.json'.length);
      if (existsSync(`${dir}.io.safetensors`)) cases.push({ kind: 'vae', dir, io: `${dir}.io.safetensors` });
      continue;
    }
    if (!name.endsWith('.json')) continue;
    if (/tokenizer.*cases.*\.json$/.test(name)) {
      cases.push({ kind: 'tokenizer', json: f });
      continue;
    }
    const keys = jsonKeys(f);
    if (keys.includes('dit_config')) cases.push({ kind: 'microdit', json: f });
    else if (keys.includes('inception_config') && existsSync(f.replace(/\.json$/, '.io.safetensors')))
      cases.push({ kind: 'inception', json: f });
    else if (keys.includes('clip_config') && existsSync(f.replace(/\.json$/, '.io.safetensors')))
      cases.push({ kind: 'clip-model', json: f });
    else if (keys.includes('config') && existsSync(f.replace(/\.json$/, '.io.safetensors')))
      cases.push({ kind: 'clip-text', json: f });
  }
  return cases;
}
