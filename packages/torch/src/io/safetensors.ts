// safetensors files ↔ tensors. Reading goes tensor by tensor from file regions straight into tensor
// memory; writing produces one tensor's bytes at a time, so files larger than 4 GB work.
import { fromFileRegion } from '../factories.js';
import type { Tensor } from '../tensor.js';
import { readSafetensorsHeader, writeSafetensors, type SafetensorsEntry } from './safetensors-format.js';

export interface LoadOptions {
  device?: string;
  /** Only these names (others are not read at all). */
  select?: (name: string) => boolean;
}

export function loadSafetensorsEntry(path: string, e: SafetensorsEntry, device?: string): Tensor {
  const t = fromFileRegion(path, e.start, e.dtype, [...e.shape]);
  if (device === undefined || device === 'cpu') return t;
  const moved = t.to(device);
  t.dispose();
  return moved;
}

/** Every tensor of a safetensors file, by name, in file order. */
export function loadSafetensors(path: string, o: LoadOptions = {}): Map<string, Tensor> {
  const header = readSafetensorsHeader(path);
  const out = new Map<string, Tensor>();
  for (const e of header.entries) {
    if (o.select && !o.select(e.name)) continue;
    out.set(e.name, loadSafetensorsEntry(path, e, o.device));
  }
  return out;
}

/** The `__metadata__` string map of a safetensors file. */
export function readSafetensorsMetadata(path: string): Map<string, string> {
  return new Map(readSafetensorsHeader(path).metadata);
}

/** Writes tensors (any device, any layout) atomically: a temp file renamed into place. */
export function saveSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Map<string, string> | Record<string, string>,
): void {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  writeSafetensors(
    path,
    entries.map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape], bytes: () => t.toBytes() })),
    metadata,
  );
}
