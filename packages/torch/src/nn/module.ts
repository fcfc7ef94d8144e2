// nn.Module: parameters, buffers and child modules under dotted names that equal PyTorch's
// state-dict keys, so a checkpoint loads by one loop with shape checks.
import { noGrad } from '../autograd.js';
import type { DType } from '../dtype.js';
import { keep } from '../scope.js';
import { Tensor, type Device } from '../tensor.js';

export type StateDict = Map<string, Tensor>;

export interface LoadResult {
  missing: string[];
  unexpected: string[];
}

export class StateDictError extends Error {
  constructor(
    message: string,
    readonly missing: string[],
    readonly unexpected: string[],
    readonly mismatched: string[],
  ) {
    super(message);
    this.name = 'StateDictError';
  }
}

export abstract class Module {
  training = true;
  private readonly _parameters = new Map<string, Tensor>();
  private readonly _buffers = new Map<string, { tensor: Tensor; persistent: boolean }>();
  private readonly _modules = new Map<string, Module>();

  /** Registers a trainable tensor under `name`; it is kept out of scopes and requires grad. */
  protected param(name: string, t: Tensor): Tensor {
    if (this._parameters.has(name) || this._modules.has(name))
      throw new Error(`${this.constructor.name}: '${name}' is registered twice`);
    keep(t);
    if (t.device !== 'meta' && !t.requiresGrad) t.requiresGrad_(true);
    this._parameters.set(name, t);
    return t;
  }
  /** Registers a non-trainable tensor (e.g. a positional table); `persistent` ones are in the state dict. */
  protected buffer(name: string, t: Tensor, persistent = true): Tensor {
    keep(t);
    this._buffers.set(name, { tensor: t, persistent });
    return t;
  }
  protected module<M extends Module>(name: string, m: M): M {
    if (this._modules.has(name) || this._parameters.has(name))
      throw new Error(`${this.constructor.name}: '${name}' is registered twice`);
    this._modules.set(name, m);
    return m;
  }

  children(): [string, Module][] {
    return [...this._modules];
  }
  /** Every parameter, depth first in registration order, with its dotted name. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this._parameters) out.push([prefix + n, p]);
    for (const [n, m] of this._modules) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }
  namedBuffers(prefix = '', persistentOnly = false): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, b] of this._buffers) if (!persistentOnly || b.persistent) out.push([prefix + n, b.tensor]);
    for (const [n, m] of this._modules) out.push(...m.namedBuffers(`${prefix}${n}.`, persistentOnly));
    return out;
  }
  /** Number of parameter elements. */
  parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.numel, 0);
  }

  /** Parameters and persistent buffers by key, in PyTorch's order (each module: params, buffers, children). */
  stateDict(prefix = ''): StateDict {
    const out: StateDict = new Map();
    for (const [n, p] of this._parameters) out.set(prefix + n, p);
    for (const [n, b] of this._buffers) if (b.persistent) out.set(prefix + n, b.tensor);
    for (const [n, m] of this._modules) for (const [k, v] of m.stateDict(`${prefix}${n}.`)) out.set(k, v);
    return out;
  }

  /**
   * Copies `sd` into this module's tensors (cast to each tensor's dtype and device). With `strict`
   * (the default) any missing key, unexpected key or shape mismatch is refused in one error that
   * names all of them; shape mismatches are refused even when not strict.
   */
  loadStateDict(sd: StateDict | Record<string, Tensor>, options: { strict?: boolean } = {}): LoadResult {
    const strict = options.strict ?? true;
    const given: StateDict = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !given.has(k));
    const unexpected = [...given.keys()].filter((k) => !own.has(k));
    const mismatched: string[] = [];
    for (const [k, t] of own) {
      const src = given.get(k);
      if (src !== undefined && !sameShape(src.shape, t.shape))
        mismatched.push(`${k}: checkpoint [${src.shape.join(', ')}] vs model [${t.shape.join(', ')}]`);
    }
    if (mismatched.length > 0 || (strict && (missing.length > 0 || unexpected.length > 0))) {
      const parts: string[] = [];
      if (missing.length > 0) parts.push(`missing keys (${missing.length}): ${missing.join(', ')}`);
      if (unexpected.length > 0) parts.push(`unexpected keys (${unexpected.length}): ${unexpected.join(', ')}`);
      if (mismatched.length > 0) parts.push(`shape mismatches (${mismatched.length}): ${mismatched.join('; ')}`);
      throw new StateDictError(
        `${this.constructor.name}.loadStateDict: ${parts.join(' | ')}`,
        missing,
        unexpected,
        mismatched,
      );
    }
    noGrad(() => {
      for (const [k, t] of own) {
        const src = given.get(k);
        if (src !== undefined) t.copy_(src);
      }
    });
    return { missing, unexpected };
  }

  train(on = true): this {
    this.training = on;
    for (const m of this._modules.values()) m.train(on);
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Sets requiresGrad on every parameter (false for frozen teachers). */
  requiresGrad_(on: boolean): this {
    for (const p of this.parameters()) p.requiresGrad_(on);
    return this;
  }

  /**
   * Moves/casts every parameter and buffer (floating ones only for a dtype, as PyTorch). The old
   * tensors are freed and the module's fields are pointed at the new ones.
   */
  to(target: { device?: Device; dtype?: DType }): this {
    const remap = new Map<Tensor, Tensor>();
    for (const t of [...this.parameters(), ...this.namedBuffers().map(([, b]) => b)]) {
      const floating =
        t.dtype === 'float32' || t.dtype === 'float16' || t.dtype === 'bfloat16' || t.dtype === 'float64';
      const spec = { device: target.device, dtype: floating ? target.dtype : undefined };
      const moved = noGrad(() => t.toOptions(spec));
      if (moved === t) continue;
      keep(moved);
      if (t.requiresGrad) moved.requiresGrad_(true);
      remap.set(t, moved);
    }
    this.remapTensors(remap);
    for (const t of remap.keys()) t.dispose();
    return this;
  }

  /** A deep copy with fresh parameter memory (EMA and target networks). */
  copy(): this {
    const remap = new Map<Tensor, Tensor>();
    noGrad(() => {
      for (const t of [...this.parameters(), ...this.namedBuffers().map(([, b]) => b)]) {
        const c = keep(t.clone());
        if (t.requiresGrad) c.requiresGrad_(true);
        remap.set(t, c);
      }
    });
    return deepCopyModule(this, remap, new Map()) as this;
  }

  /** Frees every parameter and buffer now. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
    for (const [, b] of this.namedBuffers()) b.dispose();
  }

  // Points the registries and any field that holds an old tensor at its replacement.
  private remapTensors(remap: Map<Tensor, Tensor>): void {
    for (const [n, p] of this._parameters) this._parameters.set(n, remap.get(p) ?? p);
    for (const [, b] of this._buffers) b.tensor = remap.get(b.tensor) ?? b.tensor;
    for (const key of Object.keys(this)) {
      const v = (this as Record<string, unknown>)[key];
      if (v instanceof Tensor && remap.has(v)) (this as Record<string, unknown>)[key] = remap.get(v);
    }
    for (const m of this._modules.values()) m.remapTensors(remap);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

// Copies a module object graph: modules are cloned, tensors replaced through `remap`, arrays and
// Maps of those rebuilt, anything else (numbers, configs, functions) shared.
function deepCopyModule(m: Module, remap: Map<Tensor, Tensor>, seen: Map<Module, Module>): Module {
  const done = seen.get(m);
  if (done) return done;
  const copy = Object.create(Object.getPrototypeOf(m) as object) as Module;
  seen.set(m, copy);
  const convert = (v: unknown): unknown => {
    if (v instanceof Tensor) return remap.get(v) ?? v;
    if (v instanceof Module) return deepCopyModule(v, remap, seen);
    if (Array.isArray(v)) return v.map(convert);
    if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, convert(x)]));
    if (
      v !== null &&
      typeof v === 'object' &&
      Object.getPrototypeOf(v) === Object.prototype &&
      'tensor' in v &&
      'persistent' in v
    ) {
      return { ...v, tensor: convert((v as { tensor: unknown }).tensor) };
    }
    return v;
  };
  for (const key of Object.keys(m))
    (copy as unknown as Record<string, unknown>)[key] = convert((m as unknown as Record<string, unknown>)[key]);
  return copy;
}

/** A list of modules registered as "0", "1", … (PyTorch's ModuleList keys). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[];
  constructor(items: M[]) {
    super();
    this.items = items.map((m, i) => this.module(String(i), m));
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    const m = this.items[i];
    if (m === undefined) throw new Error(`ModuleList: index ${i} out of range (${this.items.length} items)`);
    return m;
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}
